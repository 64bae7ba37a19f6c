"""Scratch (the search behind the library's refinement phase): refine a finished run's EMA nets.

    python benchmarks/patches/refine_from_workdir.py SRC_WORKDIR DST_WORKDIR --images=1500000 \
        --learning_rate=0.003 --beta_1=0.9 --train_generator --anchor_weight=5

Copies SRC to DST, then trains the EMA encoder (and with `--train_generator` the EMA generator)
on `pixel_weight * mean((G(E(x)) - x)^2) + latent_weight * mean((E(G(F(z))) - F(z))^2)`, with
`anchor_weight * mean((G(F(z)) - G_anchor(F(z)))^2)` holding G to the samples it drew before
(G_anchor: a frozen copy), Adam with a learning rate falling linearly to 0; then writes the
trained nets into DST's checkpoint, which `quality_curves.py --collect=DST` evaluates.
`ALAE.refinement_update` is this with pixel weight 1 and anchor weight 0.25 (Adam does not see the
common factor 20), no latent term, on the trained nets from their EMA copies.
benchmarks/quality.md ("A fifth search") quotes its runs; `--project=N` instead prints how often
the judge keeps the class when w is optimised per test image (N of them) for the pixel error
against the frozen G: the ceiling of E alone.
"""

import argparse
import pathlib
import shutil

import keras
import numpy as np
import tensorflow as tf

import alae_tf.startup  # noqa: F401
from alae_tf import features, losses
from alae_tf import workdir as workdirs
from alae_tf.checkpoint import CheckpointManager
from alae_tf.data.pipeline import to_pixel_range
from alae_tf.ema import ema_copy

parser = argparse.ArgumentParser()
parser.add_argument("src")
parser.add_argument("dst")
parser.add_argument("--images", type=int, default=600_000)
parser.add_argument("--batch_size", type=int, default=128)
parser.add_argument("--learning_rate", type=float, default=0.002)
parser.add_argument("--beta_1", type=float, default=0.9)
parser.add_argument("--pixel_weight", type=float, default=20.0)
parser.add_argument("--latent_weight", type=float, default=0.0)
parser.add_argument("--train_generator", action="store_true")
parser.add_argument("--anchor_weight", type=float, default=5.0)
parser.add_argument("--project", type=int, default=0)
parser.add_argument("--judge", default="runs/fmnist_classifier.keras")
parser.add_argument("--seed", type=int, default=0)
args = parser.parse_args()


def project(run):
    """Per-image w from E(x), 500 Adam steps on the pixel error through the frozen EMA G."""
    _, generator, encoder, _ = run.model.ema_nets
    test = run.load_split("test")
    x = to_pixel_range(test.images[: args.project], run.config.pixel_range)
    labels = np.asarray(test.labels[: args.project])
    judge = features.load_feature_extractor(args.judge)

    def kept(images):
        judged = features.classes_from_features(judge, judge(tf.clip_by_value(images, 0, 1), run.config.pixel_range))
        return float(np.mean(judged == labels))

    w = tf.Variable(encoder(x))
    print(f"E(x): {kept(generator(w)):.4f}; real images: {kept(x):.4f}")
    optimizer = keras.optimizers.Adam(0.01)
    for i in range(500):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(generator(w) - x))
        optimizer.apply_gradients([(tape.gradient(loss, w), w)])
        if i % 100 == 99:
            print(f"step {i + 1}: pixel error {float(loss):.5f}, class kept {kept(generator(w)):.4f}")


def refine(run):
    model, config = run.model, run.config
    mapping, generator, encoder, _ = model.ema_nets
    images = to_pixel_range(run.load_split("train").images, config.pixel_range).numpy()
    trained = [v for v in encoder.weights]
    if args.train_generator:
        anchor = ema_copy(generator, prefix="anchor")
        trained += list(generator.weights)
    steps = args.images // args.batch_size
    schedule = keras.optimizers.schedules.PolynomialDecay(args.learning_rate, steps, end_learning_rate=0.0)
    optimizer = keras.optimizers.Adam(schedule, beta_1=args.beta_1, beta_2=0.99, epsilon=1e-8)
    optimizer.build(trained)
    handles = [v.value for v in trained]

    @tf.function(jit_compile=True)
    def step(x, z):
        w = mapping(z)
        with tf.GradientTape() as tape:
            tape.watch(handles)
            loss = args.pixel_weight * losses.pixel_reconstruction(generator(encoder(x)), x)
            if args.latent_weight:
                loss += args.latent_weight * losses.latent_reconstruction(encoder(generator(w)), w)
            if args.train_generator:
                loss += args.anchor_weight * losses.pixel_reconstruction(generator(w), anchor(w))
        optimizer.apply_gradients(zip(tape.gradient(loss, handles), trained))
        return loss

    rng = np.random.default_rng(args.seed)
    per_epoch = len(images) // args.batch_size
    order = np.arange(len(images))
    for i in range(steps):
        if i % per_epoch == 0:
            rng.shuffle(order)
        batch = images[order[(i % per_epoch) * args.batch_size :][: args.batch_size]]
        loss = step(
            tf.constant(batch), tf.constant(rng.standard_normal((args.batch_size, model.latent_size)), tf.float32)
        )
        if i % 1000 == 0:
            print(i, float(loss), flush=True)
    # The trained nets follow their EMA copies, so the checkpoint is one model.
    for net, ema in ((model.encoder, encoder), (model.generator, generator)):
        for target, value in zip(net.weights, ema.weights):
            target.assign(value)
    CheckpointManager(run.workdir, model, config).save()


if __name__ == "__main__":
    src, dst = pathlib.Path(args.src), pathlib.Path(args.dst)
    if args.project:
        project(workdirs.open_run(src))
    else:
        shutil.rmtree(dst, ignore_errors=True)
        shutil.copytree(src, dst, ignore=shutil.ignore_patterns("report", "grids", "logs"))
        refine(workdirs.open_run(dst))

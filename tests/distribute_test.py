"""tf.distribute and mixed precision in the ALAE step: replicas match one device, float16 skips bad steps."""

import contextlib
import json
import subprocess
import sys
import zlib

import keras
import numpy as np
import pytest
import tensorflow as tf

from alae_tf import builders, configs, distribute, training
from alae_tf.model import loss_scale
from tests.conftest import REPO
from tests.training_test import needs_fmnist

CPUS = [d.name for d in tf.config.list_logical_devices("CPU")]
needs_two_cpus = pytest.mark.needs(len(CPUS) >= 2, "needs 2 logical CPU devices (set in tests/conftest.py)")

MLP = configs.PRESETS["mnist_mlp_tiny"].replace(batch_size=8)
# faces_tiny's nets at 8 px (levels 0, 1), style mixing on (the preset's 0.9).
STYLE = configs.PRESETS["faces_micro"].replace(
    name="faces_distribute_test", images_per_level=3_000, ema_halflife_images=100.0
)


def mirrored():
    return distribute.make_strategy("mirrored")  # both logical CPUs; one per process


@contextlib.contextmanager
def precision(policy):  # float64 too: then the nets compute in float64
    keras.mixed_precision.set_global_policy(policy)
    try:
        yield
    finally:
        keras.mixed_precision.set_global_policy("float32")


def away_from_the_constant_start(model):
    """Draw the generator's constant and noise strengths (and their EMA copies) as after training.

    The official initialisation (constant 1, noise strengths 0) hands block 0's
    first instance norm a constant map: its output and the gradients through
    it are float32 rounding noise scaled by 1/sqrt(eps), and Adam turns noise
    into full steps (block 0's bias_1, whose gradient is analytically zero
    there, flips sign between summation orders and moves 2 steps apart). That
    is the init's conditioning, not the distribution's, so float32 parity is
    checked from a well-conditioned state; float64 covers the official init.
    """
    for variable in model.weights:
        name = variable.path.removeprefix("ema_")
        if name == "generator/constant/const" or (name.startswith("generator/") and name.endswith("/weight")):
            values = np.random.default_rng(zlib.crc32(name.encode())).normal(size=variable.shape)
            variable.assign(values.astype(variable.dtype))


def train_steps(config, strategy, images, level=None, blend=1.0, prepare=None):
    """A model trained on `images` (one global batch per step) under `strategy` (None: one device).

    `prepare(model)`, when given, sets the starting state before the steps.
    """
    model = builders.build_compiled_model(config, seed=3, strategy=strategy)
    if prepare is not None:
        prepare(model)
    if level is not None:
        model.set_level(level)
        model.blend.assign(blend)
    batch = config.batch_size if level is None else config.batch_sizes[0]
    stream = tf.data.Dataset.from_tensor_slices(images).batch(batch, drop_remainder=True)
    if level is not None:
        stream = stream.map(model.at_current_resolution)
    model.fit(stream, epochs=1, verbose=0)
    return model


def weight(model, path):
    return next(v for v in model.weights if v.path == path).numpy()


def assert_same_state(got, want, step_tolerance=0.0):
    """Every weight of `got` within 1e-5 relative of `want` (its largest magnitude).

    `step_tolerance` adds an absolute slack (zero-initialised biases hold only
    a few Adam steps, so "relative" there means relative to the steps).
    """
    assert int(got.step.numpy()) == int(want.step.numpy()) > 0
    assert int(got.images_seen.numpy()) == int(want.images_seen.numpy())
    for a, b in zip(got.weights, want.weights, strict=True):
        assert a.path == b.path
        path, a, b = a.path, a.numpy().astype(np.float64), b.numpy().astype(np.float64)
        np.testing.assert_allclose(
            a, b, rtol=1e-5, atol=max(1e-5 * np.abs(b).max(), step_tolerance), err_msg=f"{path} {a.shape}"
        )


@needs_two_cpus
def test_mirrored_mlp_matches_one_device():
    images = np.random.default_rng(0).uniform(size=(4 * 8, 28, 28, 1)).astype("float32")
    one = train_steps(MLP, None, images)
    two = train_steps(MLP, mirrored(), images)
    assert_same_state(two, one)
    # The trained weights moved (the test compares training, not initial values).
    fresh = builders.build_compiled_model(MLP, seed=3)
    assert not np.allclose(fresh.encoder.weights[0].numpy(), one.encoder.weights[0].numpy())
    # Logged losses are the global batch's, not replica 0's.
    np.testing.assert_allclose(
        two.loss_trackers["loss_d"].result().numpy(), one.loss_trackers["loss_d"].result().numpy(), rtol=1e-5
    )


@needs_two_cpus
# float64 (the official init) in the slow set; float32 (a drawn constant) stays in the fast one.
@pytest.mark.parametrize("dtype", [pytest.param("float64", marks=pytest.mark.slow), "float32"])
def test_mirrored_style_matches_one_device_mid_fade_in(dtype):
    images = np.random.default_rng(1).uniform(-1, 1, size=(3 * 8, 8, 8, 3)).astype("float32")
    # float64 from the official init; float32 from a well-conditioned state (see the helper).
    prepare = None if dtype == "float64" else away_from_the_constant_start
    with precision(dtype):
        one = train_steps(STYLE, None, images, level=1, blend=0.5, prepare=prepare)
        two = train_steps(STYLE, mirrored(), images, level=1, blend=0.5, prepare=prepare)
    # Every weight within 1e-5 of its largest magnitude (measured: float64 1e-13,
    # float32 9e-6 relative at most). Zero-initialised biases hold only a few
    # Adam steps, so their slack is a thousandth of a step (lr) instead; in
    # float64 that also covers block 0's bias_1, whose gradient is analytically
    # zero at the official init and holds only rounding noise.
    assert_same_state(two, one, step_tolerance=1e-3 * STYLE.learning_rates[0])
    # The steps moved the trained weights (the test compares training, not initial values).
    with precision(dtype):
        fresh = builders.build_compiled_model(STYLE, seed=3)
    path = "generator/block_1/conv_2/kernel"
    assert not np.allclose(weight(fresh, path), weight(one, path))


@needs_two_cpus
def test_replicas_draw_distinct_rows_of_the_global_batch():
    strategy = mirrored()
    model = builders.build_compiled_model(MLP, seed=3, strategy=strategy)
    per_replica = strategy.run(lambda: model.draw_latents(4)[0])
    rows = [t.numpy() for t in strategy.experimental_local_results(per_replica)]
    whole = model.draw_latents(8)[0].numpy()
    assert not np.allclose(rows[0], rows[1])
    np.testing.assert_array_equal(np.concatenate(rows), whole)


@needs_two_cpus
def test_float16_inf_on_one_replica_skips_the_step_everywhere_and_halves_the_scale():
    images = np.random.default_rng(2).uniform(size=(2 * 8, 28, 28, 1)).astype("float32")
    images[12:] = np.inf  # batch 2, rows 4-7: replica 1 only
    strategy = mirrored()
    with precision("mixed_float16"), strategy.scope():
        model = builders.build_model(MLP, seed=3)
        # A small initial scale: the clean steps must not overflow on their own here.
        model.compile(
            *(
                keras.optimizers.LossScaleOptimizer(opt, initial_scale=16.0)
                for opt in builders.make_optimizers(MLP.learning_rate)
            )
        )
    assert model.mapping.dtype_policy.name == "mixed_float16"
    assert model.encoder(images[:2]).dtype == "float32"  # outputs leave the nets in float32
    ed_scale, fg_scale = (float(loss_scale(o).numpy()) for o in (model.ed_optimizer, model.fg_optimizer))

    stream = tf.data.Dataset.from_tensor_slices(images).batch(8)
    model.fit(stream.take(1), epochs=1, verbose=0)
    assert [float(loss_scale(o).numpy()) for o in (model.ed_optimizer, model.fg_optimizer)] == [ed_scale, fg_scale]
    discriminator_before = [v.numpy() for v in model.discriminator.trainable_variables]
    fg_before = [v.numpy() for v in model.fg_variables]

    history = model.fit(stream.skip(1), epochs=1, verbose=0)
    # Step I saw the inf on replica 1 only, yet skipped on both: D (moved by step I
    # alone) is unchanged on every replica, no weight is poisoned, the E/D scale halved.
    for got, want in zip(model.discriminator.trainable_variables, discriminator_before):
        for copy in strategy.experimental_local_results(got.value):
            np.testing.assert_array_equal(copy.numpy(), want)
    assert all(np.isfinite(v.numpy()).all() for v in model.weights)
    assert float(loss_scale(model.ed_optimizer).numpy()) == ed_scale / 2
    assert float(loss_scale(model.fg_optimizer).numpy()) == fg_scale
    # Steps II and III (fakes only) went ahead.
    assert any(not np.array_equal(v.numpy(), w) for v, w in zip(model.fg_variables, fg_before))
    # The skipped step is kept out of the running means: loss_d has no value this epoch.
    assert history.history["loss_d"][-1] == 0.0 and np.isfinite(history.history["loss_g"][-1])


_MIRRORED_TRAINING = """
import dataclasses, json, sys
import tensorflow as tf
tf.config.set_logical_device_configuration(
    tf.config.list_physical_devices("CPU")[0], [tf.config.LogicalDeviceConfiguration()] * 2)
from alae_tf import configs, training
config = configs.PRESETS["mnist_mlp_tiny"].replace(batch_size=8)
options = training.TrainOptions(workdir=sys.argv[1], train_images=64, strategy="mirrored", verbose=0,
                                checkpoint_every_images=32)
first = training.train(config, options)
resumed = training.train(config, dataclasses.replace(options, train_images=96))
print(json.dumps({"replicas": first.distribute_strategy.num_replicas_in_sync,
                  "first": int(first.images_seen.numpy()), "resumed_step": int(resumed.step.numpy())}))
"""


@needs_fmnist
def test_training_loop_runs_mirrored_and_resumes(tmp_path):
    # A fresh process, as the binary runs: the strategies of the tests above share this one.
    result = subprocess.run(
        [sys.executable, "-c", _MIRRORED_TRAINING, str(tmp_path)], capture_output=True, text=True, timeout=600, cwd=REPO
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report == {"replicas": 2, "first": 64, "resumed_step": 12}
    assert len([p for p in (tmp_path / "checkpoints").iterdir() if p.name.startswith("step-")]) == 3


def test_only_the_chief_writes():
    cluster = tf.train.ClusterSpec({"worker": ["a:1", "b:1"]})

    def strategy(task_type, task_id, spec=cluster):
        resolver = tf.distribute.cluster_resolver.SimpleClusterResolver(spec, task_type=task_type, task_id=task_id)
        return type("Strategy", (), {"cluster_resolver": resolver})()

    assert distribute.is_chief(None) and distribute.is_chief(tf.distribute.get_strategy())
    assert distribute.is_chief(strategy("worker", 0)) and not distribute.is_chief(strategy("worker", 1))
    with_chief = tf.train.ClusterSpec({"chief": ["c:1"], "worker": ["a:1"]})
    assert distribute.is_chief(strategy("chief", 0, with_chief))
    assert not distribute.is_chief(strategy("worker", 0, with_chief))


def test_jit_compile_is_refused_under_mirrored(tmp_path):
    with pytest.raises(ValueError, match="jit_compile"):
        training.train(
            MLP, training.TrainOptions(workdir=str(tmp_path), train_images=8, strategy="mirrored", jit_compile=True)
        )

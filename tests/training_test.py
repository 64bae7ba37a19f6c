"""The training loop: exact resume, checkpoints, grids, and what bad input does."""

import hashlib
import json
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

from alae_tf import configs, training
from alae_tf.checkpoint import CheckpointError
from alae_tf.refinement import REFINE_ADAM_BETA_1
from tests.conftest import REPO, needs_fashion_mnist

TINY = configs.PRESETS["mnist_mlp_tiny"]

needs_fmnist = needs_fashion_mnist


def run_training(workdir, images, config=TINY, **options):
    opts = dict(
        workdir=str(workdir), train_images=images, seed=7, checkpoint_every_images=64, log_every_steps=2, verbose=0
    )
    opts.update(options)
    return training.train(config, training.TrainOptions(**opts))


def weights(model):
    return [v.numpy() for v in model.weights]


@needs_fmnist
@pytest.mark.parametrize(
    "config",
    [
        TINY,
        TINY.replace(
            train_images=320,
            learning_rate_decay="cosine",
            learning_rate_decay_start=0.25,
            learning_rate_decay_final=0.1,
        ),
    ],
    ids=["constant", "decay"],
)
def test_resume_is_exact(tmp_path, config):
    # 160 images = 10 steps of 16, checkpoints every 4 steps: the stop falls mid-chunk (for
    # the decayed run, mid-decay: its schedule spans the config's 320 images).
    straight = run_training(tmp_path / "straight", 320, config)
    run_training(tmp_path / "resumed", 160, config)
    resumed = run_training(tmp_path / "resumed", 320, config)
    assert int(resumed.step.numpy()) == int(straight.step.numpy()) == 20
    for a, b, v in zip(weights(straight), weights(resumed), straight.weights):
        np.testing.assert_array_equal(a, b, err_msg=v.path)
    for opt_a, opt_b in ((straight.ed_optimizer, resumed.ed_optimizer), (straight.fg_optimizer, resumed.fg_optimizer)):
        for a, b in zip(opt_a.variables, opt_b.variables):
            np.testing.assert_array_equal(a.numpy(), b.numpy())
    # The last batch (starting at 304 of 320 images) trained at the decayed rate.
    want = config.learning_rate * config.learning_rate_decay_schedule().factor(304, 320)
    for optimizer in (resumed.ed_optimizer, resumed.fg_optimizer):
        assert float(optimizer.learning_rate.numpy()) == pytest.approx(want, rel=1e-6)


@needs_fmnist
def test_run_writes_checkpoints_grids_logs_and_config(tmp_path):
    run_training(tmp_path, 128, keep_checkpoints=2)
    ckpts = sorted(p.name for p in (tmp_path / "checkpoints").iterdir())
    assert ckpts == ["step-000000004", "step-000000008"]  # every 64 images, the last 2 kept
    meta = json.loads((tmp_path / "checkpoints" / ckpts[-1] / "meta.json").read_text())
    assert meta["images_seen"] == 128 and meta["config"]["name"] == TINY.name
    assert configs.ALAEConfig.from_json((tmp_path / "config.json").read_text()) == TINY
    for name in ("samples.png", "reconstructions.png", "grids/samples_000000128.png"):
        assert (tmp_path / name).stat().st_size > 100
    assert list((tmp_path / "logs").glob("events.out.tfevents.*"))
    assert not [p for p in tmp_path.rglob(".*.tmp")]  # no temp leftovers


def digest(folder):
    h = hashlib.sha256()
    for p in sorted(pathlib.Path(folder).rglob("*")):
        if p.is_file():
            h.update(p.name.encode() + p.read_bytes())
    return h.hexdigest()


@needs_fmnist
def test_other_architecture_is_refused_and_checkpoints_untouched(tmp_path):
    run_training(tmp_path, 32)
    before = digest(tmp_path / "checkpoints")
    other = TINY.replace(latent_size=TINY.latent_size * 2)
    with pytest.raises(CheckpointError, match="latent_size: 8 in the checkpoint vs 16 now"):
        training.train(other, training.TrainOptions(workdir=str(tmp_path), train_images=64, verbose=0))
    assert digest(tmp_path / "checkpoints") == before


def run_binary(module, *args):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=str(REPO))
    return subprocess.run(
        [sys.executable, "-m", module, *args], capture_output=True, text=True, env=env, cwd=REPO, timeout=300
    )


def test_binary_rejects_unknown_flag_values(tmp_path):
    result = run_binary("alae_tf.commands.train", "--preset=nope", f"--workdir={tmp_path}")
    assert result.returncode != 0
    assert "--preset" in result.stderr and "mnist_mlp" in result.stderr
    result = run_binary("alae_tf.commands.train", "--dataset=imagenet", f"--workdir={tmp_path}")
    assert result.returncode != 0 and "unknown --dataset form" in result.stderr
    result = run_binary("alae_tf.commands.train", "--batch_size=0", f"--workdir={tmp_path}")
    assert result.returncode != 0 and "batch_size" in result.stderr
    for flag, message in (
        ("--ema_halflife_images=0", "must be > 0"),
        ("--hidden_units=1024,x", "positive integers"),
        ("--learning_rate_decay=step", "learning_rate_decay"),
    ):
        result = run_binary("alae_tf.commands.train", flag, f"--workdir={tmp_path}")
        assert result.returncode != 0 and message in result.stderr, (flag, result.stderr[-500:])
    assert not (tmp_path / "checkpoints").exists()


def missing_idx(d):
    return f"idx:{d / 'missing'}"


def empty_folder(d):
    (d / "empty").mkdir()
    return f"folder:{d / 'empty'}"


def corrupt_folder(d):
    (d / "bad").mkdir()
    (d / "bad" / "x.png").write_bytes(b"not a png")
    return f"folder:{d / 'bad'}"


@pytest.mark.parametrize(
    "make_dataset, expect",
    [
        (missing_idx, "not found"),
        (empty_folder, "no PNG/JPEG"),
        (corrupt_folder, "x.png"),
    ],
)
def test_binary_bad_dataset_names_the_problem(tmp_path, make_dataset, expect):
    spec = make_dataset(tmp_path)
    workdir = tmp_path / "run"
    result = run_binary(
        "alae_tf.commands.train",
        "--preset=mnist_mlp_tiny",
        f"--dataset={spec}",
        f"--workdir={workdir}",
        "--train_images=32",
    )
    assert result.returncode != 0
    assert "alae-train: error:" in result.stderr and expect in result.stderr, result.stderr[-2000:]
    assert not (workdir / "checkpoints").exists()


@needs_fmnist
def test_binary_other_architecture_exits_nonzero(tmp_path):
    run_training(tmp_path, 32)
    before = digest(tmp_path / "checkpoints")
    result = run_binary(
        "alae_tf.commands.train",
        "--preset=mnist_mlp_tiny",
        "--latent_size=16",
        f"--workdir={tmp_path}",
        "--train_images=64",
    )
    assert result.returncode != 0 and "another architecture" in result.stderr
    assert digest(tmp_path / "checkpoints") == before


def test_evaluate_without_checkpoint_is_a_clear_error(tmp_path):
    result = run_binary("alae_tf.commands.evaluate", f"--workdir={tmp_path}")
    assert result.returncode != 0 and "train into it first" in result.stderr


@needs_fmnist
def test_mixed_bfloat16_trains_and_keeps_float32_weights(tmp_path):
    import keras

    model = run_training(tmp_path, 64, precision="mixed_bfloat16")
    assert keras.mixed_precision.global_policy().name == "float32"  # restored after the run
    assert all(v.dtype in ("float32", "int64") for v in model.weights)
    assert model.encoder.dense_layers[0].compute_dtype == "bfloat16"
    meta = json.loads((tmp_path / "checkpoints" / "step-000000004" / "meta.json").read_text())
    assert meta["images_seen"] == 64
    scalars = read_scalars(tmp_path / "logs")
    assert set(scalars) >= {"loss_d", "r1", "loss_g", "loss_ae", "images_per_second"}
    assert all(np.isfinite(v).all() and len(v) == 2 for v in scalars.values())  # logged at steps 2 and 4


def read_scalars(logdir):
    import tensorflow as tf

    scalars = {}
    for path in pathlib.Path(logdir).glob("events.out.tfevents.*"):
        for event in tf.compat.v1.train.summary_iterator(str(path)):
            for value in event.summary.value:
                if value.metadata.plugin_data.plugin_name == "scalars":
                    scalars.setdefault(value.tag, []).append(float(tf.make_ndarray(value.tensor)))
    return {k: np.array(v) for k, v in scalars.items()}


@needs_fmnist
def test_evaluate_metric_that_cannot_run_is_a_clear_error(tmp_path):
    run_training(tmp_path, 32)
    result = run_binary("alae_tf.commands.evaluate", f"--workdir={tmp_path}", "--metrics=fd")
    assert result.returncode != 0 and "alae-evaluate: error:" in result.stderr
    assert "feature network" in result.stderr and "Traceback" not in result.stderr


@needs_fmnist
@pytest.mark.parametrize("fraction", [0.5, 0.75], ids=["stopped_at_the_phase_start", "stopped_inside_the_phase"])
def test_a_run_with_a_refinement_phase_resumes_exactly(tmp_path, fraction):
    # 320 images = 20 steps of 16; the phase takes the last 10 (starts at 160 images) or 15 (at 80).
    config = TINY.replace(train_images=320, refine_fraction=fraction)
    straight = run_training(tmp_path / "straight", 320, config)
    run_training(tmp_path / "resumed", 160, config)
    resumed = run_training(tmp_path / "resumed", 320, config)
    assert straight.refining and resumed.refining
    for a, b, v in zip(weights(straight), weights(resumed), straight.weights):
        np.testing.assert_array_equal(a, b, err_msg=v.path)
    for opt_a, opt_b in ((straight.ed_optimizer, resumed.ed_optimizer), (straight.fg_optimizer, resumed.fg_optimizer)):
        for a, b in zip(opt_a.variables, opt_b.variables):
            np.testing.assert_array_equal(a.numpy(), b.numpy())
    # The last batch (from 304 images) trained at the phase's falling rate, with the phase's momentum.
    want = config.refinement().learning_rate_at(304, 320, 16)
    assert want == pytest.approx(config.refine_learning_rate / (320 / 16 * fraction))
    for optimizer in (resumed.ed_optimizer, resumed.fg_optimizer):
        assert float(optimizer.learning_rate.numpy()) == pytest.approx(want, rel=1e-6)
        assert optimizer.beta_1 == REFINE_ADAM_BETA_1
    # The anchor is G as the phase found it: the EMA G of the checkpoint at the phase's start.
    start = config.refinement().start(320, 16)
    entered = run_training(tmp_path / "to_start", start, config)
    for a, b in zip(resumed.anchor_generator.weights, entered.ema_generator.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


@needs_fmnist
def test_a_refinement_at_its_own_batch_size_resumes_exactly_and_covers_the_run(tmp_path):
    # The phase starts at 160 images (10 steps of 16), then runs at 48 images a step (8 of them anchored):
    # 4 steps reach 320. Stopped after its first step (208 images) and resumed, it ends where a straight run does.
    config = TINY.replace(train_images=320, refine_fraction=0.5, refine_batch_size=48, refine_anchor_samples=8)
    straight = run_training(tmp_path / "straight", 320, config)
    assert int(straight.images_seen.numpy()) == 160 + 4 * 48 and int(straight.step.numpy()) == 14
    run_training(tmp_path / "resumed", 200, config)  # stops after the first batch that reaches 200
    resumed = run_training(tmp_path / "resumed", 320, config)
    assert int(resumed.step.numpy()) == 14
    for a, b, v in zip(weights(straight), weights(resumed), straight.weights):
        np.testing.assert_array_equal(a, b, err_msg=v.path)
    # The last batch (from 304 images) trained at the rate the run's batches give it.
    want = config.refinement().learning_rate_at(304, 320, 16)
    for optimizer in (resumed.ed_optimizer, resumed.fg_optimizer):
        assert float(optimizer.learning_rate.numpy()) == pytest.approx(want, rel=1e-6)

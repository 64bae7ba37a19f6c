"""Shipped float16: `alae-train --precision=mixed_float16` trains, checkpoints its loss
scales in meta.json, and a resumed run continues from the saved scales (MLP and StyleALAE)."""

import json
import math
import os
import subprocess
import sys

import pytest

from tests.conftest import FACES, REPO, needs_faces, needs_fashion_mnist

INITIAL_SCALE = 2.0**15  # keras LossScaleOptimizer's initial_scale


def train_binary(workdir, *flags):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=str(REPO))
    result = subprocess.run(
        [sys.executable, "-m", "alae_tf.commands.train", f"--workdir={workdir}", "--precision=mixed_float16", *flags],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def latest_meta(workdir):
    folders = sorted((workdir / "checkpoints").iterdir())
    return json.loads((folders[-1] / "meta.json").read_text()), folders[-1]


def plant_loss_scales(workdir, scale):
    """Set the latest checkpoint's saved loss scales to `scale`, which no run reaches by itself.

    Dynamic loss scaling only halves (on a non-finite step) and doubles (after 2000 good ones)
    from 2^15, so its scales are powers of two; a scale of 1000 * 2^k after the resume can
    only have come from meta.json.
    """
    meta, folder = latest_meta(workdir)
    assert set(meta["loss_scales"]) == {"ed", "fg"}
    for saved in meta["loss_scales"].values():
        assert math.log2(saved["scale"]).is_integer()
        saved.update(scale=scale, counter=0)
    (folder / "meta.json").write_text(json.dumps(meta))
    return meta["step"]


def assert_resumed_from(workdir, first_step, scale):
    meta, _ = latest_meta(workdir)
    assert meta["step"] > first_step
    for name, saved in meta["loss_scales"].items():
        assert math.log2(saved["scale"] / scale).is_integer(), (name, saved)
        assert saved["counter"] <= 2 * (meta["step"] - first_step), (name, saved)  # two updates per step at most


@needs_fashion_mnist
def test_mlp_float16_run_saves_and_resumes_its_loss_scales(tmp_path):
    workdir = tmp_path / "mlp"
    flags = ("--preset=mnist_mlp_tiny", "--checkpoint_every_images=64", "--log_every_steps=2")
    train_binary(workdir, *flags, "--train_images=64")
    meta, _ = latest_meta(workdir)
    assert meta["step"] == 4 and all(s["scale"] <= INITIAL_SCALE for s in meta["loss_scales"].values())
    first = plant_loss_scales(workdir, 1000.0)
    result = train_binary(workdir, *flags, "--train_images=128")
    assert "resumed from" in result.stderr
    assert_resumed_from(workdir, first, 1000.0)


@pytest.mark.slow  # about a minute; the MLP float16 run and resume stays in the fast set
@needs_faces
def test_style_float16_run_resumes_in_a_fade_in_from_its_loss_scales(tmp_path):
    workdir = tmp_path / "faces"
    flags = (
        "--preset=faces_tiny",
        f"--dataset=folder:{FACES}",
        "--images_per_level=32",
        "--batch_size=8",
        "--checkpoint_every_images=40",
        "--log_every_steps=2",
    )
    train_binary(workdir, *flags, "--train_images=40")  # stops at 40 images: level 1, in its fade-in
    first = plant_loss_scales(workdir, 1000.0)
    result = train_binary(workdir, *flags, "--train_images=80")
    assert "resumed from" in result.stderr
    assert_resumed_from(workdir, first, 1000.0)
    meta, _ = latest_meta(workdir)
    assert meta["images_seen"] == 80
    # float16 trains: the steps were taken (a NaN forward pass would skip them all and halve the
    # scale every time, 1000 -> 1000 / 2^20 in these 5 steps).
    assert all(s["scale"] >= 1000.0 / 4 for s in meta["loss_scales"].values()), meta["loss_scales"]

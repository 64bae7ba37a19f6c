"""Shared helpers of the fault-injection suite: tiny runs in-process and through the binary."""

import os
import pathlib
import signal
import subprocess
import sys

import numpy as np

from alae_tf import configs, training
from alae_tf import workdir as workdir_lib
from tests.conftest import REPO

TINY = configs.PRESETS["mnist_mlp_tiny"]  # batch 16
BINARY_FLAGS = ("--preset=mnist_mlp_tiny", "--seed=7", "--checkpoint_every_images=32", "--verbose=0")


def train_tiny(workdir, images, config=TINY, **options):
    """`training.train` on the tiny MLP: checkpoints every 2 steps (32 images), keeps 3."""
    opts = dict(workdir=str(workdir), train_images=images, seed=7, checkpoint_every_images=32, verbose=0)
    opts.update(options)
    return training.train(config, training.TrainOptions(**opts))


def weights_of(workdir):
    """Every variable of the newest intact checkpoint in `workdir`, by path."""
    model = workdir_lib.open_run(workdir).model
    return {v.path: v.numpy() for v in model.weights}


def assert_same_weights(a, b):
    assert a.keys() == b.keys()
    for name in a:
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)


def checkpoints(workdir):
    folder = pathlib.Path(workdir) / "checkpoints"
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("step-")) if folder.is_dir() else []


def binary_command(workdir, *flags):
    return [sys.executable, "-m", "alae_tf.commands.train", f"--workdir={workdir}", *BINARY_FLAGS, *flags]


def binary_env():
    return dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=str(REPO))


def run_binary(workdir, *flags, timeout=300, preexec_fn=None, command=binary_command):
    return subprocess.run(
        command(workdir, *flags),
        capture_output=True,
        text=True,
        env=binary_env(),
        cwd=REPO,
        timeout=timeout,
        preexec_fn=preexec_fn,
    )


def start_binary(workdir, *flags):
    return subprocess.Popen(
        binary_command(workdir, *flags),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=binary_env(),
        cwd=REPO,
    )


def kill(process):
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=60)

"""Multi-worker training (`--strategy=multi_worker`) with worker processes on loopback.

Two `alae-train` workers, started by `alae_tf.local_cluster`, train with one shared
workdir; the results are compared with a one-process run of the same global batch,
tensor by tensor over the whole final checkpoint (nets, EMA nets, counters, both
optimizers' slots). Only the chief writes into the workdir; the other worker writes
only its own `.worker-1/` (TensorBoard logs). A worker killed mid-run stops the group,
and the restarted group resumes from the newest checkpoint.

The fast test (the MLP resumed after a checkpoint and after a killed worker) takes about
a minute on 2 cores; the StyleALAE across a fade-in, the bit-exact kill cases (chief and
worker) and the launcher-less peer failure are marked slow.
"""

import os
import pathlib
import random
import signal
import threading
import time

import numpy as np
import pytest
import tensorflow as tf

from alae_tf import builders, configs, local_cluster, training
from alae_tf.checkpoint import CheckpointManager
from tests.conftest import FACES, FACES_WHAT, REPO, needs_fashion_mnist
from tests.distribute_test import away_from_the_constant_start

MLP_FLAGS = ("--preset=mnist_mlp_tiny", "--batch_size=32", "--seed=7", "--checkpoint_every_images=96", "--verbose=0")
# faces_micro: 8 px, levels 0 (4 px, 32 images) and 1 (8 px, fading in over its first 16 images), batch 8.
STYLE_SEED = 3
STYLE_FLAGS = ("--preset=faces_micro", f"--seed={STYLE_SEED}", "--checkpoint_every_images=16", "--verbose=0")
TIMEOUT_S = 300


def env():
    return dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=str(REPO))


def two_workers(workdir, log_dir, *flags, max_restarts=0, on_group_start=None):
    """`local_cluster.run` with 2 workers; returns (exit status, the launcher's messages)."""
    messages = []
    status = local_cluster.run(
        [f"--workdir={workdir}", *flags],
        num_workers=2,
        max_restarts=max_restarts,
        log_dir=log_dir,
        env=env(),
        timeout=TIMEOUT_S,
        cwd=REPO,
        on_group_start=on_group_start,
        echo=messages.append,
    )
    return status, messages


def checkpoint_names(workdir):
    folder = pathlib.Path(workdir) / "checkpoints"
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("step-")) if folder.is_dir() else []


def newest_checkpoint(workdir):
    """Every tensor of the newest checkpoint of `workdir`, by checkpoint key."""
    reader = tf.train.load_checkpoint(
        str(pathlib.Path(workdir) / "checkpoints" / checkpoint_names(workdir)[-1] / "ckpt")
    )
    return {
        key: reader.get_tensor(key)
        for key, dtype in reader.get_variable_to_dtype_map().items()
        if dtype.is_floating or dtype.is_integer
    }


def assert_close_checkpoints(got, want, rtol=1e-5):
    """Every tensor of `got` within `rtol` of `want`, relative to the tensor's largest magnitude."""
    assert got.keys() == want.keys()
    assert len(got) > 50  # nets, EMA nets, counters and both optimizers' slots
    worst = 0.0
    for key in want:
        a, b = got[key].astype(np.float64), want[key].astype(np.float64)
        assert a.shape == b.shape, key
        scale = max(np.abs(b).max(initial=0.0), 1e-30)
        worst = max(worst, np.abs(a - b).max(initial=0.0) / scale)
        np.testing.assert_allclose(a, b, rtol=rtol, atol=rtol * scale, err_msg=key)
    return worst


def assert_same_checkpoints(got, want):
    assert got.keys() == want.keys()
    for key in want:
        np.testing.assert_array_equal(got[key], want[key], err_msg=key)


def files(workdir):
    """Every file under `workdir`, relative, but TensorBoard event files (one per process start)."""
    root = pathlib.Path(workdir)
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file() and ".tfevents." not in p.name}


def event_files(folder):
    return sorted(pathlib.Path(folder).glob("logs/events.out.tfevents.*"))


def assert_only_the_chief_wrote(multi, single, launches, same_chunks=True):
    """`multi` (a 2-worker workdir) holds what a one-process run writes, plus `.worker-1/logs` only.

    With `same_chunks` False (the runs checkpointed at other image counts), only the kinds of files compare.
    """
    worker_files = {f for f in files(multi) if f.startswith(".worker-1/")}
    assert worker_files == set(), worker_files  # no grids, checkpoints, config from the other worker
    assert {p.name for p in (multi / ".worker-1").iterdir()} == {"logs"}
    if same_chunks:
        assert files(multi) == files(single)
    else:
        kinds = {f.split("/")[0] for f in files(single)}
        assert {f.split("/")[0] for f in files(multi)} == kinds
    assert len(event_files(multi)) == launches  # one per chief start: the other worker logged elsewhere
    assert len(event_files(multi / ".worker-1")) == launches


def kill_worker_after_first_checkpoint(workdir, index, seed, killed):
    """`on_group_start` hook: in the first group, SIGKILL worker `index` soon after the group's first checkpoint."""

    def watch(group, before):
        deadline = time.monotonic() + TIMEOUT_S
        while checkpoint_names(workdir) == before and time.monotonic() < deadline:
            if any(p.poll() is not None for p in group.processes):
                return
            time.sleep(0.01)
        time.sleep(random.Random(seed).uniform(0.0, 0.3))  # mid-chunk, between checkpoints
        if group.processes[index].poll() is None:
            group.processes[index].send_signal(signal.SIGKILL)
            killed.append(checkpoint_names(workdir)[-1])

    def hook(group, attempt):
        if attempt == 0:
            threading.Thread(target=watch, args=(group, checkpoint_names(workdir)), daemon=True).start()

    return hook


def mlp_one_process(workdir, train_images):
    """The MLP run of `MLP_FLAGS` as one process on one device (in this process: no TF start-up)."""
    config = configs.PRESETS["mnist_mlp_tiny"].replace(batch_size=32, train_images=train_images)
    options = training.TrainOptions(
        workdir=str(workdir), train_images=train_images, seed=7, checkpoint_every_images=96, verbose=0
    )
    training.train(config, options)


@needs_fashion_mnist
def test_two_workers_resume_after_a_checkpoint_and_a_killed_worker_and_match_one_process(tmp_path):
    multi, single = tmp_path / "two_workers", tmp_path / "one_process"
    # 192 images (6 steps of 32, checkpoints at 3 and 6), then rerun to 320: the group resumes.
    status, messages = two_workers(multi, tmp_path / "logs", *MLP_FLAGS, "--train_images=192")
    assert status == 0, "\n".join(messages)
    assert checkpoint_names(multi) == ["step-000000003", "step-000000006"]
    # On the way to 320, worker 1 is killed mid-chunk after the first new checkpoint (step 9):
    # the launcher stops the chief, restarts the group, and it resumes from step 9.
    killed = []
    hook = kill_worker_after_first_checkpoint(multi, index=1, seed=0, killed=killed)
    status, messages = two_workers(
        multi, tmp_path / "logs-resumed", *MLP_FLAGS, "--train_images=320", max_restarts=1, on_group_start=hook
    )
    log = "\n".join(messages)
    assert status == 0, log
    assert killed == ["step-000000009"], log
    assert f"-{signal.SIGKILL.value}]" in log and "restart 1 of 1" in log
    for name in ("worker-0.log", "worker-0.restart-1.log"):
        assert "resumed from" in (tmp_path / "logs-resumed" / name).read_text()

    mlp_one_process(single, 320)
    assert checkpoint_names(multi) == checkpoint_names(single) == ["step-000000006", "step-000000009", "step-000000010"]
    want = newest_checkpoint(single)
    worst = assert_close_checkpoints(newest_checkpoint(multi), want)
    print(f"two workers vs one process: worst relative difference {worst:.2e}")
    # Training moved the weights: the comparison is of trained nets, not of initial values.
    fresh = builders.build_compiled_model(configs.PRESETS["mnist_mlp_tiny"], seed=7)
    kernel = next(v for v in fresh.weights if v.path == "encoder/dense_0/kernel").numpy()
    assert not np.allclose(kernel, want["model/encoder.Sdense_0.Skernel/.ATTRIBUTES/VARIABLE_VALUE"])
    assert_only_the_chief_wrote(multi, single, launches=3)


@pytest.mark.slow
@needs_fashion_mnist
@pytest.mark.parametrize("index", [0, 1], ids=["chief", "worker"])
def test_a_killed_worker_and_the_restarted_group_resume_bit_exactly(tmp_path, index):
    straight, killed_run, killed = tmp_path / "straight", tmp_path / "killed", []
    status, messages = two_workers(straight, tmp_path / "logs", *MLP_FLAGS, "--train_images=320")
    assert status == 0, "\n".join(messages)
    hook = kill_worker_after_first_checkpoint(killed_run, index=index, seed=index, killed=killed)
    status, messages = two_workers(
        killed_run, tmp_path / "logs-killed", *MLP_FLAGS, "--train_images=320", max_restarts=1, on_group_start=hook
    )
    assert status == 0 and killed == ["step-000000003"], "\n".join(messages)
    # The same cluster shape and reduction order as the uninterrupted run: bit-exact.
    assert_same_checkpoints(newest_checkpoint(killed_run), newest_checkpoint(straight))


def preseed_style(workdir):
    """A step-0 checkpoint of faces_micro drawn away from the constant start (see `away_from_the_constant_start`).

    Both runs resume from it, so float32 parity is checked from a well-conditioned state.
    """
    config = configs.PRESETS["faces_micro"]
    model = builders.build_compiled_model(config, seed=STYLE_SEED)
    away_from_the_constant_start(model)
    CheckpointManager(workdir, model, config).save()


@pytest.mark.slow
@pytest.mark.needs_path(FACES, FACES_WHAT)
def test_two_workers_style_across_a_fade_in_resume_and_match_one_process(tmp_path):
    multi, single = tmp_path / "two_workers", tmp_path / "one_process"
    preseed_style(multi)
    preseed_style(single)
    # 40 images: level 0 (32 images), then one step into level 1's fade-in; resumed mid-fade-in to 96.
    status, messages = two_workers(multi, tmp_path / "logs", *STYLE_FLAGS, "--train_images=40")
    assert status == 0, "\n".join(messages)
    assert checkpoint_names(multi)[-1] == "step-000000005"
    status, messages = two_workers(multi, tmp_path / "logs-resumed", *STYLE_FLAGS, "--train_images=96")
    assert status == 0, "\n".join(messages)
    config = configs.PRESETS["faces_micro"].replace(train_images=96)
    training.train(
        config,
        training.TrainOptions(
            workdir=str(single), train_images=96, seed=STYLE_SEED, checkpoint_every_images=16, verbose=0
        ),
    )
    assert checkpoint_names(multi)[-1] == checkpoint_names(single)[-1] == "step-000000012"
    worst = assert_close_checkpoints(newest_checkpoint(multi), newest_checkpoint(single))
    print(f"StyleALAE, two workers vs one process: worst relative difference {worst:.2e}")
    # The resumed run checkpoints at other image counts (chunks restart at 40): compare kinds of files.
    assert_only_the_chief_wrote(multi, single, launches=2, same_chunks=False)


@pytest.mark.slow
@needs_fashion_mnist
def test_without_a_launcher_the_survivor_of_a_killed_peer_ends_by_itself(tmp_path):
    """Nothing hangs: TF's coordination service notices the dead peer (heartbeats) and the survivor fails."""
    workdir = tmp_path / "w"
    command = local_cluster.worker_command([f"--workdir={workdir}", *MLP_FLAGS, "--train_images=32000"])
    group = local_cluster.WorkerGroup(command, 2, tmp_path / "logs", env(), cwd=REPO)
    try:
        deadline = time.monotonic() + TIMEOUT_S
        while not checkpoint_names(workdir):
            assert time.monotonic() < deadline and all(p.poll() is None for p in group.processes), group.tail(0)
            time.sleep(0.05)
        group.processes[1].send_signal(signal.SIGKILL)
        killed = time.monotonic()
        code = group.processes[0].wait(timeout=120)
        print(f"the chief ended {time.monotonic() - killed:.1f} s after its peer was killed, status {code}")
        assert code != 0
        assert "unhealthy" in group.tail(0, 20000) or "Unavailable" in group.tail(0, 20000)
    finally:
        group.stop()

"""SIGKILL at random moments of the train steps and of checkpoint writes, then resume: bit-exact.

Each round starts `alae-train` on the same workdir, waits until it is training (its first
new checkpoint or checkpoint temp folder shows up), kills it with SIGKILL after a random delay, and
notes whether a checkpoint write was cut (a `.step-*.tmp` folder left). The run checkpoints every other step,
so the kills land in steps and in writes alike; one more kill is timed to land in a write (it waits for
the write's temp folder and checks it is still there after the kill). After the last round a rerun
finishes the run, and its weights must equal those of an uninterrupted run array for array.
"""

import random
import time

import pytest

from tests.conftest import needs_fashion_mnist
from tests.reliability.conftest import assert_same_weights, kill, run_binary, start_binary, weights_of

pytestmark = needs_fashion_mnist

FLAGS = ("--train_images=3200", "--checkpoint_every_images=32", "--keep_checkpoints=3")


def listing(workdir):
    folder = workdir / "checkpoints"
    return set(p.name for p in folder.iterdir()) if folder.is_dir() else set()


def kill_at_random_moments(workdir, rounds, seed):
    """Returns how many kills cut a checkpoint write."""
    rng = random.Random(seed)
    cut_writes = 0
    for _ in range(rounds):
        before = listing(workdir)
        process = start_binary(workdir, *FLAGS)
        try:
            deadline = time.monotonic() + 120
            while listing(workdir) <= before and process.poll() is None:
                assert time.monotonic() < deadline, "the run never started training"
                time.sleep(0.01)
            assert process.poll() is None, f"the run ended before it was killed: {process.stderr.read()[-2000:]}"
            time.sleep(rng.uniform(0.0, 0.6))
        finally:
            kill(process)
        cut_writes += any(name.endswith(".tmp") for name in listing(workdir))
    return cut_writes


def kill_in_a_checkpoint_write(workdir, attempts=5):
    """Kill the run the moment a checkpoint write's temp folder shows up; True once a kill cut a write (the
    temp folder is still there after the kill). Retried a few times: a write can finish between polls."""
    for _ in range(attempts):
        before = {name for name in listing(workdir) if name.endswith(".tmp")}
        process = start_binary(workdir, *FLAGS)
        try:
            deadline = time.monotonic() + 120
            while not {n for n in listing(workdir) if n.endswith(".tmp")} - before and process.poll() is None:
                assert time.monotonic() < deadline, "the run never wrote a checkpoint"
        finally:
            kill(process)
        if {name for name in listing(workdir) if name.endswith(".tmp")} - before:
            return True
    return False


def kill_and_compare(tmp_path, rounds, seed):
    straight = tmp_path / "straight"
    assert run_binary(straight, *FLAGS).returncode == 0
    workdir = tmp_path / "killed"
    cut_writes = kill_at_random_moments(workdir, rounds, seed)
    # At least one kill in the middle of a checkpoint write, whatever the random ones hit.
    assert kill_in_a_checkpoint_write(workdir), "no kill landed in a checkpoint write"
    cut_writes += 1
    result = run_binary(workdir, *FLAGS)
    assert result.returncode == 0, result.stderr[-2000:]
    assert_same_weights(weights_of(workdir), weights_of(straight))
    return cut_writes


def test_kills_in_a_step_and_in_a_checkpoint_write_then_resume_is_bit_exact(tmp_path):
    kill_and_compare(tmp_path, rounds=1, seed=0)  # one kill at a random moment, one timed into a write


@pytest.mark.slow
def test_twenty_kills_at_random_moments_then_resume_is_bit_exact(tmp_path):
    cut_writes = kill_and_compare(tmp_path, rounds=20, seed=1)
    print(f"{cut_writes} of 20 kills cut a checkpoint write")

"""One writer per workdir: a second train is refused, naming the holder; a killed holder blocks nothing."""

import json
import os
import time

import pytest

from alae_tf.run_lock import WorkdirBusyError, WorkdirLock
from tests.conftest import needs_fashion_mnist
from tests.reliability.conftest import kill, run_binary, start_binary, train_tiny


def test_a_held_workdir_refuses_a_second_lock_naming_the_holder(tmp_path):
    with WorkdirLock(tmp_path):
        record = json.loads((tmp_path / ".lock").read_text())
        assert record["pid"] == os.getpid()
        with pytest.raises(WorkdirBusyError, match=f"in use by another run: pid {os.getpid()} on "):
            WorkdirLock(tmp_path).acquire()
    assert (tmp_path / ".lock").read_text() == ""  # released: emptied
    WorkdirLock(tmp_path).acquire().release()


@needs_fashion_mnist
def test_train_refuses_a_workdir_that_a_live_run_holds(tmp_path):
    with WorkdirLock(tmp_path), pytest.raises(WorkdirBusyError, match="Wait for it to finish"):
        train_tiny(tmp_path, 32)
    assert not (tmp_path / "checkpoints").exists()  # refused before anything was written


def wait_for_lock_record(workdir, process, seconds=120):
    lock = workdir / ".lock"
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if lock.exists() and lock.read_text().strip():
            return json.loads(lock.read_text())
        assert process.poll() is None, process.stderr.read()
        time.sleep(0.1)
    raise AssertionError("the first run never took the lock")


@needs_fashion_mnist
def test_second_binary_refused_and_a_killed_holder_does_not_block_the_rerun(tmp_path):
    first = start_binary(tmp_path, "--train_images=100000")
    try:
        holder = wait_for_lock_record(tmp_path, first)
        assert holder["pid"] == first.pid
        second = run_binary(tmp_path, "--train_images=64")
        assert second.returncode == 1
        assert f"is in use by another run: pid {first.pid} on " in second.stderr
    finally:
        kill(first)
    # The record of the killed run is still in the file, but the kernel dropped its lock.
    assert json.loads((tmp_path / ".lock").read_text())["pid"] == first.pid
    rerun = run_binary(tmp_path, "--train_images=64")
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    assert "taking over from a run that ended without releasing it" in rerun.stderr

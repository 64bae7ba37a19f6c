"""A checkpoint that cannot be written (full disk, read-only folder) fails cleanly: the message names the
path and the cause, no partial folder is left, and the previous checkpoint stays intact and resumable.

The full disk is a real one: a 1.5 MB tmpfs mounted for the test (the tiny run's checkpoint is 0.9 MB, so
the first fits and the second does not). Where mounting is not allowed, a per-process file-size limit
(RLIMIT_FSIZE, so writes fail with EFBIG) stands in for it.
"""

import contextlib
import os
import resource
import shutil
import signal
import subprocess
import sys

from tests.conftest import REPO, needs_fashion_mnist, permissions_hold
from tests.reliability.conftest import (
    assert_same_weights,
    binary_command,
    binary_env,
    checkpoints,
    run_binary,
    weights_of,
)

pytestmark = needs_fashion_mnist


def _mount(target, *options):
    return subprocess.run(["mount", *options, str(target)], capture_output=True).returncode == 0


@contextlib.contextmanager
def small_tmpfs(path, size):
    path.mkdir()
    if not _mount(path, "-t", "tmpfs", "-o", f"size={size}", "tmpfs"):
        yield None
        return
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True)


def no_partial_folders(workdir):
    return [p.name for p in (workdir / "checkpoints").iterdir() if p.name.startswith(".")]


def test_full_disk_fails_cleanly_and_keeps_the_previous_checkpoint(tmp_path):
    with small_tmpfs(tmp_path / "disk", "1500k") as disk:
        if disk is not None:
            workdir = disk / "run"
            result = run_binary(workdir, "--train_images=64")
        else:  # no mount here: a 1 MB file-size limit makes the second checkpoint's data file fail (EFBIG)
            workdir = tmp_path / "run"
            assert run_binary(workdir, "--train_images=32").returncode == 0

            def limit():
                signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG instead of a kill
                resource.setrlimit(resource.RLIMIT_FSIZE, (100_000, 100_000))

            result = run_binary(workdir, "--train_images=64", preexec_fn=limit)
        assert result.returncode == 1, result.stderr[-2000:]
        last = result.stderr.strip().splitlines()[-1]
        assert last.startswith(f"alae-train: error: cannot write checkpoint {workdir}/checkpoints/step-"), last
        assert "the newest checkpoint" in last and "is intact" in last and "Free disk space" in last
        assert checkpoints(workdir) == ["step-000000002"] and no_partial_folders(workdir) == []
        # Room again (the run moved to a roomy disk): it resumes from the intact checkpoint.
        roomy = tmp_path / "roomy"
        shutil.copytree(workdir, roomy)
    assert run_binary(roomy, "--train_images=64").returncode == 0
    straight = tmp_path / "straight"
    assert run_binary(straight, "--train_images=64").returncode == 0
    assert_same_weights(weights_of(roomy), weights_of(straight))


def test_read_only_checkpoint_folder_fails_cleanly(tmp_path):
    workdir = tmp_path / "run"
    assert run_binary(workdir, "--train_images=32").returncode == 0
    folder = workdir / "checkpoints"
    mounted = os.geteuid() == 0 and _mount(folder, "--bind", str(folder))
    if mounted:  # a read-only bind mount: read-only for root too
        assert _mount(folder, "-o", "remount,bind,ro")
    else:  # a chmod, which holds for root run without the capabilities that override it
        folder.chmod(0o555)
    try:
        result = run_binary(workdir, "--train_images=64", command=lambda *a: permissions_hold(binary_command(*a)))
    finally:
        if mounted:
            subprocess.run(["umount", "-l", str(folder)], capture_output=True)
        else:
            folder.chmod(0o755)
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith(f"alae-train: error: cannot write checkpoint {folder}/step-000000004"), last
    assert "Read-only file system" in last or "Permission denied" in last, last
    assert checkpoints(workdir) == ["step-000000002"] and no_partial_folders(workdir) == []
    assert run_binary(workdir, "--train_images=64").returncode == 0  # writable again: it resumes


def test_an_export_onto_a_full_disk_fails_cleanly_and_keeps_earlier_versions(tmp_path):
    workdir = tmp_path / "run"
    assert run_binary(workdir, "--train_images=32").returncode == 0
    env = binary_env()

    def export(output, version, preexec_fn=None):
        command = [
            sys.executable,
            "export/saved_model.py",
            f"--workdir={workdir}",
            f"--output_dir={output}",
            f"--version={version}",
        ]
        return subprocess.run(
            command, capture_output=True, text=True, env=env, cwd=REPO, timeout=300, preexec_fn=preexec_fn
        )

    with small_tmpfs(tmp_path / "disk", "2200k") as disk:
        output = (disk or tmp_path) / "out"
        assert export(output, 1).returncode == 0  # one version fits (about 1.5 MB of SavedModels)
        before = sorted(str(p.relative_to(output)) for p in output.rglob("*"))

        def limit():  # without a mount: a file-size limit stands in for the full disk
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
            resource.setrlimit(resource.RLIMIT_FSIZE, (20_000, 20_000))

        result = export(output, 2, preexec_fn=None if disk else limit)
        assert result.returncode == 1, result.stderr[-2000:]
        last = result.stderr.strip().splitlines()[-1]
        assert last.startswith(f"alae-export-saved-model: error: cannot write the export under {output}:"), last
        assert "earlier versions are untouched" in last
        # Version 1 is whole, version 2 left nothing behind (no temp folders either).
        assert sorted(str(p.relative_to(output)) for p in output.rglob("*")) == before

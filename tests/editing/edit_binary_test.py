"""`alae-edit` end to end, on a tiny saved MLP run (its refusals are tested on the library)."""

import os
import subprocess
import sys

import pytest

from alae_tf import workdir
from alae_tf.editing import load_directions, workflows
from tests.conftest import REPO
from tests.editing.workflows_test import mlp_workdir


@pytest.fixture(scope="module")
def run_path(tmp_path_factory):
    path = mlp_workdir(tmp_path_factory.mktemp("edit_binary"))
    workflows.build_directions(workdir.open_run(path), "pca", k=2)
    return path


def run_edit(*args):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=str(REPO))
    return subprocess.run(
        [sys.executable, "-m", "alae_tf.commands.edit", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=300,
    )


def test_directions_mode_saves_and_lists_them(run_path):
    result = run_edit("--mode=directions", f"--workdir={run_path}", "--method=linear", "--classes=0,2")
    assert result.returncode == 0, result.stderr
    path = run_path / "directions" / "linear_0_to_2.npz"
    assert f"{path}: linear_svm" in result.stdout and "held_out_accuracy=" in result.stdout
    assert load_directions(run_path / "directions")["linear_0_to_2"].provenance["source_class"] == 0


def test_edit_mode_writes_grids_of_a_split(run_path, tmp_path):
    out = tmp_path / "out"
    result = run_edit(
        "--mode=edit",
        f"--workdir={run_path}",
        "--directions=pca_0,pca_1",
        "--split=test",
        "--count=2",
        "--strengths=-1,0,1",
        f"--output_dir={out}",
    )
    assert result.returncode == 0, result.stderr
    assert f"wrote 15 files to {out}" in result.stdout and str(out / "pca_1.png") in result.stdout
    assert (out / "images" / "test_00001__pca_0__-1.png").is_file() and (out / "edits.json").is_file()


def test_a_refusal_exits_non_zero_and_writes_nothing(run_path, tmp_path):
    out = tmp_path / "out"
    result = run_edit("--mode=mix", f"--workdir={run_path}", "--split=test", "--count=2", f"--output_dir={out}")
    assert result.returncode != 0
    assert "alae-edit: error: --mode=mix needs style nets" in result.stderr and "MLP nets" in result.stderr
    assert not out.exists() and not (run_path / "edits").exists()

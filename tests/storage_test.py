"""Workdirs on any TF filesystem (`alae_tf.storage`), tested on TF's in-memory `ram://`, which goes through the
same `tf.io.gfile` paths as `gs://`: paths, atomic writes, and train / evaluate / export / edit end to end."""

import os
import pathlib
import subprocess
import sys
import uuid

import numpy as np
import pytest
import tensorflow as tf

from alae_tf import atomic, configs, storage
from tests.conftest import REPO
from tests.training_test import needs_fmnist


@pytest.fixture
def ram():
    """A fresh `ram://` folder, removed afterwards."""
    root = storage.path(f"ram://storage_test/{uuid.uuid4().hex[:8]}")
    yield root
    storage.rmtree(root, ignore_errors=True)


def test_local_paths_stay_pathlib_and_urls_become_gfile_paths():
    assert storage.path("runs/w") == pathlib.Path("runs/w")
    assert storage.path("file:///tmp/w") == pathlib.Path("/tmp/w")
    remote = storage.path("ram://bucket/w/")
    assert isinstance(remote, storage.GFilePath) and str(remote) == "ram://bucket/w"
    assert str(remote / "checkpoints" / "step-1") == "ram://bucket/w/checkpoints/step-1"
    assert remote.name == "w" and str(remote.parent) == "ram://bucket" and (remote / "a.json").stem == "a"
    assert str((remote / "x.tmp").with_suffix(".json")) == "ram://bucket/w/x.json"
    assert (remote / "a" / "b").is_relative_to(remote) and not storage.path("ram://bucket/ww").is_relative_to(remote)
    assert storage.is_remote("gs://b/w") and not storage.is_remote("file:///w") and not storage.is_remote("w")
    # No __fspath__: a remote path handed to open() or os.* fails instead of writing somewhere local.
    with pytest.raises(TypeError):
        open(remote)  # noqa: SIM115


def test_a_scheme_tensorflow_has_no_filesystem_for_is_refused():
    with pytest.raises(storage.StorageError, match=r"foo://x/w: TensorFlow has no filesystem for foo://"):
        storage.path("foo://x/w")


def test_gfile_paths_behave_like_pathlib(ram):
    folder = ram / "a" / "b"
    with pytest.raises(FileNotFoundError):
        folder.mkdir()  # no parent, no parents=True
    folder.mkdir(parents=True)
    folder.mkdir(parents=True, exist_ok=True)
    with pytest.raises(FileExistsError):
        folder.mkdir()
    (folder / "x.txt").write_text("héllo")
    (folder / "y.bin").write_bytes(b"\0\1")
    (folder / "sub").mkdir()
    assert (folder / "x.txt").read_text() == "héllo" and (folder / "y.bin").read_bytes() == b"\0\1"
    assert sorted(p.name for p in folder.iterdir()) == ["sub", "x.txt", "y.bin"]
    assert [p.name for p in folder.glob("*.txt")] == ["x.txt"]
    assert (folder / "sub").is_dir() and (folder / "x.txt").is_file() and not (folder / "z").exists()
    with pytest.raises(FileNotFoundError):
        (folder / "missing.json").read_text()
    moved = folder.rename(ram / "moved")  # a folder: copied, then deleted
    assert not folder.exists() and (moved / "x.txt").read_text() == "héllo" and (moved / "sub").is_dir()
    storage.rmtree(moved)
    assert not moved.exists()


def test_atomic_writes_on_object_storage_copy_into_place_with_the_commit_file_last(ram, monkeypatch):
    atomic.write_text(ram / "deep" / "config.json", "{}")
    assert (ram / "deep" / "config.json").read_text() == "{}"
    copied = []
    real_copy = tf.io.gfile.copy
    monkeypatch.setattr(
        tf.io.gfile, "copy", lambda a, b, overwrite=False: (copied.append(b), real_copy(a, b, overwrite))
    )
    final = ram / "checkpoints" / "step-000000001"
    with atomic.directory(final, commit_last=("meta.json",)) as tmp:
        (tmp / "meta.json").write_text("{}")
        (tmp / "ckpt.index").write_bytes(b"i")
        (tmp / "ckpt.data-00000-of-00001").write_bytes(b"d")
    assert copied[-1].endswith("/meta.json") and len(copied) == 3
    assert sorted(p.name for p in final.iterdir()) == ["ckpt.data-00000-of-00001", "ckpt.index", "meta.json"]
    # a failing block leaves the final folder as it was and no staging folder behind
    with pytest.raises(RuntimeError), atomic.directory(final, overwrite=True, commit_last=("meta.json",)) as tmp:
        (tmp / "meta.json").write_text('{"new": 1}')
        raise RuntimeError("killed")
    assert (final / "meta.json").read_text() == "{}"
    assert [p.name for p in final.parent.iterdir()] == ["step-000000001"]
    with pytest.raises(FileExistsError):
        with atomic.directory(final):
            pass


def _run_files(root):
    return {str(p)[len(str(root)) + 1 :] for p in (root / f for f in storage.walk_files(root))}


@needs_fmnist
def test_train_evaluate_export_and_edit_end_to_end_on_ram(ram, tmp_path, monkeypatch):
    from alae_tf import evaluation, training
    from alae_tf import workdir as workdir_lib
    from alae_tf.editing import workflows
    from alae_tf.export.saved_model import export_workdir

    monkeypatch.chdir(tmp_path)  # nothing may land in a local folder named after the scheme
    workdir = ram / "w"
    config = configs.PRESETS["mnist_mlp_tiny"]
    options = dict(workdir=str(workdir), checkpoint_every_images=128, verbose=0)
    training.train(config, training.TrainOptions(train_images=256, **options))
    model = training.train(config, training.TrainOptions(train_images=384, **options))  # resumes
    assert int(model.images_seen.numpy()) == 384
    files = _run_files(workdir)
    assert {"config.json", "samples.png", "checkpoints/step-000000024/meta.json"} <= files
    assert not any(name.startswith(".") or ".tmp" in name for name in files), files  # no staging left over
    assert any(name.startswith("logs/events.out.tfevents") for name in files)

    metrics = evaluation.evaluate(str(workdir), ["recon_mse"], split="test", batch_size=128)
    assert 0.0 < metrics["recon_mse"] < 1.0 and (workdir / "metrics.json").is_file()
    assert (workdir / "report" / "report.md").is_file()

    exported = export_workdir(str(workdir), str(ram / "export"), parts=["encoder"])
    path = str(exported.saved_models["encoder"])
    assert path.startswith("ram://") and tf.io.gfile.exists(f"{path}/saved_model.pb")
    encoder = tf.saved_model.load(path)
    w = encoder.signatures["encode_float"](image=tf.zeros((1, 28, 28, 1)))
    assert next(iter(w.values())).shape == (1, config.latent_size)

    run = workdir_lib.open_run(str(workdir))
    workflows.build_directions(run, "pca", split="test", k=2, max_images=256)
    assert sorted(p.name for p in (workdir / "directions").iterdir()) == ["pca_0.npz", "pca_1.npz"]
    pixels, names = workflows.select_images(run, None, split="test", count=2)
    written = workflows.apply_edits(run, pixels, names, workflows.select_directions(run, ["pca_0"]), [-1.0, 1.0])
    assert str(written.folder).startswith(str(workdir / "edits"))
    assert all(storage.path(str(p)).is_file() for p in written.files)
    assert not os.path.exists(tmp_path / "ram:") and not os.listdir(tmp_path)


def test_the_binaries_refuse_a_scheme_without_a_filesystem(tmp_path):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=str(REPO))
    result = subprocess.run(
        [sys.executable, "-m", "alae_tf.commands.train", "--preset=mnist_mlp_tiny", "--workdir=foo://bucket/w"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=300,
    )
    assert result.returncode != 0
    assert "--workdir=foo://bucket/w: foo://bucket/w: TensorFlow has no filesystem for foo://" in result.stderr
    assert not any(tmp_path.iterdir())
    np.testing.assert_equal(result.stdout, "")

"""Relative data paths of a spec: against --data_dir, else the current folder, else the checkout."""

import os

import numpy as np
import pytest
from PIL import Image

from alae_tf.data import load_images, paths, write_tfrecords
from tests.conftest import FACES, FACES_WHAT, REPO, require_path


def _folder(root, count=2):
    root.mkdir(parents=True)
    for i in range(count):
        Image.fromarray(np.full((4, 4), 40 * i, np.uint8)).save(root / f"{i}.png")
    return root


def test_the_checkout_is_found():
    assert paths.checkout_root() == REPO


def test_absolute_paths_and_urls_are_kept(tmp_path):
    assert paths.resolve(str(tmp_path), data_dir="/elsewhere") == str(tmp_path)
    assert paths.resolve("gs://bucket/faces", data_dir="/elsewhere") == "gs://bucket/faces"
    assert paths.resolve("") == ""


def test_data_dir_is_the_base_of_a_relative_path(tmp_path, monkeypatch):
    _folder(tmp_path / "data" / "faces")
    _folder(tmp_path / "cwd" / "faces", count=3)  # the same name in the cwd loses to --data_dir
    monkeypatch.chdir(tmp_path / "cwd")
    assert paths.resolve("faces", data_dir=str(tmp_path / "data")) == str(tmp_path / "data" / "faces")
    assert len(load_images("folder:faces", data_dir=str(tmp_path / "data"))) == 2
    assert len(load_images("folder:faces")) == 3


def test_the_current_folder_comes_before_the_checkout(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _folder(tmp_path / "flags")  # a folder named like one of the checkout's
    assert paths.resolve("flags") == "flags"


def test_a_path_missing_from_the_current_folder_is_read_from_the_checkout(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert paths.resolve("flags") == str(REPO / "flags")
    assert paths.resolve("no/such/folder") == "no/such/folder"  # found nowhere: the error names it as given


def test_tfrecord_globs(tmp_path, monkeypatch):
    write_tfrecords(str(tmp_path / "records" / "train"), np.zeros((2, 4, 4, 1), np.uint8))
    monkeypatch.chdir(tmp_path)
    assert len(load_images("tfrecord:records/train*")) == 2
    monkeypatch.chdir(tmp_path / "records")
    assert len(load_images("tfrecord:records/{split}*", data_dir=str(tmp_path))) == 2
    assert paths.resolve("records/{split}*", data_dir=str(tmp_path)) == os.path.join(tmp_path, "records/{split}*")


@pytest.mark.parametrize("cwd", ["/", "tmp"])
def test_the_faces_tiny_preset_path_works_from_any_folder(cwd, tmp_path, monkeypatch):
    require_path(FACES, FACES_WHAT)
    monkeypatch.chdir(tmp_path if cwd == "tmp" else cwd)
    faces = load_images("folder:../shared/data/faces128", resolution=8, channels=3)
    assert faces.images.shape[1:] == (8, 8, 3) and len(faces) == 146

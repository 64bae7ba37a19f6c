"""The tfds source, on tiny datasets prepared locally: never any network."""

import socket
import time

import numpy as np
import pytest

from alae_tf.data import DatasetError, load_images

from . import tiny_tfds_builder


class NetworkUsed(BaseException):
    """BaseException, so that no `except Exception` in tfds or the loader can swallow it."""


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    """Any DNS lookup or connection fails the test instead of hanging on retries."""

    def refuse(*args, **kwargs):
        raise NetworkUsed(f"network access attempted: {args[:2]}")

    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("tfds")
    for builder in (tiny_tfds_builder.AlaeTinyImages, tiny_tfds_builder.AlaeTinyVarsize):
        builder(data_dir=str(root)).download_and_prepare()
    return str(root)


def test_reads_prepared_dataset_exactly(data_dir):
    loaded = load_images("tfds:alae_tiny_images", "train", data_dir=data_dir, channels=3)
    images, labels = tiny_tfds_builder.arrays("train")
    np.testing.assert_array_equal(loaded.images, images)
    np.testing.assert_array_equal(loaded.labels, labels)
    assert loaded.labels.dtype == np.int64
    assert loaded.name == "tfds:alae_tiny_images/train"


def test_test_split_falls_back_to_validation(data_dir):
    loaded = load_images("tfds:alae_tiny_images:1.0.0", "test", data_dir=data_dir, channels=3)
    np.testing.assert_array_equal(loaded.images, tiny_tfds_builder.arrays("validation")[0])


def test_resize_and_grey(data_dir):
    loaded = load_images("tfds:alae_tiny_images", data_dir=data_dir, resolution=16, channels=1)
    assert loaded.images.shape == (6, 16, 16, 1)


def test_variable_size_images(data_dir):
    loaded = load_images("tfds:alae_tiny_varsize", data_dir=data_dir, resolution=5, channels=3)
    assert loaded.images.shape == (3, 5, 5, 3) and loaded.labels is None
    # The 8x8 first image, Lanczos-resized, matches a direct resize of the source array.
    from alae_tf.data import image_ops

    np.testing.assert_array_equal(loaded.images[0], image_ops.fit(tiny_tfds_builder.varsize_images()[0], 5, 3))
    with pytest.raises(DatasetError, match="pass a resolution"):
        load_images("tfds:alae_tiny_varsize", data_dir=data_dir)


def test_missing_dataset_fails_fast_with_the_fix(tmp_path):
    start = time.monotonic()
    with pytest.raises(DatasetError, match=rf"tfds build some_missing_name --data_dir={tmp_path}"):
        load_images("tfds:some_missing_name", data_dir=str(tmp_path))
    # A registered tfds name with no data: tfds' own download would hang on DNS.
    (tmp_path / "mnist").mkdir()
    with pytest.raises(DatasetError, match="tfds build mnist"):
        load_images("tfds:mnist", data_dir=str(tmp_path))
    assert time.monotonic() - start < 10


def test_missing_split_and_community_names(data_dir):
    with pytest.raises(DatasetError, match=r"prepared splits: \['train'\]"):
        load_images("tfds:alae_tiny_varsize", "test", data_dir=data_dir, resolution=4)
    with pytest.raises(DatasetError, match="community dataset"):
        load_images("tfds:someone:their_set", data_dir=data_dir)

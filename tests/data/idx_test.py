"""IDX parsing, directory discovery, and Fashion-MNIST from the Debian package."""

import gzip
import struct

import numpy as np
import pytest

from alae_tf.data import DatasetError, load_images
from tests.conftest import needs_fashion_mnist


def idx_bytes(array: np.ndarray) -> bytes:
    """Encodes `array` as IDX, independently of the reader (uint8 and big-endian int32 only)."""
    code = {np.dtype(np.uint8): 0x08, np.dtype(np.int32): 0x0C}[array.dtype]
    header = bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


def write(path, data: bytes, gz: bool):
    if gz:
        data = gzip.compress(data)
        path = str(path) + ".gz"
    with open(path, "wb") as f:
        f.write(data)


@pytest.fixture
def tiny():
    rng = np.random.default_rng(0)
    return {
        "train": (rng.integers(0, 256, (5, 4, 3), dtype=np.uint8), np.arange(5) % 3),
        "t10k": (rng.integers(0, 256, (2, 4, 3), dtype=np.uint8), np.array([7, 1])),
    }


@pytest.mark.parametrize("gz", [False, True])
def test_idx_round_trip(tmp_path, tiny, gz):
    for prefix, (images, labels) in tiny.items():
        write(tmp_path / f"{prefix}-images-idx3-ubyte", idx_bytes(images), gz)
        write(tmp_path / f"{prefix}-labels-idx1-ubyte", idx_bytes(labels.astype(np.uint8)), gz)
    for split, prefix in [("train", "train"), ("test", "t10k")]:
        images, labels = tiny[prefix]
        loaded = load_images(f"idx:{tmp_path}", split)
        assert loaded.images.dtype == np.uint8 and loaded.labels.dtype == np.int64
        np.testing.assert_array_equal(loaded.images, images[..., None])
        np.testing.assert_array_equal(loaded.labels, labels)
        assert loaded.name == f"idx:{tmp_path}/{split}"


def test_idx_discovery_prefix_no_labels_and_resize(tmp_path, tiny):
    images, _ = tiny["train"]
    write(tmp_path / "emnist-letters-train-images-idx3-ubyte", idx_bytes(images), gz=True)
    loaded = load_images(f"idx:{tmp_path}", resolution=8, channels=3)
    assert loaded.labels is None
    assert loaded.images.shape == (5, 8, 8, 3)
    # Grey -> RGB repeats the value into all three channels.
    np.testing.assert_array_equal(loaded.images[..., 0], loaded.images[..., 2])


def test_idx_reads_big_endian_wider_types(tmp_path):
    from alae_tf.data.idx import read_idx

    values = np.array([[1, -2, 70000], [0, 2**31 - 1, -(2**31)]], np.int32)
    write(tmp_path / "x.idx", idx_bytes(values), gz=False)
    np.testing.assert_array_equal(read_idx(str(tmp_path / "x.idx")), values)


@pytest.mark.parametrize("gz", [False, True])
def test_truncated_file_is_a_dataset_error(tmp_path, tiny, gz):
    data = idx_bytes(tiny["train"][0])[:-7]
    if gz:
        data = gzip.compress(data)[:-12]  # a cut gzip stream as well as a short payload
    with open(tmp_path / "train-images-idx3-ubyte", "wb") as f:
        f.write(data)
    with pytest.raises(DatasetError, match="train-images-idx3-ubyte"):
        load_images(f"idx:{tmp_path}")


def test_bad_magic_and_trailing_bytes(tmp_path, tiny):
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(b"\x89PNG" + idx_bytes(tiny["train"][0])[4:])
    with pytest.raises(DatasetError, match="not an IDX file"):
        load_images(f"idx:{tmp_path}")
    path.write_bytes(idx_bytes(tiny["train"][0]) + b"\0")
    with pytest.raises(DatasetError, match="longer than its header"):
        load_images(f"idx:{tmp_path}")


def test_label_count_mismatch(tmp_path, tiny):
    write(tmp_path / "train-images-idx3-ubyte", idx_bytes(tiny["train"][0]), gz=False)
    write(tmp_path / "train-labels-idx1-ubyte", idx_bytes(np.zeros(4, np.uint8)), gz=False)
    with pytest.raises(DatasetError, match="one integer label per image"):
        load_images(f"idx:{tmp_path}")


def test_missing_dir_and_missing_split_name_the_fix(tmp_path, tiny):
    with pytest.raises(DatasetError, match=r"not a directory.*--dataset=idx:DIR"):
        load_images(f"idx:{tmp_path / 'nowhere'}")
    write(tmp_path / "train-images-idx3-ubyte", idx_bytes(tiny["train"][0]), gz=False)
    with pytest.raises(DatasetError, match=r"split 'test' not found.*t10k-images-idx3-ubyte"):
        load_images(f"idx:{tmp_path}", "test")


def test_fashion_mnist_missing_dir_names_the_package(tmp_path):
    with pytest.raises(DatasetError, match="apt-get install dataset-fashion-mnist"):
        load_images("fashion_mnist", data_dir=str(tmp_path))


@needs_fashion_mnist
def test_fashion_mnist_from_debian_package():
    for split, n in [("train", 60000), ("test", 10000)]:
        loaded = load_images("fashion_mnist", split)
        assert loaded.images.shape == (n, 28, 28, 1)
        assert loaded.images.dtype == np.uint8
        assert loaded.labels.shape == (n,) and loaded.labels.dtype == np.int64
        np.testing.assert_array_equal(np.unique(loaded.labels), np.arange(10))
        assert loaded.images.max() == 255 and loaded.images.min() == 0
        assert loaded.name == f"fashion_mnist/{split}"

"""Image folders: real faces, mixed sizes and modes, split subfolders, and bad input."""

import os

import numpy as np
import pytest
from PIL import Image

from alae_tf.data import DatasetError, load_images
from tests.conftest import FACES, needs_faces


@needs_faces
def test_real_faces_at_32_px_rgb():
    loaded = load_images(f"folder:{FACES}", resolution=32, channels=3)
    assert loaded.images.shape == (146, 32, 32, 3) and loaded.images.dtype == np.uint8
    assert loaded.labels is None
    # Sorted order: the first image is 00000.png, downscaled.
    first = np.asarray(Image.open(os.path.join(FACES, "00000.png")).convert("RGB"), np.float64)
    block_mean = first.reshape(32, 4, 32, 4, 3).mean(axis=(1, 3))
    assert np.abs(loaded.images[0] - block_mean).mean() < 6
    # Native size without resolution, since all faces are 128x128.
    assert load_images(f"folder:{FACES}", channels=1).images.shape == (146, 128, 128, 1)


def make_mixed_folder(root):
    rng = np.random.default_rng(0)
    os.makedirs(root / "sub" / ".hidden")
    Image.fromarray(rng.integers(0, 256, (40, 40, 3), dtype=np.uint8)).save(root / "a.png")
    Image.fromarray(rng.integers(0, 256, (9, 9), dtype=np.uint8), "L").save(root / "b_grey.png")
    Image.fromarray(rng.integers(0, 256, (16, 16, 4), dtype=np.uint8), "RGBA").save(root / "c.PNG")
    Image.fromarray(rng.integers(0, 256, (30, 50, 3), dtype=np.uint8)).save(root / "sub" / "d.jpg")
    palette = Image.fromarray(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)).convert("P")
    palette.save(root / "e.png")
    (root / "notes.txt").write_text("not an image, ignored")
    (root / "sub" / ".hidden" / "x.png").write_bytes(b"ignored: hidden folder")
    (root / "._a.png").write_bytes(b"ignored: macOS resource fork")
    return 5


@pytest.mark.parametrize("channels", [1, 3])
def test_mixed_sizes_and_modes_come_out_at_the_requested_shape(tmp_path, channels):
    n = make_mixed_folder(tmp_path)
    for split in ("train", "test"):  # no split folders: every split reads everything
        loaded = load_images(f"folder:{tmp_path}", split, resolution=12, channels=channels)
        assert loaded.images.shape == (n, 12, 12, channels)
        assert loaded.name == f"folder:{tmp_path}/{split}"


def test_mixed_sizes_without_resolution_ask_for_one(tmp_path):
    make_mixed_folder(tmp_path)
    with pytest.raises(DatasetError, match="pass a resolution"):
        load_images(f"folder:{tmp_path}", channels=3)


def test_split_subfolders(tmp_path):
    for split, n in [("train", 3), ("test", 2)]:
        os.makedirs(tmp_path / split)
        for i in range(n):
            image = Image.fromarray(np.full((6, 6), i * 50 + n, np.uint8))
            image.save(tmp_path / split / f"{i}.png")
    train = load_images(f"folder:{tmp_path}", "train", resolution=6)
    test = load_images(f"folder:{tmp_path}", "test", resolution=6)
    np.testing.assert_array_equal(train.images[:, 0, 0, 0], [3, 53, 103])
    np.testing.assert_array_equal(test.images[:, 0, 0, 0], [2, 52])
    with pytest.raises(DatasetError, match="no validation/ folder"):
        load_images(f"folder:{tmp_path}", "validation", resolution=6)


def test_class_subfolders_give_labels_and_class_names(tmp_path):
    # ImageFolder convention: ROOT/<class>/... -> the class's index in sorted name order.
    for cls, n in [("sneaker", 2), ("bag", 1), ("coat", 2)]:
        os.makedirs(tmp_path / "train" / cls)
        for i in range(n):
            Image.fromarray(np.full((6, 6), 10 * i, np.uint8)).save(tmp_path / "train" / cls / f"{i}.png")
    image_set = load_images(f"folder:{tmp_path}", "train", resolution=6)
    assert image_set.class_names == ("bag", "coat", "sneaker")
    np.testing.assert_array_equal(image_set.labels, [0, 1, 1, 2, 2])  # sorted paths: bag/, coat/, sneaker/
    # One image beside the class folders: not the convention, so no labels.
    Image.fromarray(np.zeros((6, 6), np.uint8)).save(tmp_path / "train" / "loose.png")
    image_set = load_images(f"folder:{tmp_path}", "train", resolution=6)
    assert image_set.labels is None and image_set.class_names is None


def test_corrupt_png_names_the_file(tmp_path):
    Image.fromarray(np.zeros((4, 4), np.uint8)).save(tmp_path / "good.png")
    bad = tmp_path / "broken.png"
    bad.write_bytes(np.random.default_rng(0).integers(0, 256, 300, dtype=np.uint8).tobytes())
    with pytest.raises(DatasetError, match="broken.png"):
        load_images(f"folder:{tmp_path}", resolution=4)
    # A truncated PNG, whose header is fine, is caught as well.
    data = (tmp_path / "good.png").read_bytes()
    bad.write_bytes(data[: len(data) // 2])
    with pytest.raises(DatasetError, match="broken.png"):
        load_images(f"folder:{tmp_path}", resolution=4)


def test_empty_and_missing_folders(tmp_path):
    (tmp_path / "readme.txt").write_text("no images here")
    with pytest.raises(DatasetError, match="no PNG/JPEG images"):
        load_images(f"folder:{tmp_path}", resolution=8)
    with pytest.raises(DatasetError, match="does not exist"):
        load_images(f"folder:{tmp_path / 'missing'}", resolution=8)
    with pytest.raises(DatasetError, match="is not a folder"):
        load_images(f"folder:{tmp_path / 'readme.txt'}", resolution=8)

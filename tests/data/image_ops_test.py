"""Crop, resize and channel conversions shared by all sources."""

import numpy as np
import pytest
from PIL import Image

from alae_tf.data import DatasetError, image_ops


def test_grey_to_rgb_repeats_and_rgb_to_grey_is_luminance():
    grey = np.arange(12, dtype=np.uint8).reshape(3, 4, 1) * 20
    rgb = image_ops.fit(grey, None, 3)
    assert rgb.shape == (3, 4, 3)
    for c in range(3):
        np.testing.assert_array_equal(rgb[..., c], grey[..., 0])
    pure = np.zeros((1, 3, 3), np.uint8)
    pure[0, 0, 0] = pure[0, 1, 1] = pure[0, 2, 2] = 255  # red, green, blue pixels
    np.testing.assert_array_equal(image_ops.fit(pure, None, 1)[0, :, 0], [76, 150, 29])


def test_alpha_is_dropped_not_composited():
    rgba = np.zeros((2, 2, 4), np.uint8)
    rgba[..., :3] = (200, 100, 50)  # fully transparent: compositing on black would give 0
    expected = np.broadcast_to(np.array([200, 100, 50], np.uint8), (2, 2, 3))
    np.testing.assert_array_equal(image_ops.fit(rgba, None, 3), expected)


def test_center_crop_then_resize():
    wide = np.zeros((4, 8, 1), np.uint8)
    wide[:, 2:6] = 255  # the centered 4x4 square is white, the sides are black
    np.testing.assert_array_equal(image_ops.fit(wide, 4, 1), np.full((4, 4, 1), 255))
    tall = np.zeros((8, 4, 3), np.uint8)
    tall[2:6] = 255
    assert image_ops.fit(tall, 2, 3).min() == 255
    # Downscaling is antialiased: a 1-pixel checkerboard averages to mid grey.
    checker = (np.indices((16, 16)).sum(0) % 2 * 255).astype(np.uint8)[..., None]
    assert np.all(np.abs(image_ops.fit(checker, 4, 1).astype(int) - 128) <= 2)


def test_16_bit_grey_keeps_high_byte():
    image = Image.fromarray(np.array([[0, 256, 65535]], np.uint16))
    assert image.mode.startswith("I")
    np.testing.assert_array_equal(image_ops.fit(image, None, 1)[..., 0], [[0, 1, 255]])


def test_fit_array_unchanged_when_nothing_to_do_and_checks_dtype():
    images = np.zeros((3, 5, 5, 1), np.uint8)
    assert image_ops.fit_array(images, 5, 1) is images
    assert image_ops.fit_array(images, 7, 3).shape == (3, 7, 7, 3)
    with pytest.raises(DatasetError, match="uint8"):
        image_ops.fit_array(images.astype(np.float32), None, 1)


@pytest.mark.parametrize("resolution, channels", [(0, 1), (-3, 1), (2.5, 1), (None, 2), (8, 4)])
def test_bad_options(resolution, channels):
    with pytest.raises(DatasetError):
        image_ops.check_options(resolution, channels)

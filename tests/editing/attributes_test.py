"""Per-image attributes: the built-in statistics and the CSV reader."""

import numpy as np
import pytest

from alae_tf.editing import EditingError, brightness, ink_mass, read_attribute_csv


def test_ink_mass_is_the_mean_pixel_value():
    images = np.zeros((3, 4, 4, 1), np.uint8)
    images[1] = 255
    images[2, :2] = 255  # half the frame
    np.testing.assert_allclose(ink_mass(images), [0.0, 1.0, 0.5])


def test_brightness_is_the_mean_luma():
    red, grey = np.zeros((1, 2, 2, 3), np.uint8), np.full((1, 2, 2, 1), 51, np.uint8)
    red[..., 0] = 255
    np.testing.assert_allclose(brightness(red), [0.299])
    np.testing.assert_allclose(brightness(grey), ink_mass(grey))
    np.testing.assert_allclose(brightness(np.full((2, 3, 3, 3), 255, np.uint8)), [1.0, 1.0])


@pytest.mark.parametrize(
    "images", [np.zeros((2, 4, 4, 1), np.float32), np.zeros((4, 4, 1), np.uint8), np.zeros((1, 2, 2, 2), np.uint8)]
)
def test_statistics_refuse_other_images(images):
    with pytest.raises(EditingError, match="uint8 images"):
        ink_mass(images)
    with pytest.raises(EditingError, match="uint8 images"):
        brightness(images)


def test_read_attribute_csv_matches_base_names_and_relative_paths(tmp_path):
    path = tmp_path / "attributes.csv"
    path.write_text("filename,value\nimg1.png,0.5\nfaces/img2.png,-2\nother/img2.png,7\nunused.png,1e3\n\n")
    names = ["/data/faces/img2.png", "/data/x/img1.png", "img1.png"]
    np.testing.assert_array_equal(read_attribute_csv(path, names), [-2.0, 0.5, 0.5])
    no_header = tmp_path / "plain.csv"
    no_header.write_text("a.png, 3\n")
    np.testing.assert_array_equal(read_attribute_csv(no_header, ["a.png"]), [3.0])


@pytest.mark.parametrize(
    "text, message",
    [
        ("a.png,1\nb.png,tall\n", r"line 2: the value of 'b.png' is 'tall'"),
        ("a.png,nan\n", "not a finite number"),
        ("a.png\n", "expected 'filename,value'"),
        ("a.png,1\na.png,2\n", "two values"),
        ("a.png,1\n", r"no row for 1 of 2 images, e.g. \['b.png'\]"),
    ],
)
def test_read_attribute_csv_errors(tmp_path, text, message):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(EditingError, match=message):
        read_attribute_csv(path, ["a.png", "b.png"])


def test_read_attribute_csv_needs_the_file(tmp_path):
    with pytest.raises(EditingError, match="no attribute CSV"):
        read_attribute_csv(tmp_path / "absent.csv", ["a.png"])

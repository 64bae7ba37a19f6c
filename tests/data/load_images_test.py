"""The --dataset spec dispatch in load_images."""

import numpy as np
import pytest

from alae_tf.data import SPEC_HELP, DatasetError, ImageSet, load_images, write_tfrecords


@pytest.mark.parametrize("spec", ["mnist", "", "folder", "fashion_mnist:extra", "http://x"])
def test_unknown_spec_lists_the_accepted_forms(spec):
    with pytest.raises(DatasetError, match="unknown dataset") as info:
        load_images(spec)
    assert SPEC_HELP in str(info.value)
    for form in ("fashion_mnist", "idx:DIR", "tfds:NAME", "folder:PATH", "tfrecord:GLOB"):
        assert form in SPEC_HELP


@pytest.mark.parametrize("spec", ["idx:", "tfds:", "folder:", "tfrecord:"])
def test_empty_argument(spec):
    with pytest.raises(DatasetError, match="needs something after the colon"):
        load_images(spec)


def test_bad_channels_resolution_and_split(tmp_path):
    spec = f"tfrecord:{write_tfrecords(str(tmp_path / 'r'), np.zeros((2, 4, 4, 3), np.uint8))[0]}"
    assert load_images(spec, channels=3).images.shape == (2, 4, 4, 3)
    with pytest.raises(DatasetError, match="channels=4"):
        load_images(spec, channels=4)
    with pytest.raises(DatasetError, match="resolution"):
        load_images(spec, resolution=0)
    with pytest.raises(DatasetError, match="split"):
        load_images(spec, split="")


def test_image_set_is_frozen():
    s = ImageSet(np.zeros((2, 1, 1, 1), np.uint8), None, "x")
    assert len(s) == 2
    with pytest.raises(AttributeError):
        s.name = "y"

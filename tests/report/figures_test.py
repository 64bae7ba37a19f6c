"""`alae_tf.report.figures`: the model's interpolations and the image grids."""

import numpy as np
import pytest

from alae_tf import configs
from alae_tf.builders import build_compiled_model
from alae_tf.report import figures

TINY = configs.PRESETS["mnist_mlp_tiny"]
# Two levels (4 and 8 px), a few hundred parameters: enough for noise and levels to matter.
TINY_STYLE = configs.PRESETS["faces_micro"].replace(
    name="style_report_test", image_shape=(8, 8, 1), dataset="fashion_mnist"
)


def _images(n, shape, pixel_range, seed=0):
    lo, hi = pixel_range
    return np.random.default_rng(seed).uniform(lo, hi, size=(n,) + tuple(shape)).astype(np.float32)


@pytest.mark.parametrize("config", [TINY, TINY_STYLE], ids=["mlp", "style"])
def test_interpolation_ends_are_the_reconstructions(config):
    model = build_compiled_model(config, seed=3)
    a = _images(3, config.image_shape, config.pixel_range, seed=1)
    b = _images(3, config.image_shape, config.pixel_range, seed=2)
    lines = figures.interpolation_images(model, a, b, steps=5)
    assert lines.shape == (3, 5) + tuple(config.image_shape)
    np.testing.assert_allclose(lines[:, 0], figures.reconstruction_images(model, a), atol=1e-5)
    np.testing.assert_allclose(lines[:, -1], figures.reconstruction_images(model, b), atol=1e-5)
    # The middle is neither end: the line moves.
    assert np.abs(lines[:, 2] - lines[:, 0]).max() > 1e-4
    with pytest.raises(ValueError, match="at least 2 steps"):
        figures.interpolation_images(model, a, b, steps=1)


@pytest.mark.parametrize("side, factor", [(4, 16), (28, 2), (64, 1), (128, 1)])
def test_small_tiles_are_enlarged_to_be_seen(side, factor):
    assert figures.tile_zoom(side) == factor
    grid = figures.image_grid(np.ones((3, side, side, 1), np.float32), (-1.0, 1.0), factor, columns=2)
    # 2 x 2 cells of side px and a 1 px white border, then enlarged by whole pixels.
    assert grid.shape == (factor * (2 * (side + 1) + 1),) * 2 + (1,) and grid.dtype == np.uint8

"""`alae_tf.report.curves`: training curves drawn by matplotlib."""

import gc

import numpy as np
import pytest
from matplotlib.figure import Figure

from alae_tf.report import curves

LINE_RGB = np.array([int(curves.LINE_COLOR[i : i + 2], 16) for i in (1, 3, 5)])


def _line_pixels(image):
    """Where the curve is drawn (anti-aliasing blends its edges, so near its colour counts)."""
    return np.abs(image.astype(int) - LINE_RGB).sum(axis=-1) < 60


@pytest.mark.parametrize("width, height", [(curves.CURVE_WIDTH, curves.CURVE_HEIGHT), (229, 157), (640, 320)])
def test_curve_image_has_the_asked_size(width, height):
    image = curves.curve_image([0, 100, 200], [1.0, 3.0, 2.0], title="loss", width=width, height=height)
    assert image.shape == (height, width, 3) and image.dtype == np.uint8


def test_curve_image_draws_the_series_with_labelled_axes():
    image = curves.curve_image(np.arange(1, 51) * 1000, np.linspace(1.0, 3.0, 50), title="loss_d", ylabel="loss_d")
    line = _line_pixels(image)
    rows, cols = np.nonzero(line)
    # The rising series spans most of the width; its left end is low and its right end high.
    assert cols.max() - cols.min() > 0.6 * image.shape[1]
    assert rows[cols == cols.max()].min() < rows[cols == cols.min()].max()
    # Mostly white background; text, ticks and the frame in dark grey to black (not blank).
    assert (image == 255).all(axis=-1).mean() > 0.6
    assert (image.max(axis=-1) < 80).sum() > 300


def test_degenerate_series_still_draw():
    for x, y in (([5], [1.0]), ([0, 1, 2], [2.0, 2.0, 2.0]), ([0, 1, 2], [1.0, np.nan, 3.0]), ([0, 0], [1.0, 2.0])):
        assert _line_pixels(curves.curve_image(x, y)).any(), (x, y)
    blank = curves.curve_image([0, 1], [np.nan, np.inf])  # no finite value: axes and a note only
    assert not _line_pixels(blank).any()
    with pytest.raises(ValueError, match="equal 1-D series"):
        curves.curve_image([0, 1], [1.0])


def test_y_view_of_short_series_is_the_whole_range():
    assert curves.y_view([1.0, 3.0, 2.0]) == pytest.approx((0.9, 3.1))
    assert curves.y_view([0.1, 0.2]) == pytest.approx((0.095, 0.205))
    assert curves.y_view([-1.0, 1.0]) == pytest.approx((-1.1, 1.1))
    assert curves.y_view([0.01, 5.0])[0] == 0.0  # padding does not invent a negative axis for a loss
    assert curves.y_view([2.0, 2.0]) == pytest.approx((1.8, 2.2))
    assert curves.y_view([np.nan]) == (0.0, 1.0)


def test_y_view_leaves_off_an_early_spike_but_keeps_the_end():
    values = np.concatenate([[14.0, 8.0, 3.0], 1.38 + 0.01 * np.sin(np.arange(200))])
    lo, hi = curves.y_view(values)
    assert lo < 1.37 and 1.39 < hi < 2.0  # the spike is off scale, the converged part fills the plot
    # A rise at the very end of a run stays in view, however few points it has.
    rising = np.concatenate([values, [1.6, 1.9, 2.5]])
    assert curves.y_view(rising)[1] >= 2.5
    # Without outliers the whole range shows.
    smooth = np.linspace(3.0, 1.0, 100)
    assert curves.y_view(smooth) == pytest.approx((0.9, 3.1))


def test_curve_images_leave_no_figure_behind():
    def live_figures():
        gc.collect()
        return sum(isinstance(o, Figure) for o in gc.get_objects())

    curves.curve_image([0, 1, 2], [1.0, 2.0, 3.0])  # imports and caches done once
    before = live_figures()
    for _ in range(3):
        curves.curve_image(np.arange(100), np.random.default_rng(0).standard_normal(100))
    assert live_figures() == before

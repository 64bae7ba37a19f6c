"""The evaluation report's pieces: interpolation, TensorBoard scalars, line plots, report.md and figures."""

import numpy as np
import pytest
import tensorflow as tf

from alae_tf import configs, report
from alae_tf.training import build_compiled_model

TINY = configs.PRESETS["mnist_mlp_tiny"]
# Two levels (4 and 8 px), a few hundred parameters: enough for noise and levels to matter.
TINY_STYLE = configs.PRESETS["faces_tiny"].replace(
    name="style_report_test", image_shape=(8, 8, 1), layer_count=2, start_channels=4, max_channels=8,
    latent_size=8, mapping_layers=2, images_per_level=32, batch_sizes=(8,), learning_rates=(0.002,),
    dataset="fashion_mnist")


def _images(n, shape, pixel_range, seed=0):
    lo, hi = pixel_range
    return np.random.default_rng(seed).uniform(lo, hi, size=(n,) + tuple(shape)).astype(np.float32)


@pytest.mark.parametrize("config", [TINY, TINY_STYLE], ids=["mlp", "style"])
def test_interpolation_ends_are_the_reconstructions(config):
    model = build_compiled_model(config, seed=3)
    a = _images(3, config.image_shape, config.pixel_range, seed=1)
    b = _images(3, config.image_shape, config.pixel_range, seed=2)
    lines = report.interpolation_images(model, a, b, steps=5)
    assert lines.shape == (3, 5) + tuple(config.image_shape)
    np.testing.assert_allclose(lines[:, 0], report.reconstruction_images(model, a), atol=1e-5)
    np.testing.assert_allclose(lines[:, -1], report.reconstruction_images(model, b), atol=1e-5)
    # The middle is neither end: the line moves.
    assert np.abs(lines[:, 2] - lines[:, 0]).max() > 1e-4
    with pytest.raises(ValueError, match="at least 2 steps"):
        report.interpolation_images(model, a, b, steps=1)


def _write_scalars(logdir, points):
    writer = tf.summary.create_file_writer(str(logdir))
    with writer.as_default():
        for step, values in points:
            for tag, value in values.items():
                tf.summary.scalar(tag, value, step=step)
        tf.summary.image("samples", np.zeros((1, 4, 4, 1), np.uint8), step=points[-1][0])  # not a scalar
    writer.close()


def test_read_scalars_keeps_every_logged_step_once(tmp_path):
    _write_scalars(tmp_path, [(32, {"loss_d": 3.0, "r1": 0.5}), (64, {"loss_d": 2.0, "r1": 0.25}),
                              (96, {"loss_d": 1.0, "r1": 0.125})])
    # A resumed run (a second event file, written later) logs step 96 again and goes on.
    _write_scalars(tmp_path, [(96, {"loss_d": 1.5}), (128, {"loss_d": 0.5})])
    scalars = report.read_scalars(tmp_path)
    assert set(scalars) == {"loss_d", "r1"}  # the image summary is not a curve
    steps, values = scalars["loss_d"]
    np.testing.assert_array_equal(steps, [32, 64, 96, 128])
    np.testing.assert_array_equal(values, [3.0, 2.0, 1.5, 0.5])  # the later write of step 96 wins
    np.testing.assert_array_equal(scalars["r1"][1], [0.5, 0.25, 0.125])
    assert report.read_scalars(tmp_path / "absent") == {}


def test_line_plot_draws_the_series_inside_its_frame():
    plot = report.line_plot([0, 100, 200], [1.0, 3.0, 2.0], width=200, height=100)
    assert plot.shape == (100, 200, 3) and plot.dtype == np.uint8
    line = np.all(plot == (31, 90, 200), axis=-1)
    rows, cols = np.nonzero(line)
    # The series spans the plot area from left to right; its highest point (3.0) is near the top.
    assert cols.max() - cols.min() > 0.7 * 200
    assert rows.min() < 0.2 * 100
    assert (plot == 0).all(axis=-1).sum() > 100  # frame and labels in black
    # Degenerate series still draw: one point, a constant, non-finite values.
    for x, y in (([5], [1.0]), ([0, 1, 2], [2.0, 2.0, 2.0]), ([0, 1, 2], [1.0, np.nan, 3.0])):
        assert np.all(report.line_plot(x, y, width=200, height=100) == (31, 90, 200), axis=-1).any()
    with pytest.raises(ValueError, match="equal 1-D series"):
        report.line_plot([0, 1], [1.0])


@pytest.mark.parametrize("value, text", [(0.0123, "0.0123"), (1.5e-5, "1.5e-05"), (712.0, "712"), (1550.0, "1.55k"),
                                         (-2.1e6, "-2.1M")])
def test_axis_labels_are_short(value, text):
    assert report.format_value(value) == text
    report.draw_text(np.zeros((20, 100, 3), np.uint8), text, 0, 0)  # every character has a glyph


def _png_shape(path):
    return tuple(tf.io.decode_png(path.read_bytes()).shape)


def test_write_report_files_sizes_and_text(tmp_path):
    model = build_compiled_model(TINY, seed=0)
    _write_scalars(tmp_path / "logs", [(16 * i, {tag: 1.0 / i for tag in report.CURVE_TAGS}) for i in (1, 2, 3)])
    test_images = np.random.default_rng(0).integers(0, 256, size=(40, 28, 28, 1), dtype=np.uint8)
    by_metric = {"knn5": {"knn5_accuracy": 0.5},
                 "fd": {"fd_toy_classifier": 12.5, "fd_toy_classifier_samples": 64,
                        "fd_toy_classifier_real_samples": 40}}
    summary = {"preset": TINY.name, "dataset": "toy", "images_seen": 48, "step": 3, "nets": "ema", "split": "test",
               "resolution": "28x28", "level": None, "train_images": 100, "eval_images": 40,
               "features": {"name": "toy_classifier", "source": "/x/toy.keras"}, "options": {"num_samples": 64},
               "seconds": {"knn5": 1.0, "fd": 2.0}}
    path = report.write_report(tmp_path, model, summary, by_metric, test_images, TINY.pixel_range,
                               interpolation_steps=6)
    assert path == tmp_path / "report" / "report.md"
    # 28 px tiles are shown 2x; a grid of n x m tiles is (m * 29 + 1) x (n * 29 + 1) before that.
    expected = {
        "samples.png": (2 * (8 * 29 + 1), 2 * (8 * 29 + 1), 1),  # 64 samples, 8 x 8
        "samples_truncated.png": (2 * (8 * 29 + 1), 2 * (8 * 29 + 1), 1),
        "reconstructions.png": (2 * (4 * 29 + 1), 2 * (16 * 29 + 1), 1),  # 32 pairs, 16 tiles a row
        "interpolation.png": (2 * (4 * 29 + 1), 2 * (8 * 29 + 1), 1),  # 4 pairs: a, 6 points, b
        **{f"curve_{tag}.png": (240, 480, 3) for tag in report.CURVE_TAGS},
    }
    written = {p.name for p in path.parent.iterdir()}
    assert written == set(expected) | {"report.md"}
    for name, shape in expected.items():
        assert _png_shape(path.parent / name) == shape, name
    text = path.read_text()
    for needle in ("knn5_accuracy", "fd_toy_classifier", "`toy_classifier`", "/x/toy.keras", "48 images seen",
                   "EMA", "truncation psi = 0.7", "num_samples=64", "| `fd` | `fd_toy_classifier_samples` | 64 |"):
        assert needle in text, needle
    for name in expected:
        assert f"]({name})" in text, name  # every figure is linked, relative to report.md
    assert "| `loss_d` | 3 |" in text  # three logged points
    assert not list(tmp_path.glob(".report*"))  # the staging folder was renamed into place

    # A second report replaces the first whole, with the nets and psi it was drawn with.
    summary["nets"] = "trained"
    report.write_report(tmp_path, model, summary, by_metric, test_images, TINY.pixel_range, use_ema=False,
                        truncation_psi=0.5)
    assert "truncation psi = 0.5" in path.read_text() and "trained (not EMA)" in path.read_text()


def test_write_report_needs_enough_images(tmp_path):
    model = build_compiled_model(TINY, seed=0)
    with pytest.raises(ValueError, match="needs 32 evaluation images, the split has 5"):
        report.write_report(tmp_path, model, {}, {}, np.zeros((5, 28, 28, 1), np.uint8), TINY.pixel_range)
    assert not (tmp_path / "report").exists()


def test_report_shows_the_demo_bar_for_fashion_mnist(tmp_path):
    model = build_compiled_model(TINY, seed=0)
    test_images = np.random.default_rng(0).integers(0, 256, size=(40, 28, 28, 1), dtype=np.uint8)
    by_metric = {"recon": {"recon_mse": 0.02, "recon_samples": 40},
                 "class_coverage": {"sample_class_fractions": [0.5, 0.5], "sample_class_min_fraction": 0.5},
                 "knn5": {"knn5_accuracy": 0.80}}
    summary = {"preset": TINY.name, "dataset": "fashion_mnist", "images_seen": 48, "step": 3, "split": "test"}
    text = report.write_report(tmp_path, model, summary, by_metric, test_images, TINY.pixel_range).read_text()
    assert "## The demo's quality bar" in text and "2 of 3 measured here are met" in text
    assert "| `knn5_accuracy` | 0.8 | **no** |" in text and "| `recon_mse` | 0.02 | yes |" in text
    assert "| `sample_class_fractions` | 0.5, 0.5 |" in text  # lists are shown whole
    # Another dataset gets no Fashion-MNIST bar.
    summary["dataset"] = "folder:faces"
    assert "quality bar" not in report.write_report(tmp_path, model, summary, by_metric, test_images,
                                                    TINY.pixel_range).read_text()

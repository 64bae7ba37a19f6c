"""`alae_tf.report.write_report` (the entry point `alae_tf.evaluation` calls): the report folder."""

import numpy as np
import pytest
import tensorflow as tf

from alae_tf import configs, report
from alae_tf.builders import build_compiled_model
from tests.report.event_files import write_scalars

TINY = configs.PRESETS["mnist_mlp_tiny"]


def _png_shape(path):
    return tuple(tf.io.decode_png(path.read_bytes()).shape)


def test_write_report_files_sizes_and_text(tmp_path):
    model = build_compiled_model(TINY, seed=0)
    # Every scalar the monitor logs, and recon_pixels (logged with a pixel reconstruction term).
    tags = report.CURVE_TAGS + ("recon_pixels",)
    write_scalars(tmp_path / "logs", [(16 * i, {tag: 1.0 / i for tag in tags}) for i in (1, 2, 3)])
    test_images = np.random.default_rng(0).integers(0, 256, size=(40, 28, 28, 1), dtype=np.uint8)
    by_metric = {
        "knn5": {"knn5_accuracy": 0.5},
        "fd": {"fd_toy_classifier": 12.5, "fd_toy_classifier_samples": 64, "fd_toy_classifier_real_samples": 40},
    }
    summary = {
        "preset": TINY.name,
        "dataset": "toy",
        "images_seen": 48,
        "step": 3,
        "nets": "ema",
        "split": "test",
        "resolution": "28x28",
        "level": None,
        "train_images": 100,
        "eval_images": 40,
        "features": {"name": "toy_classifier", "source": "/x/toy.keras"},
        "options": {"num_samples": 64},
        "seconds": {"knn5": 1.0, "fd": 2.0},
    }
    path = report.write_report(
        tmp_path, model, summary, by_metric, test_images, TINY.pixel_range, interpolation_steps=6
    )
    assert path == tmp_path / "report" / "report.md"
    # 28 px tiles are shown 2x; a grid of n x m tiles is (m * 29 + 1) x (n * 29 + 1) before that.
    expected = {
        "samples.png": (2 * (8 * 29 + 1), 2 * (8 * 29 + 1), 1),  # 64 samples, 8 x 8
        "samples_truncated.png": (2 * (8 * 29 + 1), 2 * (8 * 29 + 1), 1),
        "reconstructions.png": (2 * (4 * 29 + 1), 2 * (16 * 29 + 1), 1),  # 32 pairs, 16 tiles a row
        "interpolation.png": (2 * (4 * 29 + 1), 2 * (8 * 29 + 1), 1),  # 4 pairs: a, 6 points, b
        **{f"curve_{tag}.png": (240, 480, 3) for tag in tags},  # one curve per logged scalar
    }
    written = {p.name for p in path.parent.iterdir()}
    assert written == set(expected) | {"report.md"}
    for name, shape in expected.items():
        assert _png_shape(path.parent / name) == shape, name
    curve = tf.io.decode_png((path.parent / "curve_loss_d.png").read_bytes()).numpy()
    assert len(np.unique(curve.reshape(-1, 3), axis=0)) > 10  # drawn, not blank
    text = path.read_text()
    for needle in (
        "knn5_accuracy",
        "fd_toy_classifier",
        "`toy_classifier`",
        "/x/toy.keras",
        "48 images seen",
        "EMA",
        "truncation psi = 0.7",
        "num_samples=64",
        "| `fd` | `fd_toy_classifier_samples` | 64 |",
    ):
        assert needle in text, needle
    for name in expected:
        assert f"]({name})" in text, name  # every figure is linked, relative to report.md
    assert "| `loss_d` | 3 |" in text  # three logged points
    # The monitor's scalars in their fixed order, then the others.
    positions = [text.index(f"![curve_{tag}.png]") for tag in tags]
    assert positions == sorted(positions)
    assert "### recon_pixels (step III's pixel term" in text
    assert not list(tmp_path.glob(".report*"))  # the staging folder was renamed into place

    # A second report replaces the first whole, with the nets and psi it was drawn with.
    summary["nets"] = "trained"
    report.write_report(
        tmp_path, model, summary, by_metric, test_images, TINY.pixel_range, use_ema=False, truncation_psi=0.5
    )
    assert "truncation psi = 0.5" in path.read_text() and "trained (not EMA)" in path.read_text()


def test_write_report_needs_enough_images(tmp_path):
    model = build_compiled_model(TINY, seed=0)
    with pytest.raises(ValueError, match="needs 32 evaluation images, the split has 5"):
        report.write_report(tmp_path, model, {}, {}, np.zeros((5, 28, 28, 1), np.uint8), TINY.pixel_range)
    assert not (tmp_path / "report").exists()


def test_write_report_without_logs_says_so(tmp_path):
    model = build_compiled_model(TINY, seed=0)
    test_images = np.zeros((32, 28, 28, 1), np.uint8)
    summary = {"preset": TINY.name, "dataset": "fashion_mnist", "images_seen": 0, "step": 0, "split": "test"}
    text = report.write_report(tmp_path, model, summary, {}, test_images, TINY.pixel_range).read_text()
    assert "No TensorBoard scalars found in `logs/`." in text
    assert not list((tmp_path / "report").glob("curve_*.png"))

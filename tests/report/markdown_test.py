"""`alae_tf.report.markdown`: the text of report.md."""

import numpy as np

from alae_tf.report import markdown


def test_split_results_and_numbers():
    values, settings = markdown.split_results(
        {"fd_x": 12.5, "fd_x_samples": 64, "kid_x_subset_size": 16, "ppl_epsilon": 1e-4, "knn5_accuracy": 0.8}
    )
    assert values == {"fd_x": 12.5, "knn5_accuracy": 0.8}
    assert set(settings) == {"fd_x_samples", "kid_x_subset_size", "ppl_epsilon"}
    assert [markdown.format_number(v) for v in (np.int64(7), 0.1234567, True, [0.5, 2])] == [
        "7",
        "0.123457",
        "True",
        "0.5, 2",
    ]
    assert markdown.markdown_table(("a", "b"), [(1, "x")]) == ["| a | b |", "|---|---|", "| 1 | x |"]


def test_report_shows_the_demo_bar_for_fashion_mnist():
    by_metric = {
        "recon": {"recon_mse": 0.02, "recon_samples": 40},
        "class_coverage": {"sample_class_fractions": [0.5, 0.5], "sample_class_min_fraction": 0.5},
        "knn5": {"knn5_accuracy": 0.80},
    }
    summary = {"preset": "mnist_mlp_tiny", "dataset": "fashion_mnist", "images_seen": 48, "step": 3, "split": "test"}
    text = markdown.report_markdown("/w", summary, by_metric, {}, [], 2, 28)
    assert "## The demo's quality bar" in text and "2 of 3 measured here are met" in text
    assert "| `knn5_accuracy` | 0.8 | **no** |" in text and "| `recon_mse` | 0.02 | yes |" in text
    assert "| `sample_class_fractions` | 0.5, 0.5 |" in text  # lists are shown whole
    # Another dataset gets no Fashion-MNIST bar.
    summary["dataset"] = "folder:faces"
    assert "quality bar" not in markdown.report_markdown("/w", summary, by_metric, {}, [], 2, 28)


def test_figures_and_curves_are_linked_in_order():
    curves = [
        ("loss_d", "curve_loss_d.png", "loss_d over images seen", np.array([3.0, np.nan, 1.0])),
        ("recon_pixels", "curve_recon_pixels.png", "recon_pixels over images seen", np.array([0.5])),
    ]
    text = markdown.report_markdown("/w", {"images_seen": 1000}, {}, {"samples.png": "Samples"}, curves, 1, 64)
    assert "### Samples\n\n![samples.png](samples.png)" in text and "enlarged" not in text
    assert "| `loss_d` | 3 | 3 | 1 | 1 | 3 |" in text  # points, first, last, min, max (NaN left out)
    assert text.index("curve_loss_d.png") < text.index("curve_recon_pixels.png")
    assert "No TensorBoard scalars" in markdown.report_markdown("/w", {"images_seen": 0}, {}, {}, [], 1, 64)

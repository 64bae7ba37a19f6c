"""The demo's quality bar and the machine's precision choice."""

import pytest

from alae_tf import quality


def passing():
    return {
        "recon_class_kept": 0.86,
        "recon_class_kept_relative": 0.96,
        "recon_mse": 0.029,
        "sample_hf_ratio": 1.1,
        "fd_fmnist_classifier": quality.BASELINE_FD / 2 - 0.1,
        "sample_class_min_fraction": 0.06,
        "knn5_accuracy": 0.83,
        "svm_accuracy": 0.86,
    }


def test_every_line_met():
    assert all(met for _, _, met in quality.check(passing()))


@pytest.mark.parametrize(
    "key, value",
    [
        ("recon_mse", 0.031),
        ("sample_hf_ratio", 0.79),
        ("sample_hf_ratio", 1.21),
        ("fd_fmnist_classifier", 30.0),
        ("sample_class_min_fraction", 0.01),
        ("knn5_accuracy", 0.81),
        ("svm_accuracy", 0.84),
    ],
)
def test_one_line_missed(key, value):
    results = {**passing(), key: value}
    missed = [t.key for t, _, met in quality.check(results) if not met]
    assert missed == [key]


def test_class_kept_clears_by_either_form():
    relative_only = {**passing(), "recon_class_kept": 0.80, "recon_class_kept_relative": 0.95}
    assert all(met for _, _, met in quality.check(relative_only))
    neither = {**passing(), "recon_class_kept": 0.80, "recon_class_kept_relative": 0.90}
    assert [t.key for t, _, met in quality.check(neither) if not met] == ["recon_class_kept"]


def test_missing_results_are_not_judged():
    checks = quality.check({"recon_mse": 0.01})
    assert [(t.key, met) for t, _, met in checks if met is not None] == [("recon_mse", True)]

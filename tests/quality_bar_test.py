"""The demo's quality bar and the machine's precision choice."""

import pytest

from alae_tf import quality, training


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


@pytest.mark.parametrize(
    "flags, want",
    [
        ("fpu avx512f avx512_bf16 sse", "mixed_bfloat16"),
        ("fpu amx_bf16 amx_tile", "mixed_bfloat16"),
        ("fpu avx512f avx2", "float32"),
    ],
)
def test_auto_precision_follows_the_cpu(tmp_path, flags, want, monkeypatch):
    monkeypatch.setattr(training.tf.config, "list_physical_devices", lambda kind: [])
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(f"processor\t: 0\nflags\t\t: {flags}\n")
    assert training.resolve_precision("auto", cpuinfo=cpuinfo) == want
    assert training.resolve_precision("float32", cpuinfo=cpuinfo) == "float32"


def test_auto_precision_on_a_gpu_is_float16(monkeypatch):
    monkeypatch.setattr(training.tf.config, "list_physical_devices", lambda kind: ["GPU:0"] if kind == "GPU" else [])
    assert training.resolve_precision("auto") == "mixed_float16"


def test_unknown_precision_is_refused():
    with pytest.raises(ValueError, match="precision must be"):
        training.resolve_precision("float8")

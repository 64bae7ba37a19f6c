"""Direction methods on synthetic codes where the right direction is known."""

import numpy as np
import pytest

from alae_tf.editing import (
    EditingError,
    class_mean_directions,
    linear_directions,
    pca_directions,
    regression_direction,
    sefa_directions,
)

LATENT = 16


def _cosine(a, b):
    return float(a @ b / np.linalg.norm(a) / np.linalg.norm(b))


def _two_classes(n=600, gap=3.0, seed=0):
    """Codes `w = label * gap * d_true + noise`: the right direction from class 0 to 1 is d_true."""
    rng = np.random.default_rng(seed)
    d_true = rng.normal(size=LATENT)
    d_true /= np.linalg.norm(d_true)
    labels = rng.integers(0, 2, n)
    return labels[:, None] * gap * d_true + rng.normal(size=(n, LATENT)), labels, d_true


def test_class_mean_direction_is_the_known_direction():
    w, labels, d_true = _two_classes()
    (direction,) = class_mean_directions(w, labels, 0, 1, provenance={"nets": "ema", "images_seen": 5})
    assert _cosine(direction.vector, d_true) > 0.95
    assert direction.vector @ d_true == pytest.approx(3.0, rel=0.1)  # strength 1: the class gap
    assert direction.name == "class_mean_0_to_1"
    p = direction.provenance
    assert p["method"] == "class_mean" and (p["source_class"], p["target_class"]) == (0, 1)
    assert p["nets"] == "ema" and p["images_seen"] == 5 and p["num_images"] == len(w)
    assert p["held_out_accuracy"] is None  # no held-out part asked for


def test_class_mean_directions_pairs_and_held_out_score():
    rng = np.random.default_rng(1)
    labels = np.repeat(np.arange(3), 50)
    centers = 5.0 * np.eye(LATENT)[:3]
    w = centers[labels] + rng.normal(size=(150, LATENT))
    every = class_mean_directions(w, labels, class_names=["a", "b", "c"])
    assert [d.name for d in every] == [f"class_mean_{s}_to_{t}" for s, t in ("ab", "ac", "ba", "bc", "ca", "cb")]
    from_b = class_mean_directions(w, labels, source=1)
    assert [(d.provenance["source_class"], d.provenance["target_class"]) for d in from_b] == [(1, 0), (1, 2)]
    (held,) = class_mean_directions(w, labels, 0, 2, held_out_fraction=0.2, seed=3)
    assert held.provenance["num_images_held_out"] == 20 and held.provenance["num_images"] == 80
    assert held.provenance["held_out_accuracy"] > 0.95


def test_class_mean_errors():
    w, labels, _ = _two_classes(n=20)
    with pytest.raises(EditingError, match="class 7 has no codes"):
        class_mean_directions(w, labels, 0, 7)
    with pytest.raises(EditingError, match="no pair"):
        class_mean_directions(w, labels, 1, 1)
    with pytest.raises(EditingError, match="labels"):
        class_mean_directions(w, None, 0, 1)
    with pytest.raises(EditingError, match="labels must be 20"):
        class_mean_directions(w, labels[:5], 0, 1)
    with pytest.raises(EditingError, match="codes must be"):
        class_mean_directions(w[0], labels, 0, 1)
    with pytest.raises(EditingError, match="held_out_fraction"):
        class_mean_directions(w, labels, 0, 1, held_out_fraction=1.0)


def test_linear_direction_is_the_known_direction_at_the_class_mean_scale():
    w, labels, d_true = _two_classes()
    (direction,) = linear_directions(w, labels, (0, 1), seed=0)
    assert _cosine(direction.vector, d_true) > 0.95
    (mean_direction,) = class_mean_directions(w, labels, 0, 1)
    # Strength 1 moves by the class-mean gap along the normal: comparable with the class-mean edit.
    assert direction.norm == pytest.approx(mean_direction.vector @ direction.unit, rel=0.05)
    assert direction.norm == pytest.approx(3.0, rel=0.1)
    p = direction.provenance
    assert p["method"] == "linear_svm" and p["held_out_accuracy"] > 0.9 and p["held_out_balanced_accuracy"] > 0.9
    assert p["num_images_held_out"] == pytest.approx(0.2 * len(w), abs=2)
    assert p["num_images"] + p["num_images_held_out"] == len(w)
    assert direction.name == "linear_0_to_1"


def test_linear_direction_ignores_a_noisy_axis_the_class_means_follow():
    # Class 1 also sits higher along a high-variance nuisance axis: the mean difference leans towards
    # it, the boundary's normal does not (it separates along the low-noise axis).
    rng = np.random.default_rng(2)
    labels = np.repeat([0, 1], 400)
    w = rng.normal(size=(800, LATENT)) * 0.3
    w[:, 0] += 2.0 * labels
    w[:, 1] = rng.normal(size=800) * 20.0 + 4.0 * labels
    (linear,) = linear_directions(w, labels, (0, 1))
    (mean,) = class_mean_directions(w, labels, 0, 1)
    assert abs(linear.unit[0]) > 0.95 and abs(mean.unit[0]) < 0.9


def test_one_vs_rest_gives_one_direction_per_class():
    rng = np.random.default_rng(3)
    labels = np.repeat(np.arange(3), 80)
    w = 4.0 * np.eye(LATENT)[labels] + rng.normal(size=(240, LATENT))
    directions = linear_directions(w, labels, class_names=["x", "y", "z"])
    assert [d.name for d in directions] == ["linear_rest_to_x", "linear_rest_to_y", "linear_rest_to_z"]
    for c, d in enumerate(directions):
        assert int(np.argmax(d.unit)) == c
        assert d.provenance["source_class"] is None and d.provenance["held_out_balanced_accuracy"] > 0.9
    pairs = linear_directions(w, labels, [(0, 1), (2, 0)])
    assert [d.name for d in pairs] == ["linear_0_to_1", "linear_2_to_0"]


def test_linear_errors():
    w, labels, _ = _two_classes(n=40)
    with pytest.raises(EditingError, match="one_vs_rest"):
        linear_directions(w, labels, "all")
    with pytest.raises(EditingError, match="two different classes"):
        linear_directions(w, labels, (1, 1))
    with pytest.raises(EditingError, match="class 5"):
        linear_directions(w, labels, (0, 5))
    with pytest.raises(EditingError, match="two classes"):
        linear_directions(w, np.zeros(40, np.int64))
    with pytest.raises(EditingError, match="l2"):
        linear_directions(w, labels, (0, 1), l2=-1)


def test_regression_direction_recovers_the_coefficients():
    # Codes that vary with the value along a known direction d (plus isotropic noise): w on the value finds d.
    rng = np.random.default_rng(4)
    values = rng.normal(size=500) * 3.0 + 1.0
    d = rng.normal(size=LATENT)
    w = values[:, None] * d + 0.3 * rng.normal(size=(500, LATENT)) + 10.0
    direction = regression_direction(w, values, "ink", provenance={"source": "toy"})
    assert _cosine(direction.vector, d) > 0.99
    # Strength 1 moves w as one standard deviation of the value does: std * d.
    assert np.linalg.norm(direction.vector) == pytest.approx(values.std() * np.linalg.norm(d), rel=0.05)
    p = direction.provenance
    assert p["method"] == "regression" and p["attribute"] == "ink" and p["source"] == "toy"
    assert p["held_out_r2"] > 0.99 and p["num_images_held_out"] == 100


def test_regression_errors():
    w = np.random.default_rng(5).normal(size=(30, 4))
    with pytest.raises(EditingError, match="do not vary"):
        regression_direction(w, np.ones(30), "flat")
    with pytest.raises(EditingError, match="NaN"):
        regression_direction(w, np.r_[np.nan, np.ones(29)], "nan")
    with pytest.raises(EditingError, match="30 numbers"):
        regression_direction(w, np.ones(3), "short")
    with pytest.raises(EditingError, match="valid file name"):
        regression_direction(w, w[:, 0], "no/slash")


def test_pca_recovers_the_dominant_axis():
    rng = np.random.default_rng(6)
    scales = np.ones(LATENT)
    scales[3], scales[7] = 10.0, 5.0
    w = rng.normal(size=(2000, LATENT)) * scales + 3.0
    first, second = pca_directions(w, 2, provenance={"nets": "ema"})
    assert (
        abs(_cosine(first.vector, np.eye(LATENT)[3])) > 0.99 and abs(_cosine(second.vector, np.eye(LATENT)[7])) > 0.99
    )
    assert first.vector[3] > 0  # the sign is fixed: the largest entry is positive
    assert first.norm == pytest.approx(10.0, rel=0.05)  # one std of the codes
    expected = 100.0 / (100.0 + 25.0 + LATENT - 2)
    assert first.provenance["explained_variance_ratio"] == pytest.approx(expected, rel=0.05)
    assert [d.name for d in (first, second)] == ["pca_0", "pca_1"]
    assert second.provenance["cumulative_explained_variance_ratio"] > first.provenance["explained_variance_ratio"]
    with pytest.raises(EditingError, match="k must be"):
        pca_directions(w, 0)
    with pytest.raises(EditingError, match="fewer than k"):
        pca_directions(np.tile(w[:1], (5, 1)), 1)


def test_sefa_finds_the_top_singular_vector():
    rng = np.random.default_rng(7)
    u = rng.normal(size=LATENT)
    u /= np.linalg.norm(u)
    columns = rng.choice([-1.0, 1.0], size=40) * rng.uniform(0.5, 2.0, size=40)
    matrix = 5.0 * np.outer(u, columns) + 0.01 * rng.normal(size=(LATENT, 40))
    for normalize in (False, True):
        top, second = sefa_directions(matrix, 2, normalize_columns=normalize)
        assert abs(_cosine(top.vector, u)) > 0.99 and top.norm == pytest.approx(1.0)
        assert top.provenance["eigenvalue_share"] > 0.95 > second.provenance["eigenvalue_share"]
        assert top.provenance["scale"] == "unit"
    codes = rng.normal(size=(300, LATENT)) * 2.0
    (scaled,) = sefa_directions(matrix, 1, w=codes)
    assert scaled.norm == pytest.approx(2.0, rel=0.15) and scaled.provenance["scale"] == "std_of_codes"
    with pytest.raises(EditingError, match="k must be"):
        sefa_directions(matrix, LATENT + 1)
    with pytest.raises(EditingError, match="reads 16"):
        sefa_directions(matrix, 1, w=codes[:, :4])
    with pytest.raises(EditingError, match="zero"):
        sefa_directions(np.zeros((3, 4)), 1)

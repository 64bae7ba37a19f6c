"""Linear SVM accuracy on separable and inseparable toy codes."""

import numpy as np
import pytest

from alae_tf import metrics
from alae_tf.probes import linear_svm_predict
from tests.metrics.stand_in import StandIn


def _separable(n, seed):
    # Class c lives where coordinate c is largest by a margin: one-vs-rest separable by
    # hyperplanes, though not by any single coordinate threshold. A large offset and scale
    # check that the features are standardized.
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 3, n)
    codes = rng.uniform(0, 1, size=(n, 3))
    codes[np.arange(n), labels] += 1.5
    return 1000.0 + 50.0 * codes, labels


def test_svm_on_a_linearly_separable_set_is_perfect():
    train, train_labels = _separable(300, 0)
    test, test_labels = _separable(100, 1)
    np.testing.assert_array_equal(linear_svm_predict(train, train_labels, test, steps=500), test_labels)


def test_svm_metric_on_codes_of_the_encoder():
    train, train_labels = _separable(300, 0)
    test, test_labels = _separable(100, 1)
    # The stand-in "images" are the codes themselves; E flattens them.
    flatten = lambda x, training=False: np.reshape(x, (x.shape[0], -1))  # noqa: E731
    ctx = metrics.EvalContext(
        model=StandIn(encoder=flatten),
        train_images=train.reshape(-1, 1, 3, 1),
        train_labels=train_labels,
        test_images=test.reshape(-1, 1, 3, 1),
        test_labels=test_labels,
        pixel_range=(0.0, 1.0),
        svm_steps=300,
    )
    ctx.__dict__["train_codes"], ctx.__dict__["test_codes"] = train, test  # codes, not uint8 images
    assert metrics.compute(["svm"], ctx) == {"svm_accuracy": 1.0, "svm_steps": 300}


def test_svm_on_random_labels_is_near_chance():
    rng = np.random.default_rng(0)
    codes, labels = rng.normal(size=(400, 4)), rng.integers(0, 2, 400)
    accuracy = np.mean(linear_svm_predict(codes[:300], labels[:300], codes[300:], steps=200) == labels[300:])
    assert accuracy == pytest.approx(0.5, abs=0.15)


def test_svm_solver_reaches_the_optimum_of_its_objective():
    from alae_tf.probes import fit_l2_svm

    rng = np.random.default_rng(1)
    x = np.concatenate([rng.normal(size=(400, 5)), np.ones((400, 1))], axis=1)
    targets = np.where(x[:, 0] + 0.8 * rng.normal(size=400) > 0, 1.0, -1.0)  # overlapping classes
    penalty = np.array([1e-3] * 5 + [0.0])
    w = fit_l2_svm(x, targets, penalty, max_iterations=100, tolerance=1e-12)

    def objective(v):
        return np.mean(np.square(np.maximum(1.0 - targets * (x @ v), 0.0))) + np.sum(penalty * v * v)

    slack = np.maximum(1.0 - targets * (x @ w), 0.0)
    gradient = -2.0 / len(x) * (x.T @ (slack * targets)) + 2.0 * penalty * w
    assert np.linalg.norm(gradient) < 1e-8
    # No nearby point does better (convexity: the stationary point is the minimum).
    for _ in range(20):
        assert objective(w + 1e-3 * rng.normal(size=6)) >= objective(w)

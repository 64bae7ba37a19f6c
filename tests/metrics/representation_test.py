"""Linear SVM accuracy on separable and inseparable toy codes."""

import numpy as np
import pytest

from alae_tf import metrics
from alae_tf.metrics.representation import linear_svm_predict
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
    ctx = metrics.EvalContext(model=StandIn(encoder=flatten), train_images=train.reshape(-1, 1, 3, 1),
                              train_labels=train_labels, test_images=test.reshape(-1, 1, 3, 1),
                              test_labels=test_labels, pixel_range=(0.0, 1.0), svm_steps=300)
    ctx.__dict__["train_codes"], ctx.__dict__["test_codes"] = train, test  # codes, not uint8 images
    assert metrics.compute(["svm"], ctx) == {"svm_accuracy": 1.0, "svm_steps": 300}


def test_svm_on_random_labels_is_near_chance():
    rng = np.random.default_rng(0)
    codes, labels = rng.normal(size=(400, 4)), rng.integers(0, 2, 400)
    accuracy = np.mean(linear_svm_predict(codes[:300], labels[:300], codes[300:], steps=200) == labels[300:])
    assert accuracy == pytest.approx(0.5, abs=0.15)

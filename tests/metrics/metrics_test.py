"""Metrics against answers known by hand."""

import numpy as np
import pytest

from alae_tf import metrics
from alae_tf.probes import knn_predict, knn_vote, nearest_neighbours
from tests.metrics.stand_in import StandIn


def test_knn_on_separable_clusters_is_perfect():
    rng = np.random.default_rng(0)
    centers = np.array([[0, 0], [10, 0], [0, 10]], np.float32)
    train_labels = rng.integers(0, 3, 300)
    test_labels = rng.integers(0, 3, 100)
    train = centers[train_labels] + rng.normal(scale=0.5, size=(300, 2))
    test = centers[test_labels] + rng.normal(scale=0.5, size=(100, 2))
    for k in (1, 5):
        np.testing.assert_array_equal(knn_predict(train, train_labels, test, k, chunk=7), test_labels)


def test_knn_majority_and_tie_break_by_distance():
    train = np.array([[0.0], [1.0], [2.0], [3.0], [10.0]], np.float32)
    labels = np.array([1, 0, 0, 1, 1])
    # k=3 at 0.4: neighbours 0 (label 1), 1 (0), 2 (0) -> majority 0.
    # k=2 at 0.4: one vote each; the nearer (label 1) wins.
    assert knn_predict(train, labels, np.array([[0.4]]), 3)[0] == 0
    assert knn_predict(train, labels, np.array([[0.4]]), 2)[0] == 1
    assert knn_predict(train, labels, np.array([[0.6]]), 2)[0] == 0


def test_one_neighbour_search_serves_every_smaller_k():
    # What the k-NN metrics share (`EvalContext.test_neighbours`): the first k of 5 neighbours vote as a k search does.
    rng = np.random.default_rng(1)
    train, test = rng.normal(size=(400, 8)), rng.normal(size=(150, 8))
    labels = rng.integers(0, 4, 400)
    neighbours = nearest_neighbours(train, test, 5, chunk=64)
    for k in (1, 3, 5):
        np.testing.assert_array_equal(
            knn_vote(labels, neighbours[:, :k]), knn_predict(train, labels, test, k, chunk=33)
        )
    assert (knn_vote(labels, neighbours[:, :1]) == labels[neighbours[:, 0]]).all()


def IdentityModel(offset):
    """G(E(x)) = x + offset."""
    return StandIn(generator=lambda w, training=False: w + offset)


@pytest.mark.parametrize(
    "offset, pixel_range, expected",
    [
        (0.0, (0.0, 1.0), 0.0),
        (0.1, (0.0, 1.0), None),  # computed below from the clipped images
        (0.2, (-1.0, 1.0), 0.01),  # 0.2 on a range of 2 is 0.1 on [0, 1]; uint8 0 -> -1 stays inside after +0.2
    ],
)
def test_recon_mse_on_a_unit_scale(offset, pixel_range, expected):
    images = np.zeros((5, 4, 4, 1), np.uint8)
    images[:, :2] = 255 if offset != 0.2 else 0
    ctx = metrics.EvalContext(
        model=IdentityModel(offset),
        train_images=images,
        train_labels=None,
        test_images=images,
        test_labels=None,
        pixel_range=pixel_range,
        batch_size=2,
    )
    got = metrics.compute(["recon_mse"], ctx)["recon_mse"]
    if expected is None:  # half the pixels are 1.0 and clip back to 1.0; the other half are off by 0.1
        expected = 0.5 * 0.1**2
    assert got == pytest.approx(expected, rel=1e-5, abs=1e-9)


def test_unknown_metric_is_refused():
    with pytest.raises(ValueError, match="unknown metrics"):
        metrics.compute(["fid"], None)

"""Perceptual path length of a linear generator against its analytic value."""

import numpy as np
import pytest
import tensorflow as tf

from alae_tf import metrics
from alae_tf.metrics.perceptual_path import ppl_inputs
from tests.metrics.stand_in import FlatFeatures, StandIn, context

A = np.random.default_rng(0).normal(size=(3, 12)).astype(np.float32)  # G(w) = A w, as 12 "pixels"


def _linear_model():
    def mapping(z, training=False):
        return 2.0 * z + 1.0

    def generator(w, training=False):
        return tf.reshape(tf.matmul(w, A), [-1, 3, 4, 1])

    return StandIn(mapping=mapping, generator=generator, latent_size=3)


@pytest.mark.parametrize("sampling", ["full", "end"])
def test_ppl_of_a_linear_generator_is_analytic(sampling):
    # A wide pixel range so that clipping never bends the linear map.
    ctx = context(
        _linear_model(),
        np.zeros((1, 3, 4, 1), np.uint8),
        pixel_range=(-1e3, 1e3),
        features=FlatFeatures(),
        ppl_samples=200,
        ppl_epsilon=1e-2,
        batch_size=64,
    )
    got = metrics.compute([f"ppl_{sampling}"], ctx)
    # For a linear G the step's squared distance / eps^2 is |A(w1 - w0)|^2 whatever t is.
    expected = np.concatenate(
        [np.sum(np.square((2.0 * (z1 - z0)) @ A), axis=1) for z0, z1, _ in ppl_inputs(ctx, sampling)]
    )
    assert len(expected) == 200
    # np.percentile(d, 1, "lower") of 200 values is the 2nd smallest and (99, "higher") the
    # 2nd largest: the outlier rule drops exactly the smallest and the largest.
    expected = np.mean(np.sort(expected)[1:-1])
    key = f"ppl_{sampling}_flat"
    assert got[key] == pytest.approx(expected, rel=1e-3)
    assert got[f"{key}_samples"] == 200 and got[f"{key}_epsilon"] == 1e-2


def test_ppl_samplings_draw_their_own_t():
    ctx = context(_linear_model(), np.zeros((1, 3, 4, 1), np.uint8), ppl_samples=100, batch_size=64)
    full = np.concatenate([t for _, _, t in ppl_inputs(ctx, "full")])
    end = np.concatenate([t for _, _, t in ppl_inputs(ctx, "end")])
    assert full.shape == end.shape == (100,)
    assert 0.0 < full.min() and full.max() < 1.0 and len(np.unique(full)) == 100
    assert set(np.unique(end)) == {0.0, 1.0}


def test_ppl_needs_a_feature_network():
    with pytest.raises(ValueError, match="feature network"):
        metrics.compute(["ppl_full"], context(_linear_model(), np.zeros((1, 3, 4, 1), np.uint8)))

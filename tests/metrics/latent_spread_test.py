"""latent_spread: F(z) against E(x) in w, on codes whose spread is known by construction."""

import numpy as np
import pytest
import tensorflow as tf

from alae_tf import metrics
from alae_tf.metrics.latent_spread import spread_outside
from tests.metrics.stand_in import StandIn, context

SIDE, USED = 4, 12  # 16-pixel images; E(x) = the pixels, of which the first 12 vary
UNIFORM_STD = 1 / np.sqrt(12)  # a uniform [0, 1] pixel's spread


def _images(n=3000, seed=0):
    """uint8 `[n, 4, 4, 1]`: 12 pixels uniform over 0..255, the last 4 at 128 +- 1."""
    rng = np.random.default_rng(seed)
    pixels = np.concatenate([rng.integers(0, 256, (n, USED)), 128 + rng.integers(-1, 2, (n, SIDE * SIDE - USED))], 1)
    return pixels.reshape(n, SIDE, SIDE, 1).astype(np.uint8)


def _mapping(stray):
    """F: the used coordinates spread like the images'; the rest still (or, with `stray`, as much)."""
    rest_std = UNIFORM_STD if stray else 0.8 / 255 / np.sqrt(1.5)  # the +-1 pixels' std on a [0, 1] scale

    def mapping(z, training=False):
        z = tf.convert_to_tensor(z)
        return tf.concat([0.5 + UNIFORM_STD * z[:, :USED], 128 / 255 + rest_std * z[:, USED:]], axis=1)

    return mapping


def _spread(stray):
    model = StandIn(
        mapping=_mapping(stray),
        encoder=lambda x, training=False: tf.reshape(x, (-1, SIDE * SIDE)),
        latent_size=SIDE * SIDE,
    )
    return metrics.compute(["latent_spread"], context(model, _images(), num_samples=3000, batch_size=500))


def test_a_mapping_that_matches_the_encoder_reads_one():
    got = _spread(stray=False)
    assert got["latent_spread_total"] == pytest.approx(1.0, abs=0.08)
    assert got["latent_spread_outside_top10"] == pytest.approx(1.0, abs=0.15)
    assert got["latent_mean_offset"] < 0.05
    assert got["latent_spread_samples"] == 3000
    assert "latent_spread_outside_top50" not in got  # w has 16 numbers: no 50-direction subspace


def test_a_mapping_that_strays_where_reals_never_go_reads_far_above_one():
    got = _spread(stray=True)
    # Outside the 10 leading directions reals keep 2 used coordinates (+ 4 still ones); F fills all 6.
    assert got["latent_spread_outside_top10"] > 2.5
    assert got["latent_spread_total"] == pytest.approx(16 / 12, abs=0.1)


def test_spread_outside_by_hand():
    rng = np.random.default_rng(1)
    reference = rng.standard_normal((4000, 3)) * np.array([3.0, 1.0, 0.1])
    codes = rng.standard_normal((4000, 3)) * np.array([3.0, 1.0, 0.5])
    got = spread_outside(reference, codes, sizes=(1, 2, 3))
    assert got[2] == pytest.approx(25.0, rel=0.1)  # the last axis: 0.5^2 / 0.1^2
    assert got[1] == pytest.approx((1 + 0.25) / (1 + 0.01), rel=0.1)
    assert 3 not in got  # no direction left outside all three


def test_spread_outside_refuses_codes_of_another_size():
    with pytest.raises(ValueError, match=r"\[n, d\] and \[m, d\]"):
        spread_outside(np.zeros((10, 4)), np.zeros((10, 5)))


def test_a_collapsed_encoder_is_refused_by_name():
    model = StandIn(encoder=lambda x, training=False: tf.zeros((tf.shape(x)[0], SIDE * SIDE)), latent_size=SIDE * SIDE)
    with pytest.raises(ValueError, match="collapsed encoder"):
        metrics.compute(["latent_spread"], context(model, _images(n=50), num_samples=50, batch_size=25))

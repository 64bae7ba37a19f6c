"""Frechet distance and KID against closed forms and known orderings."""

import numpy as np
import pytest
import tensorflow as tf

from alae_tf import metrics
from alae_tf.metrics.distribution import feature_stats, frechet_distance, kernel_distance
from tests.metrics.stand_in import FlatFeatures, StandIn, context


def test_fd_of_a_set_with_itself_is_zero():
    features = np.random.default_rng(0).normal(size=(500, 20)) @ np.random.default_rng(1).normal(size=(20, 20))
    mu, cov = feature_stats(features)
    assert abs(frechet_distance(mu, cov, mu, cov)) <= 1e-6 * np.trace(cov)


def test_fd_matches_the_closed_form_for_diagonal_gaussians():
    # For diagonal covariances: |mu1 - mu2|^2 + sum_i (sqrt(a_i) - sqrt(b_i))^2. Rotating both
    # Gaussians by the same orthogonal Q leaves it unchanged, so the rotated case checks the
    # general (non-diagonal) code path against the same number.
    rng = np.random.default_rng(0)
    mu1, mu2 = rng.normal(size=6), rng.normal(size=6)
    a, b = rng.uniform(0.1, 3, 6), rng.uniform(0.1, 3, 6)
    expected = np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(a) - np.sqrt(b)) ** 2)
    assert frechet_distance(mu1, np.diag(a), mu2, np.diag(b)) == pytest.approx(expected, rel=1e-10)
    q, _ = np.linalg.qr(rng.normal(size=(6, 6)))
    rotated = frechet_distance(q @ mu1, q @ np.diag(a) @ q.T, q @ mu2, q @ np.diag(b) @ q.T)
    assert rotated == pytest.approx(expected, rel=1e-8)


def test_fd_clips_the_round_off_of_singular_covariances():
    # Rank-deficient covariances (fewer samples than features) have eigenvalues that round
    # to tiny negatives; the distance must stay finite and ~0 for a set against itself.
    features = np.random.default_rng(0).normal(size=(5, 30))
    mu, cov = feature_stats(features)
    assert np.isfinite(frechet_distance(mu, cov, mu, cov))
    assert abs(frechet_distance(mu, cov, mu, cov)) <= 1e-6 * np.trace(cov)


def _smooth_images(n=300, side=8, seed=0):
    """uint8 `[n, side, side, 1]` images with structure at several scales."""
    rng = np.random.default_rng(seed)
    coarse = rng.uniform(0, 1, size=(n, side // 2, side // 2, 1))
    images = 0.6 * np.repeat(np.repeat(coarse, 2, axis=1), 2, axis=2) + 0.3 * rng.uniform(0, 1, (n, side, side, 1))
    return np.round(255 * (0.05 + images)).astype(np.uint8)


def _noisy(sigma):
    def generator(w, training=False):
        noise = tf.random.stateless_normal(tf.shape(w), seed=[1, 2])  # the same noise at every level
        return w + sigma * noise

    return generator


def _blurred(sigma):
    radius = 3
    taps = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    kernel = tf.constant(np.outer(taps, taps) / np.sum(taps) ** 2, tf.float32)[:, :, None, None]

    def generator(w, training=False):
        padded = tf.pad(w, [[0, 0], [radius, radius], [radius, radius], [0, 0]], mode="SYMMETRIC")
        return tf.nn.conv2d(padded, kernel, strides=1, padding="VALID")

    return generator


def _recon_distances(generator):
    ctx = context(
        StandIn(generator=generator),
        _smooth_images(),
        features=FlatFeatures(),
        batch_size=128,
        kid_subsets=20,
        kid_subset_size=200,
    )
    got = metrics.compute(["fd_recon", "kid_recon"], ctx)
    return got["fd_recon_flat"], got["kid_recon_flat"]


@pytest.mark.parametrize("degrade, strengths", [(_noisy, [0.05, 0.1, 0.2]), (_blurred, [0.5, 0.8, 1.5])])
def test_fd_and_kid_grow_with_noise_and_blur(degrade, strengths):
    fds, kids = zip(
        *[_recon_distances(lambda w, training=False: w)] + [_recon_distances(degrade(s)) for s in strengths]
    )
    assert abs(fds[0]) < 1e-9  # reconstructions identical to the images
    assert 1e-3 < fds[1] < fds[2] < fds[3]
    # KID is unbiased for independent samples; reconstructions paired with their own images
    # are not, so the undegraded value is slightly negative. It still orders the strengths.
    assert kids[0] < kids[1] < kids[2] < kids[3]


def _uniform_images(n, seed):
    return np.random.default_rng(seed).integers(0, 256, size=(n, 4, 4, 1)).astype(np.uint8)


def test_kid_of_identical_distributions_is_near_zero():
    # G turns z ~ N(0, 1) into pixels uniform over the 256 uint8 levels: the distribution of
    # the test images, drawn independently.
    def uniform_levels(z, training=False):
        u = 0.5 * (1.0 + tf.math.erf(z / np.sqrt(2.0)))
        return tf.reshape(tf.minimum(tf.floor(256.0 * u), 255.0) / 255.0, [-1, 4, 4, 1])

    def kid_with(generator):
        ctx = context(
            StandIn(generator=generator, latent_size=16),
            _uniform_images(1000, 0),
            features=FlatFeatures(),
            num_samples=1000,
            kid_subsets=20,
            kid_subset_size=500,
        )
        return metrics.compute(["kid", "fd"], ctx)

    same = kid_with(uniform_levels)
    noisy = kid_with(lambda z, training=False: uniform_levels(z) + 0.3 * tf.reshape(z, [-1, 4, 4, 1]))
    assert same["kid_flat_samples"] == 1000 and same["kid_flat_subset_size"] == 500
    assert same["fd_flat_samples"] == 1000 and same["fd_flat_real_samples"] == 1000
    assert abs(same["kid_flat"]) < 0.1 * noisy["kid_flat"]
    assert same["fd_flat"] < 0.2 * noisy["fd_flat"]


def test_kid_is_unbiased_on_tiny_subsets():
    # Two draws of the same Gaussian: the unbiased estimate averages to ~0 even with m = 10,
    # where the biased one (diagonal included) would be clearly positive.
    rng = np.random.default_rng(0)
    mean, std = kernel_distance(rng.normal(size=(2000, 8)), rng.normal(size=(2000, 8)), num_subsets=400, subset_size=10)
    assert abs(mean) < 3 * std / np.sqrt(400)


def test_distribution_metrics_need_a_feature_network():
    with pytest.raises(ValueError, match="alae-train-judge"):
        metrics.compute(["fd"], context(StandIn(), _uniform_images(10, 0)))

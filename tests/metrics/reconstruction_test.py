"""PSNR, SSIM and the latent cycle error against hand-computed answers."""

import numpy as np
import pytest
import tensorflow as tf

from alae_tf import metrics
from alae_tf.metrics.reconstruction import image_scores, ssim_filter_size
from tests.metrics.stand_in import StandIn, context


def _images(n=6, side=16, seed=0):
    return np.random.default_rng(seed).integers(20, 200, size=(n, side, side, 1)).astype(np.uint8)


def test_perfect_reconstruction_has_ssim_1_and_floored_psnr():
    got = metrics.compute(["recon"], context(StandIn(), _images(), batch_size=4))
    assert got["recon_mse"] == 0.0
    assert got["recon_ssim"] == pytest.approx(1.0, abs=1e-6)
    assert got["recon_psnr"] == pytest.approx(100.0)  # the 1e-10 MSE floor
    assert got["recon_samples"] == 6 and got["recon_ssim_filter_size"] == 11


@pytest.mark.parametrize("pixel_range", [(0.0, 1.0), (-1.0, 1.0)])
def test_psnr_of_a_constant_offset(pixel_range):
    # Pixels stay within 200/255 + 0.1 < 1 on the [0, 1] scale: nothing is clipped.
    offset = 0.1 * (pixel_range[1] - pixel_range[0])
    model = StandIn(generator=lambda w, training=False: w + offset)
    got = metrics.compute(["recon"], context(model, _images(), pixel_range=pixel_range, batch_size=4))
    assert got["recon_mse"] == pytest.approx(0.01, rel=1e-4)
    assert got["recon_psnr"] == pytest.approx(10 * np.log10(1 / 0.1**2), rel=1e-4)  # 20 dB
    assert got["recon_ssim"] < 1.0


def test_ssim_of_constant_images_is_the_luminance_term():
    # With no variance the contrast-structure term is C2 / C2 = 1, leaving
    # (2 a b + C1) / (a^2 + b^2 + C1), C1 = (0.01 * max_val)^2.
    a, b, c1 = 0.2, 0.5, 0.01**2
    x = tf.fill([2, 12, 12, 1], a)
    y = tf.fill([2, 12, 12, 1], b)
    mse, psnr, ssim = image_scores(x, y, filter_size=7)
    # float32 round-off in the windowed variances is ~3e-5 relative.
    np.testing.assert_allclose(ssim.numpy(), (2 * a * b + c1) / (a**2 + b**2 + c1), rtol=1e-4)
    np.testing.assert_allclose(mse.numpy(), 0.09, rtol=1e-5)
    np.testing.assert_allclose(psnr.numpy(), 10 * np.log10(1 / 0.09), rtol=1e-5)


def test_ssim_window_shrinks_to_small_images():
    assert ssim_filter_size(28, 28) == 11
    assert ssim_filter_size(8, 9) == 8
    got = metrics.compute(["recon"], context(StandIn(), _images(side=8), batch_size=4))
    assert got["recon_ssim_filter_size"] == 8 and got["recon_ssim"] == pytest.approx(1.0, abs=1e-6)


def test_latent_cycle_error():
    w_of_z = lambda z, training=False: 2.0 * z + 1.0  # noqa: E731
    identity = context(StandIn(mapping=w_of_z), _images(), num_samples=10, batch_size=4)
    assert metrics.compute(["latent_cycle"], identity) == {"latent_cycle_error": 0.0, "latent_cycle_samples": 10}
    shifted = StandIn(mapping=w_of_z, encoder=lambda x, training=False: x - 0.25)
    got = metrics.compute(["latent_cycle"], context(shifted, _images(), num_samples=10, batch_size=4))
    assert got["latent_cycle_error"] == pytest.approx(0.25, rel=1e-6)

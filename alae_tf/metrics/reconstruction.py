"""Reconstruction quality of G(E(x)) (MSE, PSNR, SSIM) and the latent cycle error |E(G(w)) - w|."""

import numpy as np
import tensorflow as tf

from alae_tf.metrics.registry import register

# A perfect copy has infinite PSNR, which JSON cannot hold: per-image MSE is floored here,
# so an exact reconstruction reads 100 dB.
_MSE_FLOOR = 1e-10
# Wang et al.'s 11x11 Gaussian window (sigma 1.5); tf.image.ssim needs images at least as
# large as the window, so it shrinks for smaller ones.
_SSIM_WINDOW = 11


def ssim_filter_size(height, width):
    """SSIM window side for `height` x `width` images: 11, or the smaller side if below it."""
    return min(_SSIM_WINDOW, height, width)


def image_scores(x, y, filter_size):
    """Per-image MSE, PSNR (dB) and SSIM of two float batches `[B, H, W, C]` on a [0, 1] scale.

    Returns three `[B]` tensors. SSIM is the mean over channels of tf.image.ssim's value
    (max_val 1, Gaussian window `filter_size` with sigma 1.5).
    """
    mse = tf.reduce_mean(tf.square(x - y), axis=[1, 2, 3])
    psnr = -10.0 * tf.math.log(tf.maximum(mse, _MSE_FLOOR)) / tf.math.log(10.0)
    ssim = tf.image.ssim(x, y, max_val=1.0, filter_size=filter_size, filter_sigma=1.5)
    return mse, psnr, ssim


def _reconstruction_scores(ctx):
    """Per-image `(mse, psnr, ssim)` numpy arrays `[n]` of clipped G(E(x)) vs x over `ctx.eval_images`."""
    lo, hi = ctx.pixel_range
    filter_size = ssim_filter_size(*ctx.test_images.shape[1:3])
    recon = ctx._reconstruct_fn

    def scale(images):  # scores are on a [0, 1] scale whatever the model's pixel range
        return (images - lo) / (hi - lo)

    parts = []
    for x in ctx.batches(ctx.eval_images):
        parts.append([t.numpy() for t in image_scores(scale(ctx.clip(recon(x))), scale(x), filter_size)])
    return [np.concatenate(column).astype(np.float64) for column in zip(*parts)]


@register("recon_mse")
def recon_mse(ctx):
    """MSE of G(E(x)) against x on the evaluation split, on a [0, 1] pixel scale.

    G's output is clipped to the pixel range first, as it is when shown or
    saved as an image.
    """
    mse, _, _ = _reconstruction_scores(ctx)
    return {"recon_mse": float(np.mean(mse))}


@register("recon")
def recon(ctx):
    """MSE, PSNR (mean of per-image dB) and SSIM of clipped G(E(x)) vs x, on a [0, 1] scale."""
    mse, psnr, ssim = _reconstruction_scores(ctx)
    return {
        "recon_mse": float(np.mean(mse)),
        "recon_psnr": float(np.mean(psnr)),
        "recon_ssim": float(np.mean(ssim)),
        "recon_ssim_filter_size": ssim_filter_size(*ctx.test_images.shape[1:3]),
        "recon_samples": len(mse),
    }


@register("latent_cycle")
def latent_cycle(ctx):
    """Mean absolute latent cycle error `mean |E(G(w)) - w|` over `num_samples` w = F(z).

    G's output goes to E unclipped: the cycle measures the nets, not the image format.
    """
    mapping = ctx.mapping
    total, count = 0.0, 0
    for z in ctx.latents(ctx.num_samples, stream=1):
        w = tf.cast(mapping(z, training=False), tf.float32)
        cycled = ctx._encode_fn(ctx._decode_fn(w))
        total += float(tf.reduce_sum(tf.abs(cycled - w)))
        count += int(np.prod(w.shape))
    return {"latent_cycle_error": total / count, "latent_cycle_samples": ctx.num_samples}

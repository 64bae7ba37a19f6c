"""Perceptual path length (PPL) in w, as StyleGAN (Karras et al. 2019) and ALAE report it.

For pairs w0 = F(z0), w1 = F(z1), a step of `eps` along the straight line between them,
from t to t + eps, moves the image by

    d = |phi(G(lerp(w0, w1, t + eps))) - phi(G(lerp(w0, w1, t)))|^2 / eps^2,

phi being the context's feature network (StyleGAN uses LPIPS, not available here: its name
is in the result key, `ppl_full_fmnist_classifier`). "full" draws t ~ U(0, 1); "end" draws
t from {0, 1} (the path's ends). Distances outside the 1st..99th percentile are dropped and
the rest averaged. Both images of a pair get the same generator noise.
"""

import numpy as np
import tensorflow as tf

from alae_tf.metrics.registry import register

SAMPLINGS = ("full", "end")
# Random streams (with the context's seed) of each sampling; 0 and 1 are EvalContext.latents' streams
# of fd/kid and latent_cycle.
_STREAMS = {"full": 2, "end": 3}


def ppl_inputs(ctx, sampling):
    """The `(z0, z1, t)` batches PPL uses: `[B, latent]`, `[B, latent]`, `[B]` float32 numpy.

    Drawn from (the context's seed, a stream per sampling), so a caller can recompute what
    the metric saw.
    """
    if sampling not in SAMPLINGS:
        raise ValueError(f"PPL sampling must be one of {SAMPLINGS}, got {sampling!r}")
    rng = np.random.default_rng([ctx.seed, _STREAMS[sampling]])
    latent = ctx.model.latent_size
    for start in range(0, ctx.ppl_samples, ctx.batch_size):
        n = min(ctx.batch_size, ctx.ppl_samples - start)
        z0 = rng.standard_normal((n, latent)).astype(np.float32)
        z1 = rng.standard_normal((n, latent)).astype(np.float32)
        t = rng.uniform(size=n) if sampling == "full" else rng.integers(0, 2, size=n)
        yield z0, z1, t.astype(np.float32)


def path_distances(ctx, z0, z1, t, epsilon, noise_seed):
    """Per-pair scaled squared feature distances `[B]` (see the module docstring)."""
    mapping = ctx.mapping
    w0 = tf.cast(mapping(z0, training=False), tf.float32)
    w1 = tf.cast(mapping(z1, training=False), tf.float32)
    t = tf.constant(t)[:, None]
    wa = w0 + t * (w1 - w0)
    wb = w0 + (t + epsilon) * (w1 - w0)
    fa, fb = (
        np.asarray(ctx.features(ctx.clip(ctx._decode_fn(w, noise_seed)), ctx.pixel_range), np.float64) for w in (wa, wb)
    )
    return np.sum(np.square(fb - fa), axis=1) / epsilon**2


def filtered_mean(distances):
    """Mean of `distances` within their 1st..99th percentile (StyleGAN's outlier rule)."""
    lo = np.percentile(distances, 1, method="lower")
    hi = np.percentile(distances, 99, method="higher")
    return float(np.mean(distances[(distances >= lo) & (distances <= hi)]))


def perceptual_path_length(ctx, sampling):
    features = ctx.require_features()
    distances = np.concatenate(
        [
            path_distances(ctx, z0, z1, t, ctx.ppl_epsilon, noise_seed=tf.constant([ctx.seed, i], tf.int32))
            for i, (z0, z1, t) in enumerate(ppl_inputs(ctx, sampling))
        ]
    )
    key = f"ppl_{sampling}_{features.name}"
    return {key: filtered_mean(distances), f"{key}_samples": ctx.ppl_samples, f"{key}_epsilon": ctx.ppl_epsilon}


@register("ppl_full", needs=("features",))
def ppl_full(ctx):
    """PPL in w along whole paths, t ~ U(0, 1): `ppl_full_<features>`."""
    return perceptual_path_length(ctx, "full")


@register("ppl_end", needs=("features",))
def ppl_end(ctx):
    """PPL in w at the paths' ends, t in {0, 1}: `ppl_end_<features>`."""
    return perceptual_path_length(ctx, "end")

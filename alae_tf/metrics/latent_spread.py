"""Where F(z) goes in w, against where E puts real images: `latent_spread`.

ALAE never compares w with w: step I asks D o E to tell E(x) from E(G(F(z))), so F is free
in the directions of w that E does not produce for real images and does not see in G's
output. This metric measures how far F uses that freedom. Every Fashion-MNIST run measured
spreads F(z) wider than E(x) (1.4-2.2x the total variance, 1.7-3.3x outside E's 10 leading
directions); the size alone does not rank samples (the demo's F, FD 14, spreads wider than
that of runs at FD 22), so it is a diagnostic, not a line of the quality bar
(`benchmarks/quality.md`, "A third search").
"""

import numpy as np
import tensorflow as tf

from alae_tf.metrics.registry import register

# Leading principal directions of E(x) that count as "where real images go".
SUBSPACE_SIZES = (10, 50)


def spread_outside(reference, codes, sizes=SUBSPACE_SIZES):
    """`{k: ratio}`: variance of `codes` outside `reference`'s k leading principal directions over
    `reference`'s own variance there, for each k in `sizes` below the code size.

    reference `[n, d]`, codes `[m, d]` (float64 numpy). 1 means the same spread; above 1,
    `codes` stray into directions `reference` hardly uses.
    """
    if reference.ndim != 2 or codes.ndim != 2 or reference.shape[1] != codes.shape[1]:
        raise ValueError(f"spread_outside: codes must be [n, d] and [m, d], got {reference.shape} and {codes.shape}")
    eigenvalues, vectors = np.linalg.eigh(np.cov(reference, rowvar=False))
    vectors = vectors[:, np.argsort(eigenvalues)[::-1]]
    ratios = {}
    for k in sizes:
        if k >= reference.shape[1]:
            continue
        rest = vectors[:, k:]
        own = np.sum(np.var(reference @ rest, axis=0))
        theirs = np.sum(np.var(codes @ rest, axis=0))
        ratios[k] = float(theirs / own) if own > 0 else float("inf")
    return ratios


@register("latent_spread")
def latent_spread(ctx):
    """F(z) for `num_samples` z (the samples' z) against E(x) of the evaluation images, in w.

    `latent_spread_total`: F(z)'s total variance over E(x)'s; `latent_spread_outside_top<k>`:
    `spread_outside` for k in `SUBSPACE_SIZES`; `latent_mean_offset`: the distance between
    the two means over E(x)'s RMS spread (its total variance's square root).
    """
    real = np.asarray(ctx.test_codes[: len(ctx.eval_images)], np.float64)
    mapping = ctx.mapping
    fake = np.concatenate(
        [tf.cast(mapping(z, training=False), tf.float32).numpy() for z in ctx.latents(ctx.num_samples, stream=0)]
    ).astype(np.float64)
    real_total = float(np.sum(np.var(real, axis=0)))
    if real_total <= 0:
        raise ValueError("latent_spread: E(x) is the same code for every evaluation image (a collapsed encoder)")
    results = {
        "latent_spread_total": float(np.sum(np.var(fake, axis=0))) / real_total,
        "latent_mean_offset": float(np.linalg.norm(fake.mean(axis=0) - real.mean(axis=0)) / np.sqrt(real_total)),
        "latent_spread_samples": len(fake),
    }
    for k, ratio in spread_outside(real, fake).items():
        results[f"latent_spread_outside_top{k}"] = ratio
    return results

"""Distribution metrics in a feature space: Frechet distance (FD) and kernel inception distance (KID).

Both compare the features of generated samples G(F(z)) (`fd`, `kid`) or of reconstructions
G(E(x)) (`fd_recon`, `kid_recon`) with those of the evaluation images. The feature network
is the context's `features` (`alae_tf.features`); its name is in every result key, e.g.
`fd_fmnist_classifier` or `fd_inception`, so the two are never mistaken for each other
(FD with Inception features is the usual FID).
"""

import numpy as np

from alae_tf.metrics.registry import register
from alae_tf.probes import sqrtm_psd


def feature_stats(features):
    """Mean `[d]` and covariance `[d, d]` (float64, unbiased) of features `[N, d]`."""
    features = np.asarray(features, np.float64)
    return features.mean(axis=0), np.cov(features, rowvar=False).reshape(features.shape[1], features.shape[1])


def frechet_distance(mu1, cov1, mu2, cov2):
    """Frechet distance of two Gaussians, in float64.

    `|mu1 - mu2|^2 + tr(S1) + tr(S2) - 2 tr(sqrt(S1 S2))`, where tr(sqrt(S1 S2)) is taken as
    tr(sqrt(sqrt(S1) S2 sqrt(S1))): the same eigenvalues, but of a symmetric PSD matrix, so
    numpy's `eigh` suffices (no scipy `sqrtm` and no complex round-off).
    """
    mu1, mu2 = np.asarray(mu1, np.float64), np.asarray(mu2, np.float64)
    cov1, cov2 = np.asarray(cov1, np.float64), np.asarray(cov2, np.float64)
    root1 = sqrtm_psd(cov1)
    middle = root1 @ cov2 @ root1
    trace_sqrt = np.sum(np.sqrt(np.clip(np.linalg.eigvalsh((middle + middle.T) / 2.0), 0.0, None)))
    return float(np.sum(np.square(mu1 - mu2)) + np.trace(cov1) + np.trace(cov2) - 2.0 * trace_sqrt)


def kernel_distance(features1, features2, num_subsets=100, subset_size=1000, seed=0):
    """KID: unbiased MMD^2 with the kernel `(x.y / d + 1)^3`, averaged over random subsets.

    As Binkowski et al. (2018) and StyleGAN2-ADA's `kernel_inception_distance`: each
    subset draws `m = min(n1, n2, subset_size)` rows of each set without replacement.

    Args:
        features1, features2: `[n1, d]`, `[n2, d]`.
    Returns:
        `(mean, std)` of the subsets' MMD^2 estimates.
    """
    x_all, y_all = np.asarray(features1, np.float64), np.asarray(features2, np.float64)
    d = x_all.shape[1]
    m = min(len(x_all), len(y_all), subset_size)
    if m < 2:
        raise ValueError(f"KID needs at least 2 samples per set, got {len(x_all)} and {len(y_all)}")
    rng = np.random.default_rng(seed)
    estimates = []
    for _ in range(num_subsets):
        x = x_all[rng.choice(len(x_all), m, replace=False)]
        y = y_all[rng.choice(len(y_all), m, replace=False)]
        kxx, kyy, kxy = ((a @ b.T / d + 1.0) ** 3 for a, b in ((x, x), (y, y), (x, y)))
        # Unbiased: the within-set means leave out the diagonal k(x_i, x_i).
        within = (kxx.sum() - np.trace(kxx) + kyy.sum() - np.trace(kyy)) / (m * (m - 1))
        estimates.append(within - 2.0 * kxy.mean())
    return float(np.mean(estimates)), float(np.std(estimates))


def _fd(ctx, which, prefix):
    fake, real = ctx.image_features(which), ctx.image_features("real")
    key = f"{prefix}_{ctx.features.name}"
    return {
        key: frechet_distance(*feature_stats(fake), *feature_stats(real)),
        f"{key}_samples": len(fake),
        f"{key}_real_samples": len(real),
    }


def _kid(ctx, which, prefix):
    fake, real = ctx.image_features(which), ctx.image_features("real")
    key = f"{prefix}_{ctx.features.name}"
    mean, std = kernel_distance(fake, real, ctx.kid_subsets, ctx.kid_subset_size, seed=ctx.seed)
    return {
        key: mean,
        f"{key}_std": std,
        f"{key}_samples": len(fake),
        f"{key}_real_samples": len(real),
        f"{key}_subsets": ctx.kid_subsets,
        f"{key}_subset_size": min(len(fake), len(real), ctx.kid_subset_size),
    }


@register("fd", needs=("features",))
def fd(ctx):
    """FD between `num_samples` samples G(F(z)) and the evaluation images: `fd_<features>`."""
    return _fd(ctx, "generated", "fd")


@register("kid", needs=("features",))
def kid(ctx):
    """KID between samples G(F(z)) and the evaluation images: `kid_<features>` (and its std)."""
    return _kid(ctx, "generated", "kid")


@register("fd_recon", needs=("features",))
def fd_recon(ctx):
    """FD between reconstructions G(E(x)) and the evaluation images x: `fd_recon_<features>`."""
    return _fd(ctx, "reconstructed", "fd_recon")


@register("kid_recon", needs=("features",))
def kid_recon(ctx):
    """KID between reconstructions G(E(x)) and the evaluation images x: `kid_recon_<features>`."""
    return _kid(ctx, "reconstructed", "kid_recon")

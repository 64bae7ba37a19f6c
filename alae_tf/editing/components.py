"""Unsupervised directions in w: GANSpace's principal components and SeFa's closed form.

- `pca_directions`: GANSpace (Härkönen et al. 2020): principal components of the codes.
- `sefa_directions`: SeFa (Shen & Zhou 2021): closed form, from the weights of the first layer
  of G that reads w (`first_layer_weights`), no codes needed.

Both scale a direction to one standard deviation of the codes along it (SeFa only when codes are
given), as `supervised` explains; eigenvectors' signs are fixed so that reruns agree.
"""

from __future__ import annotations

import numpy as np

from alae_tf.editing.checks import check_codes, check_int
from alae_tf.editing.directions import Direction, direction_name
from alae_tf.editing.errors import EditingError
from alae_tf.editing.style_layers import style_layer_range


def _fix_sign(vector: np.ndarray) -> np.ndarray:
    """Eigenvectors' sign is arbitrary: make the largest-magnitude entry positive, so reruns agree."""
    return vector if vector[np.argmax(np.abs(vector))] >= 0 else -vector


def pca_directions(w, k: int, *, name_prefix: str = "pca", provenance: dict | None = None) -> list[Direction]:
    """GANSpace (Härkönen et al. 2020): the top-`k` principal components of the codes.

    Each direction is a unit component times the codes' standard deviation along it (strength 1: one
    std), its sign fixed so that its largest entry is positive (reruns give the same directions).

    Args:
        w: codes `[N, latent]` (GANSpace uses F's w of random z; E's codes of real images work alike).
        k: how many components, `1 <= k <= min(N, latent)`.
    Returns:
        Directions `<prefix>_0` .. `<prefix>_{k-1}`, largest variance first, with provenance `component`,
        `explained_variance_ratio`, `cumulative_explained_variance_ratio`, `std`.
    """
    what = "pca_directions"
    w = check_codes(w, what)
    check_int(k, f"{what}: k", 1, min(w.shape))
    _, singular, components = np.linalg.svd(w - w.mean(axis=0), full_matrices=False)
    variance = np.square(singular) / (len(w) - 1)
    # Relative to the codes' size: the SVD of constant codes leaves rounding-level variances, not zeros.
    if variance[0] <= 1e-20 * np.mean(np.square(w)) or variance[k - 1] <= 1e-12 * variance[0]:
        raise EditingError(f"{what}: the codes vary along fewer than k={k} axes")
    ratio = variance / variance.sum()
    return [
        Direction(
            direction_name(name_prefix, i),
            _fix_sign(components[i]) * np.sqrt(variance[i]),
            {
                **(provenance or {}),
                "method": "pca",
                "component": i,
                "num_images": len(w),
                "explained_variance_ratio": float(ratio[i]),
                "cumulative_explained_variance_ratio": float(ratio[: i + 1].sum()),
                "std": float(np.sqrt(variance[i])),
                "strength_1": "moves w by one standard deviation of the codes along the component",
            },
        )
        for i in range(k)
    ]


def sefa_directions(
    weight_matrix,
    k: int,
    *,
    w=None,
    normalize_columns: bool = True,
    name_prefix: str = "sefa",
    provenance: dict | None = None,
) -> list[Direction]:
    """SeFa (Shen & Zhou 2021): the directions the first layer reading w amplifies most.

    For the layer `y = w @ M` (`M` `[latent, out]`, Keras's kernel layout), moving w along the unit n
    changes y by `|n @ M|`, largest for the top eigenvectors of `M M^T` (`A^T A` for the paper's
    `A = M^T`). With `normalize_columns` (the official code's default) every output unit's weights are
    scaled to unit norm first, so layers of different scales weigh alike when concatenated.

    Args:
        weight_matrix: `[latent, out]`, e.g. `first_layer_weights(model)`.
        k: how many directions, `1 <= k <= latent`.
        w: optional codes `[N, latent]`: scales each unit eigenvector by the codes' std along it (strength 1
            then means one std, as PCA's); without them the directions are unit vectors.
    Returns:
        Directions `<prefix>_0` .. in decreasing eigenvalue order, with provenance `eigenvalue`,
        `eigenvalue_share` (its share of the trace: SeFa's explained "variance"), `scale`.
    """
    what = "sefa_directions"
    matrix = np.asarray(weight_matrix)
    if matrix.ndim != 2 or matrix.dtype.kind not in "fiu" or 0 in matrix.shape:
        raise EditingError(f"{what}: weight_matrix must be numbers [latent, out], got {matrix.dtype} {matrix.shape}")
    matrix = matrix.astype(np.float64)
    if not np.all(np.isfinite(matrix)):
        raise EditingError(f"{what}: weight_matrix holds NaN or inf")
    latent = matrix.shape[0]
    check_int(k, f"{what}: k", 1, latent)
    if normalize_columns:
        norms = np.linalg.norm(matrix, axis=0, keepdims=True)
        matrix = matrix / np.where(norms > 0, norms, 1.0)
    eigenvalues, eigenvectors = np.linalg.eigh(matrix @ matrix.T)  # ascending
    eigenvalues, eigenvectors = np.maximum(eigenvalues[::-1], 0.0), eigenvectors[:, ::-1]
    total = eigenvalues.sum()
    if total <= 0:
        raise EditingError(f"{what}: the weight matrix is zero")
    codes = None if w is None else check_codes(w, what)
    if codes is not None and codes.shape[1] != latent:
        raise EditingError(f"{what}: codes have {codes.shape[1]} numbers, the weight matrix reads {latent}")
    directions = []
    for i in range(k):
        unit = _fix_sign(eigenvectors[:, i])
        std = None if codes is None else float(np.std(codes @ unit))
        directions.append(
            Direction(
                direction_name(name_prefix, i),
                unit if not std else unit * std,
                {
                    **(provenance or {}),
                    "method": "sefa",
                    "component": i,
                    "eigenvalue": float(eigenvalues[i]),
                    "eigenvalue_share": float(eigenvalues[i] / total),
                    "cumulative_eigenvalue_share": float(eigenvalues[: i + 1].sum() / total),
                    "normalize_columns": bool(normalize_columns),
                    "weight_shape": list(matrix.shape),
                    "num_images": 0 if codes is None else len(codes),
                    "scale": "unit" if not std else "std_of_codes",
                    "strength_1": "moves w by one unit" if not std else "moves w by one std of the codes along it",
                },
            )
        )
    return directions


def first_layer_weights(model, layers: str | tuple[int, int] | None = None, use_ema: bool = True) -> np.ndarray:
    """The effective weights `[latent, out]` of G's first layer(s) reading w, for `sefa_directions`.

    "Effective": the stored equalized-lr kernel times its run-time `coef` (`EqualizedDense`), what
    multiplies w in the forward pass.

    - MLP nets: G's first dense layer, `[latent, hidden_units[0]]`; `layers` must be None.
    - Style nets: the style modulation affines (`[latent, 2C]` each: C scales, C shifts) of the chosen
      style inputs, concatenated along the outputs (as the official SeFa code does). `layers`: as in
      `style_layers.style_layer_range`; default every style the model draws at its level.

    Args:
        model: an `ALAE`.
        use_ema: the EMA generator (default) or the trained one.
    Raises:
        EditingError: `layers` for MLP nets, or a bad range.
    """
    generator = model.nets(use_ema)[1]
    if not model.is_style:
        style_layer_range(model, layers, "first_layer_weights")  # raises for any layers on MLP nets
        dense = generator.dense_layers[0]
        return np.asarray(dense.kernel, np.float64) * dense.coef
    start, end = style_layer_range(model, layers, "first_layer_weights") or (0, 2 * (model.level + 1))
    parts = []
    for style in range(start, end):
        block = generator.blocks[style // 2]
        affine = (block.style_1 if style % 2 == 0 else block.style_2).affine
        parts.append(np.asarray(affine.kernel, np.float64) * affine.coef)
    return np.concatenate(parts, axis=1)

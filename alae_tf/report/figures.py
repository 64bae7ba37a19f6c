"""The report's image figures: samples, reconstructions and interpolations of a model, tiled into grids.

Grids are plain numpy tiling (`alae_tf.image_grids.grid`): they need no labels, and a tile stays
pixel-exact, enlarged only by whole-pixel repetition so small images can be seen.
"""

import numpy as np
import tensorflow as tf

from alae_tf import image_grids as image_utils
from alae_tf.image_grids import MIN_TILE_PX, tile_zoom, zoom  # noqa: F401  (the report's names for them)


def image_grid(images_float: np.ndarray, pixel_range, factor: int = 1, columns: int | None = None) -> np.ndarray:
    """Float images `[N, H, W, C]` in `pixel_range` as one uint8 grid, enlarged `factor` times."""
    return image_utils.zoom(image_utils.grid(image_utils.to_uint8(images_float, pixel_range), columns=columns), factor)


def sample_images(model, z, truncation_psi=None, use_ema=True, noise_seed=(0, 0)) -> np.ndarray:
    """G(F(z)) `[B, H, W, C]` float32 numpy, optionally truncated (fixed noise for style nets)."""
    return np.asarray(
        model.generate(
            tf.constant(z), truncation_psi=truncation_psi, use_ema=use_ema, noise_seed=tf.constant(noise_seed, tf.int32)
        ),
        np.float32,
    )


def reconstruction_images(model, images, use_ema=True, noise_seed=(0, 1)) -> np.ndarray:
    """G(E(x)) `[B, H, W, C]` float32 numpy of float images `[B, H, W, C]` in the pixel range."""
    return np.asarray(
        model.reconstruct(tf.constant(images), use_ema=use_ema, noise_seed=tf.constant(noise_seed, tf.int32)),
        np.float32,
    )


def interpolation_images(model, images_a, images_b, steps: int, use_ema=True, noise_seed=(0, 1)) -> np.ndarray:
    """Decoded straight lines in w between encoded image pairs: `[P, steps, H, W, C]` float32.

    Row p holds G((1 - t) E(a_p) + t E(b_p)) for `steps` values of t evenly from 0 to 1. Each t
    is decoded as one batch of the P pairs with the same `noise_seed`, so a row keeps its
    noise along the line (only w moves) and its ends are exactly
    `reconstruction_images(model, images_a)` and `(..., images_b)` with that seed.

    Args:
        images_a, images_b: float images `[P, H, W, C]` in the pixel range.
        steps: points per line, at least 2.
    """
    if steps < 2:
        raise ValueError(f"an interpolation needs at least 2 steps, got {steps}")
    w_a = tf.cast(model.encode(tf.constant(images_a), use_ema=use_ema), tf.float32)
    w_b = tf.cast(model.encode(tf.constant(images_b), use_ema=use_ema), tf.float32)
    seed = tf.constant(noise_seed, tf.int32)
    # (1 - t) a + t b, not a + t (b - a): only this form gives E(a) and E(b) exactly at the ends.
    decoded = [
        np.asarray(model.decode((1.0 - t) * w_a + t * w_b, use_ema=use_ema, noise_seed=seed), np.float32)
        for t in np.linspace(0.0, 1.0, steps, dtype=np.float32)
    ]
    return np.stack(decoded, axis=1)

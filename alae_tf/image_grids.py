"""Images for people to look at: uint8 from the pixel range, grids, zoom, PNG files.

(Reading and preparing training images is `alae_tf.data.image_ops`.)
"""

import math

import numpy as np
import tensorflow as tf

from alae_tf import atomic
from alae_tf.data.pipeline import from_pixel_range


def to_uint8(images, pixel_range):
    """Float images in `pixel_range` -> uint8 numpy, rounded and clipped (what a viewer shows):
    `data.from_pixel_range`, the one conversion, as numpy."""
    return from_pixel_range(images, pixel_range).numpy()


def grid(images, columns=None, pad=1):
    """Tile uint8 images `[N, H, W, C]` into one `[rows*(H+pad)+pad, ..., C]` image."""
    images = np.asarray(images)
    n, h, w, c = images.shape
    columns = columns or int(math.ceil(math.sqrt(n)))
    rows = int(math.ceil(n / columns))
    out = np.full((rows * (h + pad) + pad, columns * (w + pad) + pad, c), 255, np.uint8)
    for i, image in enumerate(images):
        r, col = divmod(i, columns)
        out[pad + r * (h + pad) : pad + r * (h + pad) + h, pad + col * (w + pad) : pad + col * (w + pad) + w] = image
    return out


def interleave(a, b):
    """`[a0, b0, a1, b1, ...]`: inputs beside their reconstructions."""
    return np.stack([a, b], axis=1).reshape((-1,) + a.shape[1:])


def write_png(path, image_uint8):
    atomic.write_bytes(path, tf.io.encode_png(image_uint8).numpy())


# Small images are enlarged (nearest neighbour) to at least this many px per tile, to be seen.
MIN_TILE_PX = 64


def zoom(image_uint8: np.ndarray, factor: int) -> np.ndarray:
    """Nearest-neighbour enlargement of `[H, W, C]` by an integer `factor`."""
    return np.repeat(np.repeat(image_uint8, factor, axis=0), factor, axis=1)


def tile_zoom(side: int) -> int:
    """The enlargement that brings a `side`-px tile to at least `MIN_TILE_PX` (1 if it is already)."""
    return max(1, MIN_TILE_PX // side)

"""tf.data pipelines over an in-memory image array, and the pixel-range mapping.

`training_batches` is an infinite, exactly resumable stream: the image at global position p
(counted in images since the start of training) is image perm_e[p % N] of epoch e = p // N,
where perm_e = argsort(stateless_uniform([N], seed=[seed, e])) (Philox, so the same on every
machine). The batch starting at position P therefore depends only on (seed, P): a run
restarted with start_image = images already seen continues the very same stream, and
progressive-growing phases may start at any position, not only at batch or epoch bounds.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import tensorflow as tf

from alae_tf.data.base import DatasetError

_ALG = "philox"  # explicit: "auto_select" would pick ThreeFry on TPU hosts, another order


def _check_range(pixel_range: Sequence[float]) -> tuple[float, float]:
    try:
        lo, hi = (float(v) for v in pixel_range)
    except (TypeError, ValueError):
        lo = hi = None
    if lo is None or lo == hi:
        raise DatasetError(
            f"pixel_range must be two different numbers (lo, hi), got {pixel_range!r}; e.g. (0, 1) or (-1, 1)."
        )
    return lo, hi


def to_pixel_range(images_uint8, pixel_range: Sequence[float] = (0.0, 1.0)) -> tf.Tensor:
    """Maps uint8 pixels to float32 linearly: 0 -> lo and 255 -> hi exactly. Any shape."""
    lo, hi = _check_range(pixel_range)
    t = tf.cast(images_uint8, tf.float32) / 255.0
    # lo * (1 - t) + hi * t, not lo + (hi - lo) * t: only this form hits hi exactly at t = 1.
    return lo * (1.0 - t) + hi * t


def from_pixel_range(images_float, pixel_range: Sequence[float] = (0.0, 1.0)) -> tf.Tensor:
    """Inverse of `to_pixel_range`: float in [lo, hi] -> uint8, rounded, clipped to 0..255."""
    lo, hi = _check_range(pixel_range)
    t = (tf.cast(images_float, tf.float32) - lo) / (hi - lo)
    return tf.cast(tf.clip_by_value(tf.round(t * 255.0), 0.0, 255.0), tf.uint8)


def _check_int(name: str, value, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise DatasetError(f"{name} must be an int >= {minimum}, got {value!r}.")


def _check_images(images, labels, batch_size) -> tuple[tf.Tensor, tf.Tensor | None]:
    if not isinstance(images, tf.Tensor):
        images = np.asarray(images)
    shape = tuple(images.shape)
    uint8 = tf.uint8 if isinstance(images, tf.Tensor) else np.uint8
    if images.dtype != uint8 or len(shape) != 4 or shape[0] == 0:
        raise DatasetError(
            f"expected uint8 images [N, H, W, C] with N > 0, got {images.dtype} "
            f"{shape}; load them with alae_tf.data.load_images."
        )
    _check_int("batch_size", batch_size, 1)
    if labels is not None:
        labels = np.asarray(labels)
        if labels.shape != shape[:1] or labels.dtype.kind not in "iu":
            raise DatasetError(f"labels must be {shape[0]} integers, got {labels.dtype} {labels.shape}.")
        labels = tf.constant(labels.astype(np.int64))
    # A numpy array is copied into a tensor here, on every call: for a large set, convert it
    # once with tf.constant and pass the tensor to each new stream.
    return tf.convert_to_tensor(images), labels


def _finish(ds: tf.data.Dataset) -> tf.data.Dataset:
    options = tf.data.Options()
    # The default static optimizations serialize the pipeline's graph, and with it the
    # captured image tensor: about 0.7 s per GB at every new stream. Nothing here needs them
    # (autotuned parallelism and prefetch are separate and stay on).
    options.experimental_optimization.apply_default_optimizations = False
    # Autotuning's model thread makes deleting an iterator block for up to ~9 s (measured:
    # every other fit() of a chunked run returned 9 s after its last step, 40% of a demo's
    # wall time). Without it, parallel maps use one call per core and we prefetch 2 batches.
    options.autotune.enabled = False
    return ds.prefetch(2).with_options(options)


def training_batches(
    images: np.ndarray,
    *,
    batch_size: int,
    seed: int,
    start_image: int = 0,
    pixel_range: Sequence[float] = (0.0, 1.0),
    flip: bool = False,
    labels: np.ndarray | None = None,
) -> tf.data.Dataset:
    """An infinite, deterministic, resumable stream of shuffled training batches.

    Args:
      images: uint8 [N, H, W, C], a numpy array or a tf.Tensor (used without a copy).
      batch_size: images per batch B; every batch is full (batches run across epoch ends).
      seed: shuffling (and flipping) seed, an int64.
      start_image: global position of the first image of the first batch, >= 0.
      pixel_range: (lo, hi) that pixel values 0 and 255 map to.
      flip: mirror each image left-right with probability 1/2, decided by (seed, position).
      labels: optional integers [N]; if given, elements are (images, labels) tuples.
    Returns:
      A tf.data.Dataset of float32 [B, H, W, C] (and int64 [B]) with static batch size.
    """
    images_t, labels_t = _check_images(images, labels, batch_size)
    _check_int("start_image", start_image, 0)
    lo, hi = _check_range(pixel_range)
    n = len(images_t)
    first_epoch, offset = divmod(int(start_image), n)
    seed = tf.constant(int(seed), tf.int64)

    def epoch(e):
        key = tf.stack([seed, e])
        order = tf.argsort(tf.random.stateless_uniform([n], key, alg=_ALG), stable=True)
        # Flips come from their own key, so turning flip on leaves the order unchanged.
        flips = (
            tf.random.stateless_uniform([n], tf.random.experimental.stateless_fold_in(key, 1, alg=_ALG), alg=_ALG) < 0.5
        )
        begin = tf.where(e == first_epoch, offset, 0)
        return tf.data.Dataset.from_tensor_slices((order[begin:], flips[begin:]))

    def make_batch(index, flipped):
        x = tf.gather(images_t, index)
        if flip:
            x = tf.where(flipped[:, None, None, None], tf.reverse(x, axis=[2]), x)
        x = to_pixel_range(x, (lo, hi))
        return x if labels_t is None else (x, tf.gather(labels_t, index))

    ds = tf.data.Dataset.counter(first_epoch).flat_map(epoch)
    ds = ds.batch(batch_size, drop_remainder=True)
    ds = ds.map(make_batch, num_parallel_calls=tf.data.AUTOTUNE)  # deterministic order kept
    return _finish(ds)


def eval_batches(
    images: np.ndarray, *, batch_size: int, pixel_range: Sequence[float] = (0.0, 1.0), labels: np.ndarray | None = None
) -> tf.data.Dataset:
    """One ordered pass over all images, no shuffle; the last batch may be smaller.

    Returns a finite tf.data.Dataset of float32 [<=B, H, W, C] in `pixel_range` (and int64
    [<=B] label batches, as tuples, if `labels` is given).
    """
    images_t, labels_t = _check_images(images, labels, batch_size)
    lo, hi = _check_range(pixel_range)

    def make_batch(index):
        x = to_pixel_range(tf.gather(images_t, index), (lo, hi))
        return x if labels_t is None else (x, tf.gather(labels_t, index))

    ds = tf.data.Dataset.range(len(images_t)).batch(batch_size)
    return _finish(ds.map(make_batch, num_parallel_calls=tf.data.AUTOTUNE))

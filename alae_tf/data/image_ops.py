"""Image preparation shared by every source: decode, channel conversion, crop, resize.

Everything here runs once, at load time, on uint8 data with PIL; nothing is ever under a
gradient, so the resize can be the antialiased one (Lanczos, PIL's old `ANTIALIAS`).

Conversions (the same for folders, TFRecords, TFDS and IDX):
  * grey -> RGB repeats the grey value into R, G and B;
  * RGB -> grey is ITU-R 601 luminance, L = 0.299 R + 0.587 G + 0.114 B (PIL's "L");
  * an alpha channel (RGBA, LA, palette with transparency) is dropped, not composited;
  * 16-bit grey keeps its 8 high bits; CMYK and other modes go through PIL's RGB conversion;
  * with a `resolution`, a non-square image is center-cropped to its shorter side first,
    then resized to resolution x resolution, so faces are never squashed.
"""

from __future__ import annotations

import concurrent.futures
import io
import itertools
import numbers
import os
import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np
from absl import logging
from PIL import Image

from alae_tf.data.base import BadImageError, DatasetError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
# What a loader does with an image that does not decode: leave it out (and say so), or stop.
BAD_IMAGE_POLICIES = ("skip", "fail")
# Above this fraction of bad files a set is more likely the wrong folder, or broken as a whole, than a few
# bad downloads: refuse rather than train on what is left.
DEFAULT_MAX_BAD_FRACTION = 0.01
# How many skipped files a warning or an error names; the full list is in ImageSet.skipped.
_NAMED = 3


def check_options(resolution: int | None, channels: int) -> None:
    """Raises DatasetError for a resolution or channel count the sources cannot produce."""
    if channels not in (1, 3):
        raise DatasetError(f"channels={channels!r} is not supported: use 1 (grey) or 3 (RGB).")
    if resolution is not None and (isinstance(resolution, bool) or not isinstance(resolution, int) or resolution < 1):
        raise DatasetError(
            f"resolution={resolution!r} is not valid: pass a positive int, or None to keep the native size."
        )


def decode(data: bytes, where: str) -> Image.Image:
    """Decodes PNG/JPEG bytes; `where` (a file name) is named in the error if they are bad.

    Raises:
      BadImageError: the bytes are not a complete PNG/JPEG image (a `DatasetError`).
    """
    try:
        image = Image.open(io.BytesIO(data))
        image.load()  # open() is lazy: truncation only shows up here
    except Exception as e:  # PIL raises many types: UnidentifiedImageError, OSError, SyntaxError
        raise BadImageError(
            f"{where} is not a readable PNG/JPEG image ({type(e).__name__}: {e}). Delete or "
            "replace it, or move it out of the dataset.",
            where,
            _reason(e),
        ) from e
    return image


def _reason(e: Exception) -> str:
    """A short, stable reason for a summary line: PIL names its BytesIO object, at an address that differs every run."""
    if isinstance(e, OSError) and e.strerror and not str(e).startswith(e.strerror):
        return e.strerror  # "Permission denied", without the repeated path
    return re.sub(r"\s*<_io\.BytesIO object at 0x[0-9a-fA-F]+>", "", str(e)) or type(e).__name__


def check_bad_image_options(bad_images: str, max_bad_fraction: float) -> None:
    """Raises DatasetError for a `bad_images` policy or `max_bad_fraction` the loaders do not accept."""
    if bad_images not in BAD_IMAGE_POLICIES:
        raise DatasetError(
            f"bad_images={bad_images!r} is not valid: use 'skip' (leave out images that do not decode, up to "
            "max_bad_fraction of them) or 'fail' (stop at the first one)."
        )
    if (
        isinstance(max_bad_fraction, bool)
        or not isinstance(max_bad_fraction, numbers.Real)
        or not 0 <= max_bad_fraction <= 1
    ):
        raise DatasetError(
            f"max_bad_fraction={max_bad_fraction!r} is not valid: pass a number from 0 to 1, e.g. 0.01 for 1 %."
        )


def _to_pil(array: np.ndarray) -> Image.Image:
    if array.dtype != np.uint8:
        raise DatasetError(f"images must be uint8, got {array.dtype}: rescale to 0..255 first.")
    if array.ndim == 3 and array.shape[-1] == 1:
        array = array[..., 0]
    modes = {2: "L", 3: {2: "LA", 3: "RGB", 4: "RGBA"}}
    mode = modes.get(array.ndim)
    if isinstance(mode, dict):
        mode = mode.get(array.shape[-1])
    if mode is None:
        raise DatasetError(
            f"cannot read an image of shape {array.shape}: expected [H, W] or [H, W, C] with C in 1, 2, 3, 4."
        )
    return Image.fromarray(np.ascontiguousarray(array), mode)


# PIL modes of one grey value per pixel (with an alpha channel beside it for LA / La, which `fit` drops);
# 16-bit grey ("I;16", "I;16B", ...) too. Every other mode (RGB, RGBA, palette, CMYK, ...) is colour.
GREY_MODES = frozenset({"1", "L", "LA", "La", "I", "F"})


def native_channels(image: Image.Image) -> int:
    """The channels `image` holds as stored: 1 for a grey mode (`GREY_MODES`), else 3.

    What `fit(image, None, c)` keeps without converting between grey and colour: a caller that must
    not convert (the editor's own images, used as they are) compares it with the channels it needs.
    """
    return 1 if image.mode in GREY_MODES or image.mode.startswith("I;16") else 3


def _to_mode(image: Image.Image, channels: int) -> Image.Image:
    target = "L" if channels == 1 else "RGB"
    if image.mode == target:
        return image
    if image.mode.startswith("I;16") or image.mode == "I":
        # PIL's own I -> L conversion clips at 255 instead of scaling 16-bit values.
        high = (np.asarray(image, dtype=np.uint32) >> 8).clip(0, 255).astype(np.uint8)
        image = Image.fromarray(high, "L")
    elif image.mode == "P":
        image = image.convert("RGBA")  # honours palette transparency; alpha is dropped below
    if image.mode in ("LA", "La") and target == "L":
        return image.getchannel(0)
    return image.convert(target)  # RGB(A)->L is luminance; L->RGB repeats; RGBA->RGB drops alpha


def fit(image: Image.Image | np.ndarray, resolution: int | None, channels: int) -> np.ndarray:
    """Converts one image to `channels` and, if `resolution` is set, to a square of that size.

    Args:
      image: a PIL image, or a uint8 array [H, W] or [H, W, C] with C in 1..4.
      resolution: output side in pixels (center crop to square, then Lanczos resize), or None
        to keep the size.
      channels: 1 or 3.
    Returns:
      uint8 array [resolution, resolution, channels] (or [H, W, channels] when None).
    """
    if isinstance(image, np.ndarray):
        image = _to_pil(image)
    image = _to_mode(image, channels)
    if resolution is not None:
        w, h = image.size
        if w != h:
            side = min(w, h)
            left, top = (w - side) // 2, (h - side) // 2
            image = image.crop((left, top, left + side, top + side))
        if image.size != (resolution, resolution):
            image = image.resize((resolution, resolution), Image.Resampling.LANCZOS)
    array = np.asarray(image)
    return array[..., None] if array.ndim == 2 else array


def stack(images: Iterable[np.ndarray], names: Sequence[str] | None = None, source: str = "the dataset") -> np.ndarray:
    """Stacks [H, W, C] uint8 images into [N, H, W, C]; DatasetError if sizes differ or none."""
    images = list(images)
    if not images:
        raise DatasetError(f"no images found in {source}: check the path and split.")
    first = images[0].shape
    for i, image in enumerate(images):
        if image.shape != first:
            which = names[i] if names else f"image {i}"
            raise DatasetError(
                f"images have different sizes ({first[1]}x{first[0]} first, {image.shape[1]}x"
                f"{image.shape[0]} for {which}): pass a resolution to resize "
                "them all."
            )
    return np.stack(images)


def fit_array(images: np.ndarray, resolution: int | None, channels: int) -> np.ndarray:
    """`fit` over a uint8 array [N, H, W, C]; returns it unchanged when nothing is to be done."""
    if images.dtype != np.uint8:
        raise DatasetError(f"images must be uint8, got {images.dtype}: rescale to 0..255 first.")
    n, h, w, c = images.shape
    if c == channels and (resolution is None or h == w == resolution):
        return images
    if n == 0:
        side = (h, w) if resolution is None else (resolution, resolution)
        return np.zeros((0, *side, channels), np.uint8)
    if h * w <= 64 * 64:
        # Threads lose here: for MNIST-sized images the GIL-bound Python part dominates.
        return stack([fit(image, resolution, channels) for image in images])
    return parallel_map(lambda image: fit(image, resolution, channels), images)


def _map_in_windows(fn: Callable[[Any], Any], items: Iterable[Any]) -> list[Any]:
    """`[fn(item) for item in items]` on a thread pool (PIL decodes and resizes without the GIL), in input order.

    Items are consumed in windows, so a lazy iterable of large raw images (TFDS, TFRecords)
    is never all in memory at once: only the results are kept.
    """
    workers = min(8, os.cpu_count() or 1)
    results: list[Any] = []
    items = iter(items)
    with concurrent.futures.ThreadPoolExecutor(workers) as pool:
        # Tasks of 32 items: one future per small image (28x28) costs more than the image.
        while window := list(itertools.islice(items, 32 * 4 * workers)):
            tasks = [window[i : i + 32] for i in range(0, len(window), 32)]
            for done in pool.map(lambda task: [fn(item) for item in task], tasks):
                results += done
    return results


def parallel_map(
    fn: Callable[[Any], np.ndarray],
    items: Iterable[Any],
    names: Sequence[str] | None = None,
    source: str = "the dataset",
) -> np.ndarray:
    """Applies `fn` to each item on a thread pool (PIL decodes and resizes without the GIL)
    and stacks the results in input order.

    Items are consumed in windows, so a lazy iterable of large raw images (TFDS, TFRecords)
    is never all in memory at once: only the fitted results are kept.
    """
    return stack(_map_in_windows(fn, items), names, source)


def _percent(fraction: float) -> str:
    return f"{100 * fraction:.3g} %"


def _listing(skipped: Sequence[tuple[str, str]]) -> str:
    named = "; ".join(f"{where}: {reason}" for where, reason in skipped[:_NAMED])
    return named + ("; ..." if len(skipped) > _NAMED else "")


def parallel_map_images(
    fn: Callable[[Any], np.ndarray],
    items: Iterable[Any],
    names: Sequence[str] | None = None,
    source: str = "the dataset",
    *,
    bad_images: str = "skip",
    max_bad_fraction: float = DEFAULT_MAX_BAD_FRACTION,
) -> tuple[np.ndarray, list[int], tuple[tuple[str, str], ...]]:
    """`parallel_map` for files or records that may not decode, under a bad-image policy.

    `fn` reads and fits one item; it raises `BadImageError` for an image that cannot be read
    or decoded (`decode` does). Other errors always propagate.

    Args:
      fn: item -> uint8 [H, W, C].
      items: the items, possibly lazy; `names[i]` (read after the items are consumed) names item i.
      names: for errors about image sizes.
      source: the folder or files, for messages.
      bad_images: "skip" leaves bad images out and logs one warning that counts and names
        them; "fail" raises the first one's error.
      max_bad_fraction: with "skip", raise a DatasetError when more than this fraction of
        the items are bad.
    Returns:
      `(images [N_kept, H, W, C], kept: the indices of the kept items in input order,
      skipped: (name, reason) of each bad item in input order)`.
    Raises:
      BadImageError: with "fail", the first bad item; with "skip", the first one when every item is bad.
      DatasetError: no items, images of different sizes, or too many bad items.
    """
    check_bad_image_options(bad_images, max_bad_fraction)
    if bad_images == "fail":
        results = _map_in_windows(fn, items)
        return stack(results, names, source), list(range(len(results))), ()

    def attempt(item):
        try:
            return fn(item)
        except BadImageError as e:  # returned, not raised, so one bad file does not end the map
            return e

    results = _map_in_windows(attempt, items)
    bad = [r for r in results if isinstance(r, BadImageError)]
    kept = [i for i, r in enumerate(results) if not isinstance(r, BadImageError)]
    if bad and not kept:
        # Nothing decodes: most likely the wrong folder or format, which the first error says best.
        raise bad[0]
    skipped = tuple((e.where, e.reason) for e in bad)
    fraction = len(bad) / len(results) if results else 0.0
    if fraction > max_bad_fraction:
        raise DatasetError(
            f"{len(bad)} of {len(results)} images in {source} ({_percent(fraction)}) cannot be read or decoded, "
            f"more than the {_percent(max_bad_fraction)} allowed (max_bad_fraction={max_bad_fraction}): "
            f"{_listing(skipped)}. Fix or delete these files, or raise max_bad_fraction "
            "(--max_bad_image_fraction) to train without them."
        )
    if skipped:
        logging.warning(
            "skipped %d of %d images in %s that do not decode (first: %s)",
            len(skipped),
            len(results),
            source,
            _listing(skipped),
        )
    kept_names = [names[i] for i in kept] if names else None
    return stack([results[i] for i in kept], kept_names, source), kept, skipped

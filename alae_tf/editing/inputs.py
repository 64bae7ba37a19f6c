"""Images to edit: the user's own PNG/JPEG files, or a dataset split's images, as the run's nets read them.

- `load_user_images`: files and folders, read and decoded by the `folder:` source
  (`alae_tf.data.folder`), used as they are: never resized, never converted between grey and colour.
- `load_split_images`: a split's images, cropped, resized and converted by their source
  (`alae_tf.data`), pooled to the nets' level.
- `select_images` / `select_image_pairs`: one or the other, as `alae-edit` takes them.
- `check_images`: what every edit checks of the images it is given.
"""

from __future__ import annotations

import dataclasses
import os
import re

import numpy as np

from alae_tf import data
from alae_tf.data import folder as folder_source
from alae_tf.data import image_ops
from alae_tf.editing.checks import check_int
from alae_tf.editing.errors import EditingError
from alae_tf.editing.options import safe_name, unique_names
from alae_tf.workdir import pool_to_resolution

DEFAULT_COUNT = 8
_SAFE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+=-]{0,127}$")


def load_run_split(run, spec: str, split: str, data_dir):
    """The `ImageSet` of `split` of `spec` at the run's shape, pooled to the nets' level.

    The run's own dataset comes from `run.load_split`; another spec is loaded at the run's image shape.
    """
    if spec == run.config.dataset:
        return run.load_split(split, data_dir)
    image_set = data.load_split(spec, split, run.config.image_shape, data_dir=data_dir)
    return dataclasses.replace(image_set, images=pool_to_resolution(image_set.images, int(run.model.resolution)))


def _shape_text(shape) -> str:
    return " x ".join(str(int(v)) for v in shape)


def _user_files(paths_or_folder) -> list[tuple[str, str]]:
    """(path, name) of every image: files as given, folders searched as the folder: source does."""
    if isinstance(paths_or_folder, (str, os.PathLike)):
        paths_or_folder = [paths_or_folder]
    entries = [str(p) for p in paths_or_folder if str(p).strip()]
    if not entries:
        raise EditingError("no images given: pass PNG/JPEG files or a folder of them")
    found = []
    for entry in entries:
        if os.path.isdir(entry):
            files = folder_source.list_images(entry)
            if not files:
                raise EditingError(f"no PNG/JPEG images under {entry} (searched recursively)")
            found += [(f, os.path.splitext(os.path.relpath(f, entry))[0]) for f in files]
        elif os.path.isfile(entry):
            if not entry.lower().endswith(image_ops.IMAGE_SUFFIXES):
                raise EditingError(
                    f"{entry} is not a PNG/JPEG file (it must end in {', '.join(image_ops.IMAGE_SUFFIXES)})"
                )
            found.append((entry, os.path.splitext(os.path.basename(entry))[0]))
        else:
            raise EditingError(f"no such image file or folder: {entry}")
    names = unique_names([safe_name(name.replace(os.sep, "_"), "image") for _, name in found])
    return [(path, name) for (path, _), name in zip(found, names)]


def _read_user_image(path: str, image_shape) -> np.ndarray:
    height, width, channels = (int(v) for v in image_shape)
    image = folder_source.read_image(path)  # the folder: source's reading, decoding and errors
    has = image_ops.native_channels(image)
    got = (image.size[1], image.size[0], has)
    if got != (height, width, channels):
        what = "grey" if channels == 1 else "RGB"
        fixes = []
        if got[:2] != (height, width):
            fixes.append(f"resize (and crop) it to {width} x {height} pixels")
        if has != channels:
            fixes.append(
                f"convert it to {what} (e.g. PIL: Image.open(path).convert('{'L' if channels == 1 else 'RGB'}'))"
            )
        raise EditingError(
            f"{path} is {_shape_text(got)} (PIL mode {image.mode}); this run's nets read {_shape_text(image_shape)} "
            f"(H x W x C). Your own images are used as they are, never resized: {' and '.join(fixes)} first, "
            "or edit them as a dataset (--dataset=folder:DIR --split=train --count=N), whose images are "
            "center-cropped, resized and converted to the nets' shape."
        )
    return image_ops.fit(image, None, channels)


def load_user_images(paths_or_folder, image_shape, pixel_range) -> tuple[np.ndarray, list[str]]:
    """The user's own PNG/JPEG files (a list of files and/or folders), as the nets read them.

    Files are decoded as the `folder:` source decodes them (an alpha channel dropped), but never
    resized or converted between grey and colour: each must already be `image_shape`.

    Args:
        paths_or_folder: a file, a folder (searched recursively, hidden files skipped), or a list of them.
        image_shape: `(H, W, C)` the nets read (`Run.image_shape`).
        pixel_range: the run's `config.pixel_range`.
    Returns:
        `(images float32 [N, H, W, C] in pixel_range, names)`: names are the file names without suffix
        (paths below a folder joined by "_"), made unique and safe for file names.
    Raises:
        EditingError: no images, a missing or non-PNG/JPEG file, an image of another size or channel count.
        DatasetError: a file that cannot be read or does not decode (as the folder: source says it).
    """
    files = _user_files(paths_or_folder)
    pixels = np.stack([_read_user_image(path, image_shape) for path, _ in files])
    return np.asarray(data.to_pixel_range(pixels, pixel_range), np.float32), [name for _, name in files]


def load_split_images(
    run,
    split: str | None = None,
    count: int = DEFAULT_COUNT,
    *,
    offset: int = 0,
    dataset: str | None = None,
    data_dir: str | None = None,
) -> tuple[np.ndarray, list[str]]:
    """Images `offset .. offset + count` of a split (default "test") of the run's dataset (or `dataset`).

    The source crops, resizes and converts them to the run's shape, then they are pooled to the nets' level.

    Returns:
        `(images float32 [count, H, W, C] in the run's pixel range, names "<split>_<index>")`.
    """
    split = split or "test"
    check_int(count, "count", 1)
    check_int(offset, "offset", 0)
    spec = dataset or run.config.dataset
    image_set = load_run_split(run, spec, split, data_dir)
    if len(image_set) < offset + count:
        raise EditingError(f"{spec}/{split} has {len(image_set)} images; {offset + count} are needed")
    pixels = image_set.images[offset : offset + count]
    names = [f"{safe_name(split, 'split')}_{i:05d}" for i in range(offset, offset + count)]
    return np.asarray(data.to_pixel_range(pixels, run.config.pixel_range), np.float32), names


def select_images(
    run,
    images=None,
    *,
    split: str | None = None,
    count: int = DEFAULT_COUNT,
    offset: int = 0,
    dataset: str | None = None,
    data_dir: str | None = None,
) -> tuple[np.ndarray, list[str]]:
    """`load_user_images(images)` if files or folders are given, else `load_split_images` of the split."""
    if images:
        return load_user_images(images, run.image_shape, run.config.pixel_range)
    return load_split_images(run, split, count, offset=offset, dataset=dataset, data_dir=data_dir)


def select_image_pairs(
    run,
    images=None,
    images_b=None,
    *,
    split: str | None = None,
    count: int = DEFAULT_COUNT,
    dataset: str | None = None,
    data_dir: str | None = None,
):
    """Images A and B paired row by row: `((a, names_a), (b, names_b))`.

    A: `images` (files/folders) or the split's first `count`; B: `images_b`, or, with A from the split, its
    next `count` images.
    """
    a = select_images(run, images, split=split, count=count, dataset=dataset, data_dir=data_dir)
    if images_b:
        b = load_user_images(images_b, run.image_shape, run.config.pixel_range)
    elif images:
        raise EditingError("images B are missing: pass --images_b (or take A and B from a split: --split, --count)")
    else:
        b = load_split_images(run, split, count, offset=count, dataset=dataset, data_dir=data_dir)
    if len(a[0]) != len(b[0]):
        raise EditingError(f"{len(a[0])} images A but {len(b[0])} images B: they pair row by row")
    return a, b


def check_images(run, images, names, what: str) -> tuple[np.ndarray, list[str]]:
    """Float images `[N >= 1, *run.image_shape]` as float32 and one file-safe, distinct name each.

    `names` None names them `image_000`, `image_001`, ...

    Raises:
        EditingError: uint8 (or other non-float) images, another shape, or names missing, repeated or unsafe.
    """
    x = np.asarray(images)
    if x.dtype.kind != "f":
        raise EditingError(
            f"{what}: images must be floats in the run's pixel range {tuple(run.config.pixel_range)} "
            f"(load_user_images / load_split_images give them), got {x.dtype}"
        )
    if x.ndim != 4 or len(x) == 0 or tuple(x.shape[1:]) != tuple(run.image_shape):
        raise EditingError(
            f"{what}: images must be [N >= 1, {', '.join(map(str, run.image_shape))}] (the nets at their level), "
            f"got {x.shape}"
        )
    names = [f"image_{i:03d}" for i in range(len(x))] if names is None else [str(n) for n in names]
    if len(names) != len(x):
        raise EditingError(f"{what}: {len(names)} names for {len(x)} images")
    bad = [n for n in names if not _SAFE.match(n)]
    if bad:
        raise EditingError(f"{what}: image names must be file names (letters, digits, _.+=-), got {bad[:3]}")
    if len(set(names)) != len(names):
        raise EditingError(f"{what}: image names repeat")
    return x.astype(np.float32), names

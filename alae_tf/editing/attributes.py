"""Per-image numbers to regress w on (`methods.regression_direction`): built-in statistics and a CSV.

Built in: `ink_mass` (the mean pixel value) and `brightness` (mean luma for RGB). Anything else
(a face's age, a rating) comes from a CSV of `filename,value` rows (`read_attribute_csv`).
"""

from __future__ import annotations

import csv
import math
import pathlib
from collections.abc import Sequence

import numpy as np

from alae_tf.editing.errors import EditingError

# ITU-R BT.601 luma weights (on the stored, gamma-encoded values, as JPEG's Y).
LUMA_WEIGHTS = (0.299, 0.587, 0.114)


def _uint8_images(images, what: str) -> np.ndarray:
    images = np.asarray(images)
    if images.dtype != np.uint8 or images.ndim != 4 or images.shape[-1] not in (1, 3):
        raise EditingError(f"{what}: expected uint8 images [N, H, W, 1 or 3], got {images.dtype} {images.shape}")
    return images


def ink_mass(images_uint8) -> np.ndarray:
    """Mean pixel value / 255 per image, `[N]` float64 in [0, 1] (all channels alike).

    On Fashion-MNIST (light garments on black) this is how much of the frame the garment fills,
    and how bright it is.
    """
    images = _uint8_images(images_uint8, "ink_mass")
    return images.reshape(len(images), -1).mean(axis=1, dtype=np.float64) / 255.0


def brightness(images_uint8) -> np.ndarray:
    """Mean luma / 255 per image, `[N]` float64 in [0, 1]: BT.601 weights for RGB, the grey value for 1 channel."""
    images = _uint8_images(images_uint8, "brightness")
    if images.shape[-1] == 1:
        return ink_mass(images)
    per_channel = images.reshape(len(images), -1, 3).mean(axis=1, dtype=np.float64)
    return per_channel @ np.asarray(LUMA_WEIGHTS) / 255.0


def _lookup_keys(name: str) -> list[str]:
    """`name` then its shorter path suffixes: "a/b/c.png" -> ["a/b/c.png", "b/c.png", "c.png"]."""
    parts = [p for p in str(name).replace("\\", "/").split("/") if p not in ("", ".")]
    return ["/".join(parts[i:]) for i in range(len(parts))]


def read_attribute_csv(path: str | pathlib.Path, filenames: Sequence[str]) -> np.ndarray:
    """Values `[len(filenames)]` float64 for `filenames`, from a CSV of `filename,value` rows.

    A first row whose first cell is `filename` (any case) is a header. A file name matches a row that
    names it or a trailing part of its path (the longest such part wins), so a CSV of base names
    ("img001.png") or of paths relative to the dataset folder serves absolute `filenames`, e.g. from
    `alae_tf.data.folder.list_images`. Extra rows are ignored.

    Raises:
        EditingError: no such file; a row without two cells, with a value that is not a finite number,
            or naming a file twice; a file name without a row (the first few are listed).
    """
    path = pathlib.Path(path)
    if not path.is_file():
        raise EditingError(f"no attribute CSV at {path}")
    try:
        with path.open(newline="", encoding="utf-8-sig") as f:  # utf-8-sig: a spreadsheet's BOM is no file name
            rows = list(csv.reader(f))
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise EditingError(f"cannot read attribute CSV {path} ({e})") from e
    values: dict[str, float] = {}
    for number, row in enumerate(rows, start=1):
        if not row or all(not cell.strip() for cell in row):
            continue
        if number == 1 and row[0].strip().lower() == "filename":
            continue
        if len(row) < 2:
            raise EditingError(f"{path} line {number}: expected 'filename,value', got {row!r}")
        name, text = row[0].strip(), row[1].strip()
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not math.isfinite(value):
            raise EditingError(f"{path} line {number}: the value of {name!r} is {text!r}, not a finite number")
        keys = _lookup_keys(name)
        if not keys:
            raise EditingError(f"{path} line {number}: empty file name")
        key = keys[0]
        if key in values and values[key] != value:
            raise EditingError(f"{path} line {number}: {name!r} has two values ({values[key]} and {value})")
        values[key] = value
    found, missing = [], []
    for filename in filenames:
        value = next((values[k] for k in _lookup_keys(filename) if k in values), None)
        if value is None:
            missing.append(filename)
        else:
            found.append(value)
    if missing:
        raise EditingError(
            f"{path} has no row for {len(missing)} of {len(filenames)} images, e.g. {missing[:3]}; "
            "each needs a 'filename,value' row (its base name or a path ending it)"
        )
    return np.asarray(found, np.float64)

"""IDX files, the format of MNIST and Fashion-MNIST (`--dataset=idx:DIR`).

An IDX file is: two zero bytes, a type code (0x08 = uint8 ...), the number of dimensions,
one big-endian uint32 per dimension, then the values, big-endian, row-major. Files may be
gzipped (recognised by content, not by name).

In DIR, split "train" reads `train-images-idx3-ubyte[.gz]` and split "test" reads
`t10k-images-idx3-ubyte[.gz]` (or `test-...`); any other split name is used as the prefix
itself. Longer prefixes ending in the split's name also match, such as
`emnist-letters-train-images-idx3-ubyte.gz`, as does the `train-images.idx3-ubyte` spelling.
The matching `...-labels-idx1-ubyte[.gz]` file is optional; without it labels are None.
A relative DIR is resolved by `paths.resolve` (against `data_dir` when given) before it gets here.
"""

from __future__ import annotations

import gzip
import math
import os
import re
import struct
import zlib

import numpy as np

from alae_tf.data import image_ops
from alae_tf.data.base import DatasetError, ImageSet

_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
_SPLIT_PREFIXES = {"train": ("train",), "test": ("t10k", "test")}
_FILE = re.compile(r"(?P<prefix>.+?)[-.](?P<kind>images|labels)[-.]idx(?P<rank>\d)-ubyte(?P<gz>\.gz)?")


def read_idx(path: str) -> np.ndarray:
    """Reads one IDX file (plain or gzipped) into a native-endian numpy array.

    Raises DatasetError, naming the file, if it is unreadable, not IDX, truncated or too long.
    """
    try:
        with open(path, "rb") as f:
            raw = f.read()
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as e:
        raise DatasetError(f"cannot read {path} ({type(e).__name__}: {e}); re-download or re-extract it.") from e
    if len(raw) < 4 or raw[:2] != b"\0\0" or raw[2] not in _DTYPES:
        raise DatasetError(
            f"{path} is not an IDX file (magic bytes {raw[:4].hex() or 'missing'});"
            " point the dataset at MNIST-style idx3/idx1 files."
        )
    ndim = raw[3]
    header = 4 + 4 * ndim
    dtype = np.dtype(_DTYPES[raw[2]])
    dims = struct.unpack(f">{ndim}I", raw[4:header]) if len(raw) >= header else None
    expected = header + math.prod(dims) * dtype.itemsize if dims is not None else header
    if len(raw) != expected:
        problem = "truncated" if len(raw) < expected else "longer than its header says"
        raise DatasetError(
            f"{path} is {problem} ({len(raw)} bytes, header says {expected}); re-download or re-extract it."
        )
    # astype copies into a writable native-endian array (frombuffer alone is read-only).
    return np.frombuffer(raw, dtype, offset=header).reshape(dims).astype(dtype.newbyteorder("="))


def _find(directory: str, split: str) -> tuple[str, str | None]:
    """Returns (images path, labels path or None) for `split` in `directory`."""
    prefixes = _SPLIT_PREFIXES.get(split, (split,))
    found: dict[str, dict[str, str]] = {}
    for name in sorted(os.listdir(directory)):
        m = _FILE.fullmatch(name)
        if not m or m["rank"] != ("3" if m["kind"] == "images" else "1"):
            continue
        last = re.split(r"[-_.]", m["prefix"])[-1]
        if m["prefix"] in prefixes or last in prefixes:
            # The plain file wins over its .gz twin: it needs no decompression.
            entry = found.setdefault(m["prefix"], {})
            if m["kind"] not in entry or not m["gz"]:
                entry[m["kind"]] = os.path.join(directory, name)
    with_images = {p: e for p, e in found.items() if "images" in e}
    if len(with_images) != 1:
        raise LookupError(sorted(os.path.basename(e["images"]) for e in with_images.values()))
    (entry,) = with_images.values()
    return entry["images"], entry.get("labels")


def load_dir(
    directory: str,
    split: str,
    *,
    resolution: int | None,
    channels: int,
    name: str,
    what: str = "IDX files",
    fix: str = "Pass --dataset=idx:DIR with DIR holding MNIST-style files.",
) -> ImageSet:
    """Loads one split of IDX images (and labels if present) from `directory`.

    Returns an ImageSet with uint8 images [N, H, W, channels] (resized to `resolution` if
    given) and int64 labels [N] or None. `what` and `fix` word the error when files are missing.
    """
    prefix = _SPLIT_PREFIXES.get(split, (split,))[0]
    expected = f"{prefix}-images-idx3-ubyte[.gz] and {prefix}-labels-idx1-ubyte[.gz]"
    if not os.path.isdir(directory):
        raise DatasetError(f"{what} not found: {directory} is not a directory (expected {expected} in it). {fix}")
    try:
        images_path, labels_path = _find(directory, split)
    except LookupError as e:
        (candidates,) = e.args
        detail = f"; several match: {', '.join(candidates)}" if candidates else ""
        raise DatasetError(
            f"{what} for split {split!r} not found in {directory} (expected {expected}{detail}). {fix}"
        ) from None
    images = read_idx(images_path)
    if (
        images.dtype != np.uint8
        or images.ndim not in (3, 4)
        or (images.ndim == 4 and images.shape[-1] not in (1, 3, 4))
    ):
        raise DatasetError(
            f"{images_path} holds {images.dtype} of shape {images.shape}; "
            "expected uint8 images [N, H, W] or [N, H, W, C]."
        )
    if images.ndim == 3:
        images = images[..., None]
    labels = None
    if labels_path is not None:
        labels = read_idx(labels_path)
        if labels.ndim != 1 or labels.shape[0] != images.shape[0] or labels.dtype.kind not in "iu":
            raise DatasetError(
                f"{labels_path} holds {labels.dtype} of shape {labels.shape} but "
                f"{images_path} has {images.shape[0]} images; expected one integer"
                " label per image. Re-download the pair."
            )
        labels = labels.astype(np.int64)
    return ImageSet(image_ops.fit_array(images, resolution, channels), labels, name)

"""Types shared by every data source: the error users see and the in-memory image set."""

from __future__ import annotations

import dataclasses

import numpy as np


class DatasetError(ValueError):
    """A user-facing data problem; the message names the problem and how to fix it."""


class BadImageError(DatasetError):
    """One image file or record that cannot be read or decoded.

    Attributes:
      where: the file (or "FILE record I") it names.
      reason: why, in a few words, for the summary of skipped images.
    """

    def __init__(self, message: str, where: str, reason: str):
        super().__init__(message)
        self.where = where
        self.reason = reason


@dataclasses.dataclass(frozen=True)
class ImageSet:
    """A whole split held in memory.

    Attributes:
      images: uint8 array [N, H, W, C], C is 1 or 3.
      labels: int64 array [N], or None when the source has no labels.
      name: "<spec>/<split>", e.g. "fashion_mnist/train", for logs and summaries.
      class_names: the label names, when the source has them (folder subfolders), else None.
      skipped: `(name, reason)` of each file or record left out because it does not decode
        or cannot be read (`bad_images="skip"`), in read order; empty when none was.
    """

    images: np.ndarray
    labels: np.ndarray | None
    name: str
    class_names: tuple[str, ...] | None = None
    # Last, with a default, so the positional form ImageSet(images, labels, name, class_names) still works.
    skipped: tuple[tuple[str, str], ...] = ()

    def __len__(self) -> int:
        return len(self.images)

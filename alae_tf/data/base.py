"""Types shared by every data source: the error users see and the in-memory image set."""

from __future__ import annotations

import dataclasses

import numpy as np


class DatasetError(ValueError):
    """A user-facing data problem; the message names the problem and how to fix it."""


@dataclasses.dataclass(frozen=True)
class ImageSet:
    """A whole split held in memory.

    Attributes:
      images: uint8 array [N, H, W, C], C is 1 or 3.
      labels: int64 array [N], or None when the source has no labels.
      name: "<spec>/<split>", e.g. "fashion_mnist/train", for logs and summaries.
      class_names: the label names, when the source has them (folder subfolders), else None.
    """

    images: np.ndarray
    labels: np.ndarray | None
    name: str
    class_names: tuple[str, ...] | None = None

    def __len__(self) -> int:
        return len(self.images)

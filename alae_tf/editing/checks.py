"""Argument checks the editing library shares; each failure is an `EditingError` naming the argument.

`check_int` is the one test of "an int in a range" (a bool is not an int here, although Python
says it is: `True` as a count or a layer index is a mistake, not 1); `check_codes` the one test of
codes `w [N, latent]` handed to a direction method; `check_labels` of their int classes.
"""

from __future__ import annotations

import numbers

import numpy as np

from alae_tf.editing.errors import EditingError


def is_int(value) -> bool:
    """Whether `value` is an integer (Python or numpy) and not a bool."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def check_int(value, what: str, low: int, high: int | None = None, note: str = "") -> int:
    """`value` as an int if `is_int(value)` and `low <= value` (`<= high` when given), else an `EditingError`.

    The message reads "`what` must be an int >= `low`, got ..." or "... an int in [`low`, `high`] `note`, got ...".
    """
    if not is_int(value) or value < low or (high is not None and value > high):
        bound = f">= {low}" if high is None else f"in [{low}, {high}]"
        raise EditingError(f"{what} must be an int {bound}{' ' + note if note else ''}, got {value!r}")
    return int(value)


def check_codes(w, what: str, minimum: int = 2) -> np.ndarray:
    """Codes `[N >= minimum, latent]` of finite numbers, as float64; else an `EditingError` from `what`."""
    w = np.asarray(w)
    if w.ndim != 2 or w.dtype.kind not in "fiu" or len(w) < minimum or w.shape[1] == 0:
        raise EditingError(f"{what}: codes must be numbers [N >= {minimum}, latent], got {w.dtype} {w.shape}")
    w = w.astype(np.float64)
    if not np.all(np.isfinite(w)):
        raise EditingError(f"{what}: the codes hold NaN or inf")
    return w


def check_labels(labels, n: int, what: str) -> np.ndarray:
    """Int labels `[n]` >= 0 as int64, else an `EditingError` from `what` (None: the data has none)."""
    if labels is None:
        raise EditingError(f"{what} needs labels; this data has none")
    labels = np.asarray(labels)
    if labels.shape != (n,) or labels.dtype.kind not in "iu" or (n and labels.min() < 0):
        raise EditingError(
            f"{what}: labels must be {n} integers >= 0 (one per code), got {labels.dtype} {labels.shape}"
        )
    return labels.astype(np.int64)

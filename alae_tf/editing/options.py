"""What a user typed, as the editing library takes it: `--layers`, `--classes`, `--strengths`, and file names.

Each parser takes the flag's text (or the value a library caller passes) and returns the value the
library uses, or raises an `EditingError` that says what was expected.
"""

from __future__ import annotations

import math
import numbers
import re
from collections.abc import Sequence

from alae_tf.editing.checks import is_int
from alae_tf.editing.errors import EditingError
from alae_tf.editing.supervised import ONE_VS_REST


def parse_layers(layers) -> str | tuple[int, int] | None:
    """`--layers` as `edit` takes it: None/"" (every layer), "coarse" | "middle" | "fine", or "START:END"."""
    if layers is None or (isinstance(layers, str) and not layers.strip()):
        return None
    if isinstance(layers, str):
        text = layers.strip()
        if text in ("coarse", "middle", "fine"):
            return text
        match = re.fullmatch(r"(\d+):(\d+)", text)
        if not match:
            raise EditingError(
                f"layers must be coarse, middle, fine or START:END (style inputs, end exclusive), got {layers!r}"
            )
        return int(match.group(1)), int(match.group(2))
    return layers


def parse_classes(classes):
    """`--classes`: None (one vs rest), "one_vs_rest", "A,B" (from class A to class B) or a pair of ints."""
    if classes is None or (isinstance(classes, str) and not classes.strip()):
        return ONE_VS_REST
    if isinstance(classes, str):
        text = classes.strip()
        if text == ONE_VS_REST:
            return text
        parts = [p.strip() for p in text.split(",")]
        if len(parts) == 2 and all(re.fullmatch(r"\d+", p) for p in parts):
            return int(parts[0]), int(parts[1])
        raise EditingError(f"classes must be {ONE_VS_REST!r} or two class numbers 'A,B', got {classes!r}")
    try:
        a, b = classes
    except (TypeError, ValueError):
        a = b = None
    if not all(is_int(c) for c in (a, b)):
        raise EditingError(f"classes must be {ONE_VS_REST!r} or a pair of class numbers, got {classes!r}")
    return int(a), int(b)


def parse_strengths(strengths) -> list[float]:
    """Finite numbers (or their texts), at least one, no two alike in file names (`+1`, `-0.5`)."""
    if strengths is None or isinstance(strengths, (str, numbers.Number)):
        strengths = [strengths] if strengths is not None else []
    values = []
    for s in strengths:
        try:
            value = float(s)
        except (TypeError, ValueError):
            value = math.nan
        if not math.isfinite(value):
            raise EditingError(f"strengths must be finite numbers, got {s!r}")
        values.append(value)
    if not values:
        raise EditingError("give at least one strength, e.g. -2,-1,0,1,2")
    labels = [strength_label(v) for v in values]
    repeated = sorted({x for x in labels if labels.count(x) > 1})
    if repeated:
        raise EditingError(f"strengths repeat: {repeated}")
    return values


def strength_label(value: float) -> str:
    """A strength as it appears in file names: `+1`, `-0.5`, `+0`."""
    return f"{value:+g}"


def safe_name(text: str, fallback: str) -> str:
    """`text` as a file name (letters, digits, `_.+=-`; no leading dot), or `fallback` if nothing is left."""
    name = re.sub(r"[^A-Za-z0-9_.+=-]", "_", str(text)).lstrip("._+=-")[:100]
    return name or fallback


def unique_names(names: Sequence[str]) -> list[str]:
    """`names` in order, a repeated one suffixed `_2`, `_3`, ... so that no two are alike."""
    used: set[str] = set()
    out = []
    for name in names:
        candidate, i = name, 2
        while candidate in used:
            candidate, i = f"{name}_{i}", i + 1
        used.add(candidate)
        out.append(candidate)
    return out

"""Which of a style generator's inputs an edit touches: named groups and `(start, end)` ranges.

Style nets take one w per style layer, `2 * layer_count` of them: block b (drawing at `4 * 2**b`
px) reads styles `2b` and `2b + 1`. StyleGAN (Karras et al. 2019, section 3.1) names three
groups by the resolution they act on, and so do we, by block resolution, whatever the model's size:

- "coarse": 4-8 px (styles 0-3): pose, general shape;
- "middle": 16-32 px (styles 4-7): smaller features;
- "fine": 64 px and up (styles 8 on): colour scheme and micro-structure.

Only the styles of blocks the model draws at its level are "active" (`2 * (level + 1)`); a group
is cut to them, so "fine" is empty on a model at 32 px or below and asking for it is an error.
"""

from __future__ import annotations

from alae_tf.editing.checks import is_int
from alae_tf.editing.errors import EditingError

# (first block, first block after) of each group, by block index: block b draws at 4 * 2**b px.
GROUP_BLOCKS = {"coarse": (0, 2), "middle": (2, 4), "fine": (4, None)}
GROUP_PIXELS = {"coarse": "4-8 px", "middle": "16-32 px", "fine": "64 px and up"}

LayerRange = tuple[int, int]


def _check_style(model, what: str) -> None:
    if not model.is_style:
        raise EditingError(f"{what}: the MLP nets have one w and no style layers; leave layers/cutoff unset")


def num_style_layers(model) -> int:
    """All of G's style inputs, `2 * layer_count` (style nets only)."""
    _check_style(model, "num_style_layers")
    return int(model.generator.num_styles)


def active_style_layers(model) -> int:
    """The style inputs the model draws with at its level, `2 * (level + 1)` (style nets only)."""
    _check_style(model, "active_style_layers")
    return 2 * (int(model.level) + 1)


def style_layer_groups(model) -> dict[str, LayerRange]:
    """`{"coarse": (start, end), "middle": ..., "fine": ...}` over the active styles; a range may be empty."""
    active = active_style_layers(model)
    groups = {}
    for group, (first, after) in GROUP_BLOCKS.items():
        end = active if after is None else min(2 * after, active)
        groups[group] = (min(2 * first, active), end)
    return groups


def style_layer_range(model, layers: str | tuple[int, int] | None, what: str = "edit") -> LayerRange | None:
    """`layers` as `(start, end)` style indices (inclusive-exclusive), or None for every layer.

    Args:
        model: an `ALAE`.
        layers: None (every layer: w itself moves), "coarse", "middle", "fine", or `(start, end)`
            with `0 <= start < end <= 2 * layer_count`.
        what: the caller's name, for messages.
    Raises:
        EditingError: `layers` given for MLP nets, an unknown group, a group empty at the model's level,
            or a range out of bounds.
    """
    if layers is None:
        return None
    _check_style(model, what)
    total = num_style_layers(model)
    if isinstance(layers, str):
        groups = style_layer_groups(model)
        if layers not in groups:
            raise EditingError(f"{what}: layers must be one of {sorted(groups)} or (start, end), got {layers!r}")
        start, end = groups[layers]
        if start >= end:
            raise EditingError(
                f"{what}: the {layers!r} styles ({GROUP_PIXELS[layers]}) are not drawn by this model at level "
                f"{model.level} ({model.resolution} px); its groups are {groups}. Pass a range (start, end) instead."
            )
        return start, end
    try:
        start, end = layers
        ok = all(is_int(v) for v in (start, end))
    except (TypeError, ValueError):
        ok = False
    if not ok or not 0 <= start < end <= total:
        raise EditingError(
            f"{what}: layers must be 'coarse', 'middle', 'fine' or (start, end) with 0 <= start < end <= {total} "
            f"(this model's style inputs), got {layers!r}"
        )
    return int(start), int(end)

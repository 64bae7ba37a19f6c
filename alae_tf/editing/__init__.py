"""Editing real images with a trained ALAE: find directions in w, then move codes along them.

- `directions`: `Direction` (a named vector with its provenance), its `.npz` files
  (`save_directions` / `load_directions`, a run's in `WORKDIR/directions/`), `orthogonalize`.
- `methods`: class means, InterFaceGAN linear boundaries, attribute regression, GANSpace PCA and
  SeFa, as numpy on codes (`first_layer_weights` reads SeFa's matrix from a model).
- `attributes`: per-image numbers to regress on (`ink_mass`, `brightness`, `read_attribute_csv`).
- `operations`: batched TensorFlow edits of images: `encode`, `move`, `edit` (per style layer
  range for style nets), `style_mix`, `interpolate`, `traversal`, `refine`, `grid`.
- `style_layers`: the style nets' "coarse" / "middle" / "fine" groups and layer ranges.
- `codes`: codes of a whole split (`encode_dataset`) and where they came from (`run_provenance`).

Every user-facing failure is an `EditingError` (a `ValueError`).
"""

from alae_tf.editing.attributes import brightness, ink_mass, read_attribute_csv
from alae_tf.editing.codes import encode_dataset, run_provenance
from alae_tf.editing.directions import (
    Direction,
    direction_matrix,
    direction_name,
    load_directions,
    orthogonalize,
    save_directions,
)
from alae_tf.editing.errors import EditingError
from alae_tf.editing.methods import (
    ONE_VS_REST,
    class_mean_directions,
    first_layer_weights,
    linear_directions,
    pca_directions,
    regression_direction,
    sefa_directions,
)
from alae_tf.editing.operations import (
    DEFAULT_NOISE_SEED,
    decode_styles,
    edit,
    edited_styles,
    encode,
    grid,
    image_shape,
    interpolate,
    mixed_styles,
    move,
    refine,
    style_mix,
    styles_from_w,
    traversal,
)
from alae_tf.editing.style_layers import (
    active_style_layers,
    num_style_layers,
    style_layer_groups,
    style_layer_range,
)

__all__ = [
    "DEFAULT_NOISE_SEED",
    "ONE_VS_REST",
    "Direction",
    "EditingError",
    "active_style_layers",
    "brightness",
    "class_mean_directions",
    "decode_styles",
    "direction_matrix",
    "direction_name",
    "edit",
    "edited_styles",
    "encode",
    "encode_dataset",
    "first_layer_weights",
    "grid",
    "image_shape",
    "ink_mass",
    "interpolate",
    "linear_directions",
    "load_directions",
    "mixed_styles",
    "move",
    "num_style_layers",
    "orthogonalize",
    "pca_directions",
    "read_attribute_csv",
    "refine",
    "regression_direction",
    "run_provenance",
    "save_directions",
    "sefa_directions",
    "style_layer_groups",
    "style_layer_range",
    "style_mix",
    "styles_from_w",
    "traversal",
]

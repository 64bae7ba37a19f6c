"""Editing real images with a trained ALAE: find directions in w, then move codes along them.

The library (names below are re-exported here):

- `directions`: `Direction` (a named vector with its provenance), its `.npz` files
  (`save_directions` / `load_directions`, a run's in `WORKDIR/directions/`), `orthogonalize`.
- `supervised`: class means, InterFaceGAN linear boundaries and attribute regression; `components`:
  GANSpace PCA and SeFa (`first_layer_weights` reads SeFa's matrix from a model). Numpy on codes.
- `transport`: `ClassTransport`, class edits by the Gaussian optimal-transport map between two
  classes' codes (each code keeps its place within its class; numpy on codes).
- `attributes`: per-image numbers to regress on (`ink_mass`, `brightness`, `read_attribute_csv`).
- `operations`: batched TensorFlow edits of images: `encode`, `move`, `edit` (per style layer
  range for style nets), `style_mix`, `interpolate`, `traversal`, `refine`, `grid`.
- `style_layers`: the style nets' "coarse" / "middle" / "fine" groups and layer ranges.
- `codes`: codes of a whole split (`encode_dataset`) and where they came from (`run_provenance`).
- `checks`: the argument checks they share (`check_int`, `check_codes`).

Workflows on a run folder (`alae-edit`): `workflows` (apply edits, mixes and
interpolations into PNG folders) with `direction_builders` (find and save a run's directions, one
builder per method), `saved_directions`, `inputs` (images to edit), `options` (flag texts) and
`outputs` (output folders); `photo_edits` (your own photo, aligned) and `official` (the authors'
attribute directions and their edit rule).

Every user-facing failure is an `EditingError` (a `ValueError`).
"""

from alae_tf.editing.attributes import brightness, ink_mass, read_attribute_csv
from alae_tf.editing.codes import encode_dataset, run_provenance
from alae_tf.editing.components import first_layer_weights, pca_directions, sefa_directions
from alae_tf.editing.directions import (
    Direction,
    direction_matrix,
    direction_name,
    load_directions,
    orthogonalize,
    save_directions,
)
from alae_tf.editing.errors import EditingError
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
from alae_tf.editing.supervised import ONE_VS_REST, class_mean_directions, linear_directions, regression_direction
from alae_tf.editing.transport import ClassTransport

__all__ = [
    "ClassTransport",
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

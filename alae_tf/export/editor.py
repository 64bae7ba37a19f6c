"""The `editor` part: real images edited in one request (encode, move w, decode), uint8 in and out.

Signatures (batch B is dynamic; images uint8 `[B, H, W, C]` at the exported level, as every
image signature of the export; `latent` is w's size; K directions were baked in at export):

| signature | inputs | outputs |
|---|---|---|
| `edit` (= `serving_default`) | `image`, `direction` float32 [1 or B, latent], `strength` float32 [B] | `image` uint8 |
| `edit_by_index` | `image`, `index` int32 [B] (into the baked directions), `strength` float32 [B] | `image` uint8 |
| `mix` (style nets only) | `image_a`, `image_b` uint8 [B, H, W, C], `cutoff` int32 [] | `image` uint8 |
| `directions` | none | `directions` float32 [K, latent], `names` string [K] |
| `transport` (**) | `image`, `target` int32 [B] (a class), `strength` float32 [B] | `image` uint8, `source` int32 [B] |
| `edit_official` (*) | `image`, `value` float32 [1 or B, K'] | `image` uint8, `styles`, `coordinate` |
| `shift_official` (*) | `image`, `shift` float32 [1 or B, K'] | `image` uint8, `styles`, `coordinate` |
| `official_coordinates` (*) | `image` | `coordinate` float32 [B, K'] |

(*) only in an editor exported with official directions (K' of them). (**) only with a class transport
(`editor_transport`: `WORKDIR/class_transport.npz`, which `alae-edit --mode=transport` saves): E(x) moved
from the class whose Gaussian fits it best (`source`) towards `target`, as `editing.ClassTransport`.

- `edit`: `G(E(x) + strength * direction)`, every style layer moved for style nets (as
  `alae_tf.editing.edit` with `layers=None`). `direction` is one row for the whole batch or one
  row per image (TF Serving's REST row format sends one per instance); a SignatureDef fixes its
  rank, so a single direction is `[1, latent]`.
- `edit_by_index`: the same with row `index[i]` of the baked matrix for image i. Without
  directions (K = 0) every request is refused with a message saying so; `edit` still works.
- `mix`: A's styles for style inputs below `cutoff`, B's from `cutoff` on (`cutoff` in
  `[0, 2 * layer_count]`, as `alae_tf.editing.style_mix`); the MLP nets have no styles to mix.
- `directions`: the baked matrix and the names, so that clients know what an index means. It has
  no inputs: call it over gRPC (TF Serving's REST API refuses signatures without inputs) or read
  `assets.extra/directions.json`, which holds the same directions with their provenance.

- `edit_official` / `shift_official`: the official rule of `interactive_demo.py`
  (`alae_tf.editing.official`) on the K' official directions baked in (`export_saved_models(...,
  official_directions=)`, listed with their provenance, `dlatent_avg` and the layer range in
  `assets.extra/official_directions.json`): `u = E(x) - dlatent_avg`, coordinates `v = u D^T`, `u -= v D`,
  `w' = u + v' D + dlatent_avg` with `v' = value` (the official sliders) or `v + shift`; w' on the baked
  style layers (default [0, 16) cut to the model), `E(x)` on the others. `styles` (float32 `[B, S, latent]`,
  `[B, latent]` for the MLP nets) is G's input, `coordinate` the photo's own coordinates `v`.
  `official_coordinates` gives `v` alone (the sliders' start).

Numbers. The images equal the editing library's (`alae_tf.editing.edit` and `style_mix` on the
model's EMA nets, float images from `alae_tf.data.to_pixel_range`) up to the uint8 rounding: the
uint8 <-> float conversion and the float32 nets are `signatures`' and G and E run at the exported
level and blend (`style`'s wrappers). The style generator's noise is the library's too: drawn for
the batch from `alae_tf.editing.DEFAULT_NOISE_SEED` (`StyleGenerator.draw_noise`), so an edit at
strength 0 is the library's reconstruction and, as in the library, an image's noise depends on its
row in the batch. (The other parts' fixed noise is per image, from `signatures.NOISE_SEED`, so
`alae`'s `reconstruct` of a style net differs from a strength-0 edit in its noise.)

Bad input is refused at the signature: dtype by the signature itself, rank and shape (image size,
channels, direction length) by an EnsureShape, non-finite directions and strengths and the index
and cutoff ranges by the checks every signature runs (`alae_tf.export.input_checks`, with the
editor's rules `_Editor.rules`), and what involves several inputs (direction rows, strengths per
image, batches of A and B) by asserts here; every message names the signature, the input and what
it must be.
"""

import dataclasses
import json
import pathlib
from collections.abc import Iterable, Mapping

import numpy as np
import tensorflow as tf

from alae_tf import atomic, editing, storage
from alae_tf.editing import official as official_rule
from alae_tf.export import input_checks, signatures, style
from alae_tf.export.artifacts import ExportError

PART = "editor"
# Beside alae_export.json; TF Serving ignores everything in assets.extra/ but the warm-up records.
DIRECTIONS_PATH = pathlib.Path("assets.extra") / "directions.json"
DIRECTIONS_FORMAT = "alae_tf.export.directions/1"
OFFICIAL_PATH = pathlib.Path("assets.extra") / "official_directions.json"
OFFICIAL_FORMAT = "alae_tf.export.official_directions/1"
OFFICIAL_SIGNATURES = ("edit_official", "official_coordinates", "shift_official")
WORKDIR_DIRECTIONS = "directions"  # WORKDIR/directions/: the run's directions (editing.save_directions)


# ------------------------------------------------------------------ directions
def check_directions(directions, latent_size):
    """`directions` (Directions, or `{name: Direction}` as `editing.load_directions` returns) as a list.

    Raises:
        ExportError: something that is not a `Direction`, two directions of one name, or a vector
            whose size is not the model's w.
    """
    if directions is None:
        return []
    if isinstance(directions, Mapping):
        directions = directions.values()
    if isinstance(directions, editing.Direction) or not isinstance(directions, Iterable):
        directions = [directions]
    directions = list(directions)
    wrong = [type(d).__name__ for d in directions if not isinstance(d, editing.Direction)]
    if wrong:
        raise ExportError(f"directions must be alae_tf.editing.Direction objects, got {sorted(set(wrong))}")
    names = [d.name for d in directions]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ExportError(f"two directions share the names {duplicates}: an index would not say which is meant")
    sizes = {d.name: d.latent_size for d in directions if d.latent_size != int(latent_size)}
    if sizes:
        raise ExportError(f"directions {sizes} do not have the model's w size {latent_size}: made for another model?")
    return directions


def write_directions_asset(saved_model_dir, directions, latent_size):
    """Write `assets.extra/directions.json`: the baked directions, in index order, with their provenance.

    `{"format", "count" (K), "latent_size", "directions": [{"index", "name", "vector", "provenance"}]}`.
    """
    record = {
        "format": DIRECTIONS_FORMAT,
        "count": len(directions),
        "latent_size": int(latent_size),
        "directions": [
            {"index": i, "name": d.name, "vector": d.vector.tolist(), "provenance": d.provenance}
            for i, d in enumerate(directions)
        ],
    }
    atomic.write_text(storage.path(saved_model_dir) / DIRECTIONS_PATH, json.dumps(record, indent=2, sort_keys=True))


def read_directions_asset(saved_model_dir):
    """The `Direction`s baked into an exported editor, in index order.

    Raises:
        ExportError: no such file (not an editor written by this package) or another format.
    """
    path = storage.path(saved_model_dir) / DIRECTIONS_PATH
    if not path.is_file():
        raise ExportError(
            f"{saved_model_dir} has no {DIRECTIONS_PATH}: not an editor written by alae-export-saved-model"
        )
    record = json.loads(path.read_text())
    if record.get("format") != DIRECTIONS_FORMAT:
        raise ExportError(f"{path} has format {record.get('format')!r}; this build reads {DIRECTIONS_FORMAT!r}")
    return [
        editing.Direction(d["name"], np.asarray(d["vector"], np.float32), d["provenance"]) for d in record["directions"]
    ]


@dataclasses.dataclass(frozen=True)
class Official:
    """What the official rule needs in the graph: directions, the model's `dlatent_avg`, the layers replaced.

    `layers` is `(start, end)` of the style inputs (None for MLP nets), as `editing.official.official_layers`.
    """

    directions: tuple
    dlatent_avg: np.ndarray
    layers: tuple | None

    @classmethod
    def of(cls, model, directions, layers=None):
        """The official bake for `model` (its `dlatent_avg`; `layers` default [0, 16) cut to its style inputs).

        Raises:
            ExportError: directions that are not `Direction`s, share a name or do not fit the model; bad layers.
        """
        directions = check_directions(directions, model.dlatent_size)
        if not directions:
            return None
        try:
            span = official_rule.official_layers(model, layers)
        except editing.EditingError as e:
            raise ExportError(f"official directions: {e}") from e
        avg = np.asarray(model.dlatent_avg.numpy(), np.float32)
        return cls(tuple(directions), avg, None if span is None else tuple(int(v) for v in span))

    @property
    def matrix(self):
        return editing.direction_matrix(list(self.directions))


def write_official_asset(saved_model_dir, bake):
    """Write `assets.extra/official_directions.json`: the official directions, `dlatent_avg`, the layers."""
    record = {
        "format": OFFICIAL_FORMAT,
        "rule": "interactive_demo.py: u = E(x) - dlatent_avg; v = u D^T; u -= v D; w' = u + v' D + dlatent_avg",
        "count": len(bake.directions),
        "latent_size": int(bake.dlatent_avg.shape[0]),
        "layers": None if bake.layers is None else list(bake.layers),
        "dlatent_avg": bake.dlatent_avg.tolist(),
        "directions": [
            {"index": i, "name": d.name, "vector": d.vector.tolist(), "provenance": d.provenance}
            for i, d in enumerate(bake.directions)
        ],
    }
    atomic.write_text(storage.path(saved_model_dir) / OFFICIAL_PATH, json.dumps(record, indent=2, sort_keys=True))


def read_official_asset(saved_model_dir):
    """The `Official` bake of an exported editor, or None if it has no official directions.

    Raises:
        ExportError: a file of another format.
    """
    path = storage.path(saved_model_dir) / OFFICIAL_PATH
    if not path.is_file():
        return None
    record = json.loads(path.read_text())
    if record.get("format") != OFFICIAL_FORMAT:
        raise ExportError(f"{path} has format {record.get('format')!r}; this build reads {OFFICIAL_FORMAT!r}")
    directions = tuple(
        editing.Direction(d["name"], np.asarray(d["vector"], np.float32), d["provenance"]) for d in record["directions"]
    )
    layers = None if record["layers"] is None else tuple(record["layers"])
    return Official(directions, np.asarray(record["dlatent_avg"], np.float32), layers)


# ------------------------------------------------------------------ signatures
def _checked(checks, *tensors):
    """`tensors`, computed after the assert ops `checks` (so no op fails on bad input before they do)."""
    with tf.control_dependencies(checks):
        return [tf.identity(t) for t in tensors]


class _Editor:
    """Input specs and the computations behind the editor's signatures, on float32 nets."""

    def __init__(self, nets, pixel_range, directions, official=None, transport=None):
        self.c = signatures.Computations(nets, pixel_range)
        self.transport_bake = transport
        self.generator = nets.generator
        self.is_style = isinstance(nets.generator, style.StyleGeneratorAtLevel)
        self.latent = int(nets.mapping.dlatent_size)
        directions = check_directions(directions, self.latent)
        self.names = [d.name for d in directions]
        self.matrix = editing.direction_matrix(directions) if directions else np.zeros((0, self.latent), np.float32)
        self.num_styles = int(nets.generator.generator.num_styles) if self.is_style else 0
        batch = lambda name, dtype: tf.TensorSpec([None], dtype, name=name)  # noqa: E731
        self.image = self.c.image_uint8
        self.image_a = tf.TensorSpec(self.image.shape, tf.uint8, name="image_a")
        self.image_b = tf.TensorSpec(self.image.shape, tf.uint8, name="image_b")
        self.direction = tf.TensorSpec([None, self.latent], tf.float32, name="direction")
        self.strength = batch("strength", tf.float32)
        self.index = batch("index", tf.int32)
        self.cutoff = tf.TensorSpec([], tf.int32, name="cutoff")
        self.rules = {**self.c.rules, input_checks.rule_key(self.index): self._index_rule()}
        if transport is not None:
            self.target = batch("target", tf.int32)
            k = transport.num_classes
            self.rules[input_checks.rule_key(self.target)] = input_checks.Rule(
                0, k - 1, requirement=f"must be in [0, {k})"
            )
        self.official = official
        if official is not None:
            k = len(official.directions)
            self.value = tf.TensorSpec([None, k], tf.float32, name="value")
            self.shift = tf.TensorSpec([None, k], tf.float32, name="shift")
        if self.is_style:
            self.rules[input_checks.rule_key(self.cutoff)] = input_checks.Rule(
                0, self.num_styles, requirement=f"must be in [0, {self.num_styles}] (style inputs)"
            )

    def _index_rule(self):
        """`edit_by_index`'s `index`: a row of the baked matrix; none fits when nothing was baked in."""
        if self.count:
            requirement = f"must be in [0, {self.count}) (the directions baked in; see the `directions` signature)"
        else:
            requirement = (
                "cannot be used: this editor was exported without directions (export_workdir bakes in "
                "WORKDIR/directions/); use the `edit` signature with a direction vector, or export again with "
                "directions"
            )
        return input_checks.Rule(0, self.count - 1, requirement=requirement)

    @property
    def count(self):
        return len(self.names)

    # -- nets
    def _noise(self, batch):
        """The editing library's noise for a batch (`ALAE.synthesize` with `editing.DEFAULT_NOISE_SEED`)."""
        return self.generator.generator.draw_noise(self.generator.level, batch, seed=editing.DEFAULT_NOISE_SEED)

    def _decode(self, w):
        """uint8 images of codes w `[B, latent]`, w in every style slot."""
        if not self.is_style:
            return self.c.to_uint8(self.c.decode(w))
        return self.c.to_uint8(self.generator(w, noise=self._noise(tf.shape(w)[0]), training=False))

    def _decode_styles(self, styles):
        """uint8 images of styles `[B, num_styles, latent]` (style nets), at the exported level and blend."""
        g = self.generator
        images = g.generator(styles, level=g.level, blend=g.blend, noise=self._noise(tf.shape(styles)[0]))
        return self.c.to_uint8(images)

    def _encode(self, image):
        return self.c.encode(self.c.from_uint8(image))

    def _moved(self, what, image, rows, strength):
        """`G(E(x) + strength * rows)` for `rows` `[B, latent]`, after checking `strength` has B numbers."""
        batch = tf.shape(image)[0]
        check = tf.debugging.Assert(
            tf.equal(tf.shape(strength)[0], batch),
            [f"{what}: strength must be [B], one number per image; got", tf.shape(strength)[0], "for", batch, "images"],
        )
        rows, strength = _checked([check], rows, strength)
        return {"image": self._decode(self._encode(image) + strength[:, None] * rows)}

    # -- signatures
    def edit(self, image, direction, strength):
        batch, rows = tf.shape(image)[0], tf.shape(direction)[0]
        check = tf.debugging.Assert(
            tf.logical_or(tf.equal(rows, 1), tf.equal(rows, batch)),
            [
                f"edit: direction must be [1, {self.latent}] (one for every image) or [B, {self.latent}] "
                "(one per image); got",
                rows,
                "rows for",
                batch,
                "images",
            ],
        )
        (direction,) = _checked([check], direction)
        return self._moved("edit", image, tf.broadcast_to(direction, [batch, self.latent]), strength)

    def edit_by_index(self, image, index, strength):
        # Its range (`rules`) is checked before this runs; what is left is its batch.
        batch = tf.shape(image)[0]
        check = tf.debugging.Assert(
            tf.equal(tf.shape(index)[0], batch),
            ["edit_by_index: index must be [B], one per image; got", tf.shape(index)[0], "for", batch, "images"],
        )
        (index,) = _checked([check], index)
        rows = tf.gather(tf.constant(self.matrix), index)
        return self._moved("edit_by_index", image, rows, strength)

    def mix(self, image_a, image_b, cutoff):
        # `cutoff`'s range (`rules`) is checked before this runs.
        batch_a, batch_b = tf.shape(image_a)[0], tf.shape(image_b)[0]
        check = tf.debugging.Assert(
            tf.equal(batch_a, batch_b),
            ["mix: image_a and image_b pair row by row; got", batch_a, "and", batch_b, "images"],
        )
        image_a, image_b, cutoff = _checked([check], image_a, image_b, cutoff)
        shape = [batch_a, self.num_styles, self.latent]
        styles_a = tf.broadcast_to(self._encode(image_a)[:, None], shape)
        styles_b = tf.broadcast_to(self._encode(image_b)[:, None], shape)
        first = tf.range(self.num_styles)[None, :, None] < cutoff
        return {"image": self._decode_styles(tf.where(first, styles_a, styles_b))}

    def transport(self, image, target, strength):
        # `target`'s range (`rules`) is checked before this runs; what is left is the batch.
        batch = tf.shape(image)[0]
        sizes = tf.stack([tf.shape(target)[0], tf.shape(strength)[0]])
        check = tf.debugging.Assert(
            tf.reduce_all(tf.equal(sizes, batch)),
            ["transport: target and strength must be [B], one per image; got", sizes, "for", batch, "images"],
        )
        target, strength = _checked([check], target, strength)
        moved, source = self.transport_bake.move(self._encode(image), target, strength)
        return {"image": self._decode(moved), "source": source}

    def directions(self):
        return {"directions": tf.constant(self.matrix), "names": tf.constant(self.names, tf.string, [self.count])}

    # -- the official rule (interactive_demo.py)
    def _official(self, what, image, key, numbers):
        """`{"image", "styles", "coordinate"}`: the official rule with `numbers` [1 or B, K'] as `key`."""
        batch = tf.shape(image)[0]
        rows = tf.shape(numbers)[0]
        check = tf.debugging.Assert(
            tf.logical_or(tf.equal(rows, 1), tf.equal(rows, batch)),
            [
                f"{what}: {key} must be [1, K] (for every image) or [B, K] (one row per image); got",
                rows,
                "rows for",
                batch,
                "images",
            ],
        )
        (numbers,) = _checked([check], numbers)
        matrix = tf.constant(self.official.matrix)
        avg = tf.constant(self.official.dlatent_avg)[None]
        w = self._encode(image)
        u = w - avg
        v = tf.matmul(u, matrix, transpose_b=True)
        rest = u - tf.matmul(v, matrix)
        new = tf.broadcast_to(numbers, tf.shape(v)) if key == "value" else v + numbers
        edited = rest + tf.matmul(new, matrix) + avg
        if not self.is_style:
            return {"image": self._decode(edited), "styles": edited, "coordinate": v}
        start, end = self.official.layers
        inside = np.zeros(self.num_styles, bool)
        inside[start:end] = True
        styles = tf.where(tf.constant(inside)[None, :, None], edited[:, None, :], w[:, None, :])
        return {"image": self._decode_styles(styles), "styles": styles, "coordinate": v}

    def edit_official(self, image, value):
        return self._official("edit_official", image, "value", value)

    def shift_official(self, image, shift):
        return self._official("shift_official", image, "shift", shift)

    def official_coordinates(self, image):
        matrix = tf.constant(self.official.matrix)
        u = self._encode(image) - tf.constant(self.official.dlatent_avg)[None]
        return {"coordinate": tf.matmul(u, matrix, transpose_b=True)}


def endpoints(nets, pixel_range, directions=(), official=None, transport=None):
    """`{signature name: tf.function}` of the editor (module docstring); `official` / `transport`: bakes or None."""
    e = _Editor(nets, pixel_range, directions, official, transport)
    table = {
        # Editing is the editor's own job: the default.
        "serving_default": (e.edit, e.image, e.direction, e.strength),
        "edit": (e.edit, e.image, e.direction, e.strength),
        "edit_by_index": (e.edit_by_index, e.image, e.index, e.strength),
        "directions": (e.directions,),
    }
    if e.is_style:
        table["mix"] = (e.mix, e.image_a, e.image_b, e.cutoff)
    if official is not None:
        table["edit_official"] = (e.edit_official, e.image, e.value)
        table["shift_official"] = (e.shift_official, e.image, e.shift)
        table["official_coordinates"] = (e.official_coordinates, e.image)
    if transport is not None:
        table["transport"] = (e.transport, e.image, e.target, e.strength)
    return signatures.signature_functions(table, e.rules)


def input_rules(nets, pixel_range, directions=(), transport=None):
    """`{input_checks.rule_key(spec): Rule}` of the editor's signatures (index, cutoff, target; `_Editor.rules`)."""
    return _Editor(nets, pixel_range, directions, transport=transport).rules


def build_archive(nets, pixel_range, directions=(), official=None, transport=None):
    """A `keras.export.ExportArchive` (a tf.Module) holding the editor's E and G and every signature."""
    return signatures.new_archive(endpoints(nets, pixel_range, directions, official, transport))


def int_ranges(nets, directions=(), transport=None):
    """`{input: (low, high)}`, the valid values (half-open) of the editor's integer inputs, for warm-up requests.

    `index` has an empty range without directions: no valid `edit_by_index` request exists then.
    """
    rules = input_rules(nets, (0.0, 1.0), directions, transport)
    return {
        key: (int(rule.low), int(rule.high) + 1)
        for (key, dtype), rule in sorted(rules.items())
        if tf.dtypes.as_dtype(dtype).is_integer
    }

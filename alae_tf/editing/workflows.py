"""Editing workflows on a run folder: find and save directions, edit, mix and interpolate images into PNGs.

What `alae-edit` does, as library calls on an opened run (`alae_tf.workdir.open_run`).
This module applies edits; the other jobs have modules of their own, whose names it passes on:

- `direction_builders.build_directions`: encode a split with the EMA nets and find directions by one
  method (`class_mean`, `linear`, `regression`, `pca`, `sefa`), optionally orthogonal to directions
  saved before, and save them with their provenance to `WORKDIR/directions/NAME.npz`
  (`saved_directions`: find them by name, describe them).
- `inputs`: images to edit: the user's own PNG/JPEG files (`load_user_images`: used as they are, never
  resized) or a dataset split's first images (`load_split_images`: cropped and resized by the source).
- `options`: the flags' texts (`--layers`, `--classes`, `--strengths`) as the library takes them.
- Here: `apply_edits` (traversal grids and edited images), `apply_style_mix` (style nets),
  `apply_interpolation`: each checks every input first and then writes its whole output folder
  at once (`outputs`: a temp folder renamed into place), so a failure writes nothing.

Output folders (default `WORKDIR/edits/<mode>-<time>`): grids at the top (`<direction>.png`,
`mix.png`, `interpolation.png`), every single image in `images/`, and `edits.json` saying what
made them. Every user-facing failure is an `EditingError` (or the data sources' `DatasetError`).
"""

from __future__ import annotations

import numpy as np

from alae_tf import image_grids
from alae_tf.editing import operations
from alae_tf.editing.checks import check_int
from alae_tf.editing.direction_builders import ATTRIBUTES, DEFAULT_K, DEFAULT_MAX_IMAGES, METHODS, build_directions
from alae_tf.editing.errors import EditingError
from alae_tf.editing.inputs import (
    DEFAULT_COUNT,
    check_images,
    load_split_images,
    load_user_images,
    select_image_pairs,
    select_images,
)
from alae_tf.editing.options import parse_layers, parse_strengths, strength_label
from alae_tf.editing.outputs import IMAGES_FOLDER, MANIFEST, Written, manifest, output_folder, write_outputs
from alae_tf.editing.saved_directions import describe_direction, resolve_directions, select_directions
from alae_tf.editing.style_layers import num_style_layers, style_layer_groups, style_layer_range

# The names `alae-edit` and the tests read from here, wherever they live.
__all__ = [
    "ATTRIBUTES",
    "DEFAULT_COUNT",
    "DEFAULT_K",
    "DEFAULT_MAX_IMAGES",
    "DEFAULT_STEPS",
    "DEFAULT_STRENGTHS",
    "MANIFEST",
    "METHODS",
    "Written",
    "apply_edits",
    "apply_interpolation",
    "apply_style_mix",
    "build_directions",
    "check_refinement",
    "check_style_nets",
    "decode_batched",
    "describe_direction",
    "encode_batched",
    "load_split_images",
    "load_user_images",
    "parse_layers",
    "refine_codes",
    "select_directions",
    "select_image_pairs",
    "select_images",
]

DEFAULT_STRENGTHS = (-2.0, -1.0, 0.0, 1.0, 2.0)
DEFAULT_STEPS = 7
# Images per encoder / decoder call of an edit.
BATCH_SIZE = 64


def check_refinement(refine_steps, refine_learning_rate) -> None:
    """Raise `EditingError` unless `refine_steps` is an int >= 0 and the learning rate > 0."""
    check_int(refine_steps, "refine_steps", 0)
    if not float(refine_learning_rate) > 0:
        raise EditingError(f"refine learning rate must be > 0, got {refine_learning_rate}")


def _batches(n: int):
    return [slice(start, start + BATCH_SIZE) for start in range(0, n, BATCH_SIZE)]


def encode_batched(model, x, use_ema) -> np.ndarray:
    """Codes `[N, latent]` (numpy) of float images `[N, H, W, C]`, `BATCH_SIZE` at a time."""
    return np.concatenate([operations.encode(model, x[s], use_ema).numpy() for s in _batches(len(x))])


def decode_batched(model, styles_fn, n: int, use_ema) -> np.ndarray:
    """`n` images (numpy) decoded from `styles_fn(batch slice)`, G's input of those rows, `BATCH_SIZE` at a time."""
    return np.concatenate([operations.decode_styles(model, styles_fn(s), use_ema).numpy() for s in _batches(n)])


def strength_frames(run, styles_at, n: int, values, use_ema) -> np.ndarray:
    """uint8 `[n, S, H, W, C]`: for each strength `value`, the images of G's input `styles_at(rows, value)`."""
    columns = [
        image_grids.to_uint8(
            decode_batched(run.model, lambda rows, v=value: styles_at(rows, v), n, use_ema), run.config.pixel_range
        )
        for value in values
    ]
    return np.stack(columns, axis=1)


def strength_pictures(run, frames, names, values, grid, tag, prefix="") -> dict:
    """`{path: picture}`: `<prefix><grid>.png` (rows: images, columns: strengths) and every frame as
    `<prefix>images/<name>__<tag>__<strength>.png`."""
    pictures = {f"{prefix}{grid}.png": operations.grid(frames, zoom=image_grids.tile_zoom(run.image_shape[0]))}
    for i, name in enumerate(names):
        for j, value in enumerate(values):
            pictures[f"{prefix}{IMAGES_FOLDER}/{name}__{tag}__{strength_label(value)}.png"] = frames[i, j]
    return pictures


def refine_codes(model, x, w, names, steps, learning_rate, use_ema):
    """`operations.refine` in batches: `(refined w [N, latent], report dict, one-line note)`."""
    parts = [operations.refine(model, x[s], w[s], steps, learning_rate, use_ema) for s in _batches(len(x))]
    refined = np.concatenate([codes.numpy() for codes, _ in parts])
    losses = np.concatenate([loss for _, loss in parts], axis=1)  # [steps + 1, N]
    report = {
        "steps": int(steps),
        "learning_rate": float(learning_rate),
        "pixel_mse_before": dict(zip(names, losses[0].tolist())),
        "pixel_mse_after": dict(zip(names, losses[-1].tolist())),
    }
    note = (
        f"refined codes ({steps} Adam steps): reconstruction pixel MSE {losses[0].mean():.4g} -> "
        f"{losses[-1].mean():.4g} (mean over {len(x)} images)"
    )
    return refined, report, note


def apply_edits(
    run,
    images,
    names,
    directions=None,
    strengths=DEFAULT_STRENGTHS,
    layers=None,
    *,
    output_dir=None,
    refine_steps: int = 0,
    refine_learning_rate: float = 0.01,
    use_ema: bool = True,
    overwrite: bool = False,
) -> Written:
    """Edit images along directions at several strengths; write a traversal grid per direction and each image.

    Args:
        run: an opened run.
        images, names: float `[N, H, W, C]` in the run's pixel range at `run.image_shape` and one file-safe
            name each (`load_user_images` / `load_split_images` give both).
        directions: names of saved directions (None: all saved), or `Direction`s.
        strengths: numbers (or their texts); strength 0 is the reconstruction.
        layers: style nets only: "coarse" | "middle" | "fine" | "START:END" | (start, end) style inputs moved.
        output_dir: the folder made (default `WORKDIR/edits/edit-<time>`); it must not exist or be empty
            unless `overwrite`.
        refine_steps: if > 0, also fit each code to its image with that many Adam steps (`operations.refine`)
            and write the edits of the refined codes apart, in `refined/` (reported in `notes` and edits.json).
        refine_learning_rate, use_ema: as `operations.refine`; EMA or trained nets.
    Returns:
        `Written`: `<direction>.png` grids (rows: images, columns: strengths), `images/<image>__<direction>__
        <strength>.png`, the same under `refined/` with refinement, and `edits.json`.
    Raises:
        EditingError: an unknown direction (the saved ones are listed), layers out of range or given for MLP
            nets, bad strengths, images or output folder. Nothing is written then.
    """
    model = run.model
    x, names = check_images(run, images, names, "edit")
    chosen = resolve_directions(run, directions)
    values = parse_strengths(strengths)
    layers = parse_layers(layers)
    span = style_layer_range(model, layers, "--layers")
    check_refinement(refine_steps, refine_learning_rate)
    final = output_folder(run, output_dir, "edit", overwrite)

    codes = {"": encode_batched(model, x, use_ema)}
    notes, refine_report = [], None
    if refine_steps:
        codes["refined/"], refine_report, note = refine_codes(
            model, x, codes[""], names, refine_steps, refine_learning_rate, use_ema
        )
        notes.append(f"{note}; their edits are in {final / 'refined'}")
    pictures = {}
    for prefix, w in codes.items():
        for direction in chosen:

            def styles(rows, value, direction=direction, w=w):
                return operations.edited_styles(model, w[rows], direction, value, layers)

            frames = strength_frames(run, styles, len(x), values, use_ema)
            pictures.update(strength_pictures(run, frames, names, values, direction.name, direction.name, prefix))
    document = manifest(
        run,
        "edit",
        use_ema,
        images=names,
        strengths=values,
        layers=None if span is None else list(span),
        layers_given=list(layers) if isinstance(layers, tuple) else layers,
        directions={d.name: d.provenance for d in chosen},
        refine=refine_report,
    )
    return write_outputs(final, pictures, {MANIFEST: document}, notes)


def check_style_nets(run, what: str) -> None:
    """Raise unless `run` has style nets (style mixing needs one w per style layer)."""
    if not run.model.is_style:
        raise EditingError(
            f"{what} needs style nets; {run.path} holds MLP nets (preset {run.config.name}), which have one w "
            "and no style layers. Edit or interpolate instead."
        )


def apply_style_mix(
    run,
    images_a,
    images_b,
    cutoff: int | None = None,
    *,
    names_a=None,
    names_b=None,
    output_dir=None,
    use_ema: bool = True,
    overwrite: bool = False,
) -> Written:
    """Style mixing (style nets): A's styles below `cutoff`, B's from it on; a grid with rows A, B, mix.

    Args:
        images_a, images_b: float images as in `apply_edits`, paired row by row; names_a/names_b their names.
        cutoff: style inputs taken from A, in `[0, 2 * layer_count]` (default: the coarse ones, 4-8 px).
    Returns:
        `Written`: `mix.png` (rows: A, B, mix; a column per pair), `images/<a>__<b>__cutoff<c>.png`, edits.json.
    """
    check_style_nets(run, "style mixing (--mode=mix)")
    model = run.model
    a, names_a = check_images(run, images_a, names_a, "mix A")
    b, names_b = check_images(run, images_b, names_b, "mix B")
    if len(a) != len(b):
        raise EditingError(f"{len(a)} images A but {len(b)} images B: they pair row by row")
    total = num_style_layers(model)
    if cutoff is None:
        cutoff = style_layer_groups(model)["coarse"][1]
    check_int(cutoff, "cutoff", 0, total, "(style inputs taken from A)")
    final = output_folder(run, output_dir, "mix", overwrite)

    w_a, w_b = encode_batched(model, a, use_ema), encode_batched(model, b, use_ema)
    mixed = decode_batched(
        model, lambda s: operations.mixed_styles(model, w_a[s], w_b[s], int(cutoff)), len(a), use_ema
    )
    pixel_range = run.config.pixel_range
    rows = [image_grids.to_uint8(v, pixel_range) for v in (a, b, mixed)]
    pictures = {"mix.png": operations.grid(np.stack(rows), zoom=image_grids.tile_zoom(run.image_shape[0]))}
    for i, (name_a, name_b) in enumerate(zip(names_a, names_b)):
        pictures[f"{IMAGES_FOLDER}/{name_a}__{name_b}__cutoff{int(cutoff)}.png"] = rows[2][i]
    document = manifest(run, "mix", use_ema, images_a=names_a, images_b=names_b, cutoff=int(cutoff))
    return write_outputs(final, pictures, {MANIFEST: document}, [])


def apply_interpolation(
    run,
    images_a,
    images_b,
    steps: int = DEFAULT_STEPS,
    *,
    names_a=None,
    names_b=None,
    output_dir=None,
    use_ema: bool = True,
    overwrite: bool = False,
) -> Written:
    """Interpolation in w from each A to its B: a grid with a row per pair, a column per step.

    Returns:
        `Written`: `interpolation.png` (first column A's reconstruction, last B's),
        `images/<a>__to__<b>__<step>.png`, edits.json.
    """
    model = run.model
    a, names_a = check_images(run, images_a, names_a, "interpolate A")
    b, names_b = check_images(run, images_b, names_b, "interpolate B")
    if len(a) != len(b):
        raise EditingError(f"{len(a)} images A but {len(b)} images B: they pair row by row")
    check_int(steps, "steps", 2)
    final = output_folder(run, output_dir, "interpolate", overwrite)

    w_a, w_b = encode_batched(model, a, use_ema), encode_batched(model, b, use_ema)
    columns = []
    for t in np.linspace(0.0, 1.0, int(steps)).tolist():
        w = ((1.0 - t) * w_a + t * w_b).astype(np.float32)
        images = decode_batched(model, lambda s, w=w: operations.styles_from_w(model, w[s]), len(a), use_ema)
        columns.append(image_grids.to_uint8(images, run.config.pixel_range))
    frames = np.stack(columns, axis=1)
    pictures = {"interpolation.png": operations.grid(frames, zoom=image_grids.tile_zoom(run.image_shape[0]))}
    for i, (name_a, name_b) in enumerate(zip(names_a, names_b)):
        for j in range(int(steps)):
            pictures[f"{IMAGES_FOLDER}/{name_a}__to__{name_b}__{j:02d}.png"] = frames[i, j]
    document = manifest(run, "interpolate", use_ema, images_a=names_a, images_b=names_b, steps=int(steps))
    return write_outputs(final, pictures, {MANIFEST: document}, [])

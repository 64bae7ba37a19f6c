"""Editing workflows on a run folder: find and save directions, edit, mix and interpolate images into PNGs.

What `python -m alae_tf.edit` does, as library calls on an opened run (`alae_tf.workdir.open_run`):

- `build_directions`: encode a split with the EMA nets and find directions by one method
  (`class_mean`, `linear`, `regression`, `pca`, `sefa`), optionally orthogonal to directions saved
  before, and save them with their provenance to `WORKDIR/directions/NAME.npz`.
- Images to edit: the user's own PNG/JPEG files (`load_user_images`: used as they are, never
  resized) or a dataset split's first images (`load_split_images`: cropped and resized by the source).
- `apply_edits` (traversal grids and edited images), `apply_style_mix` (style nets),
  `apply_interpolation`: each checks every input first and then writes its whole output folder
  at once (a temp folder renamed into place), so a failure writes nothing.

Output folders (default `WORKDIR/edits/<mode>-<time>`): grids at the top (`<direction>.png`,
`mix.png`, `interpolation.png`), every single image in `images/`, and `edits.json` saying what
made them. Every user-facing failure is an `EditingError` (or the data sources' `DatasetError`).
"""

from __future__ import annotations

import dataclasses
import json
import math
import numbers
import os
import pathlib
import re
import time
from collections.abc import Sequence

import numpy as np

from alae_tf import atomic, data, storage
from alae_tf import images as image_files
from alae_tf.data import folder as folder_source
from alae_tf.data import image_ops
from alae_tf.data.base import DatasetError
from alae_tf.editing import attributes, methods, operations
from alae_tf.editing.codes import encode_dataset, run_provenance
from alae_tf.editing.directions import SUFFIX, Direction, direction_name, load_directions, orthogonalize
from alae_tf.editing.directions import save_directions as _save_directions
from alae_tf.editing.errors import EditingError
from alae_tf.editing.style_layers import num_style_layers, style_layer_groups, style_layer_range
from alae_tf.workdir import pool_to_resolution

METHODS = ("class_mean", "linear", "regression", "pca", "sefa")
ATTRIBUTES = {"ink_mass": attributes.ink_mass, "brightness": attributes.brightness}
DIRECTIONS_FOLDER = "directions"
EDITS_FOLDER = "edits"
IMAGES_FOLDER = "images"
MANIFEST = "edits.json"
DEFAULT_K = 5
DEFAULT_MAX_IMAGES = 10_000
DEFAULT_STRENGTHS = (-2.0, -1.0, 0.0, 1.0, 2.0)
DEFAULT_COUNT = 8
DEFAULT_STEPS = 7
BATCH_SIZE = 64
_SAFE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+=-]{0,127}$")
_CHANNELS_OF_MODE = {"1": 1, "L": 1, "LA": 1, "La": 1, "I": 1, "F": 1}


@dataclasses.dataclass(frozen=True)
class Written:
    """What an `apply_*` call wrote.

    Attributes:
        folder: the output folder.
        grids: the grid PNGs (one per direction, or the mix / interpolation grid).
        images: every single image PNG (in `folder/images/`, and `folder/refined/images/` with refinement).
        files: every file written (grids, images, `edits.json`), grids first.
        notes: lines for the user (e.g. what code refinement changed).
    """

    folder: pathlib.Path
    grids: list[pathlib.Path]
    images: list[pathlib.Path]
    files: list[pathlib.Path]
    notes: list[str] = dataclasses.field(default_factory=list)


# --- Parsing what a user typed -------------------------------------------------------------------


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
        return methods.ONE_VS_REST
    if isinstance(classes, str):
        text = classes.strip()
        if text == methods.ONE_VS_REST:
            return text
        parts = [p.strip() for p in text.split(",")]
        if len(parts) == 2 and all(re.fullmatch(r"\d+", p) for p in parts):
            return int(parts[0]), int(parts[1])
        raise EditingError(f"classes must be {methods.ONE_VS_REST!r} or two class numbers 'A,B', got {classes!r}")
    try:
        a, b = classes
    except (TypeError, ValueError):
        a = b = None
    if not all(isinstance(c, numbers.Integral) and not isinstance(c, bool) for c in (a, b)):
        raise EditingError(f"classes must be {methods.ONE_VS_REST!r} or a pair of class numbers, got {classes!r}")
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
    labels = [_strength_label(v) for v in values]
    repeated = sorted({x for x in labels if labels.count(x) > 1})
    if repeated:
        raise EditingError(f"strengths repeat: {repeated}")
    return values


def _strength_label(value: float) -> str:
    return f"{value:+g}"


def _safe_name(text: str, fallback: str) -> str:
    name = re.sub(r"[^A-Za-z0-9_.+=-]", "_", str(text)).lstrip("._+=-")[:100]
    return name or fallback


def _unique_names(names: Sequence[str]) -> list[str]:
    used: set[str] = set()
    out = []
    for name in names:
        candidate, i = name, 2
        while candidate in used:
            candidate, i = f"{name}_{i}", i + 1
        used.add(candidate)
        out.append(candidate)
    return out


def _shape_text(shape) -> str:
    return " x ".join(str(int(v)) for v in shape)


# --- Directions ----------------------------------------------------------------------------------


def directions_folder(run) -> pathlib.Path:
    """`WORKDIR/directions`, where a run's directions are saved."""
    return storage.path(run.path) / DIRECTIONS_FOLDER


def direction_path(run, name: str) -> pathlib.Path:
    return directions_folder(run) / f"{name}{SUFFIX}"


def known_directions(run) -> dict[str, Direction]:
    """Every direction saved in `WORKDIR/directions`, by name.

    Raises:
        EditingError: none saved yet (with the command that makes some), or a file of another model.
    """
    folder = directions_folder(run)
    if not folder.is_dir() or not any(p for p in folder.glob(f"*{SUFFIX}") if not p.name.startswith(".")):
        raise EditingError(
            f"{run.path} has no directions yet ({folder} holds none): find some first, e.g. "
            f"python -m alae_tf.edit --mode=directions --workdir={run.path} --method=pca"
        )
    return load_directions(folder, latent_size=int(run.model.dlatent_size))


def select_directions(run, names=None) -> list[Direction]:
    """Directions of `run` by name (None or empty: all of them), in the order named.

    Raises:
        EditingError: a name not saved in `WORKDIR/directions` (the known ones are listed), or none saved.
    """
    known = known_directions(run)
    if not names:
        return list(known.values())
    if isinstance(names, str):
        names = [names]
    names = list(dict.fromkeys(str(n).strip() for n in names))
    unknown = [n for n in names if n not in known]
    if unknown:
        raise EditingError(
            f"unknown direction{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}; "
            f"{directions_folder(run)} holds: {', '.join(sorted(known))}"
        )
    return [known[n] for n in names]


def _resolve(run, directions) -> list[Direction]:
    if directions is None or isinstance(directions, str):
        return select_directions(run, directions)
    directions = list(directions)
    if directions and all(isinstance(d, Direction) for d in directions):
        latent = int(run.model.dlatent_size)
        wrong = [d.name for d in directions if d.latent_size != latent]
        if wrong:
            raise EditingError(f"directions {wrong} are not {latent} numbers long: they were made for another model")
        return directions
    return select_directions(run, directions)


def _split_files(spec: str, split: str) -> list[str]:
    """The file of every image of a `folder:` split, in the order the source loads them."""
    kind, colon, path = spec.partition(":")
    if kind != "folder" or not colon:
        raise EditingError(
            f"an attribute CSV names image files, so it needs a folder: dataset; {spec} has no file names "
            "(use a built-in attribute: " + ", ".join(ATTRIBUTES) + ")"
        )
    root = os.path.join(path, split)
    return folder_source.list_images(root if os.path.isdir(root) else path)


def _check_k(k, latent: int) -> int:
    if isinstance(k, bool) or not isinstance(k, numbers.Integral) or not 1 <= k <= latent:
        raise EditingError(f"k must be an int in [1, {latent}] (the model's w size), got {k!r}")
    return int(k)


def _class_mean_one_vs_rest(codes, labels, provenance) -> list[Direction]:
    """Per class c: mean w of c minus mean w of every other class (`class_mean_rest_to_<c>`)."""
    present = np.unique(labels)
    if len(present) < 2:
        raise EditingError(f"class_mean: one-vs-rest needs codes of two classes at least, got {present.tolist()}")
    directions = []
    for c in present:
        (direction,) = methods.class_mean_directions(
            codes, (labels == c).astype(np.int64), 0, 1, class_names=["rest", str(int(c))], provenance=provenance
        )
        directions.append(direction.replace(provenance={"source_class": None, "target_class": int(c)}))
    return directions


def build_directions(
    run,
    method: str,
    *,
    split: str | None = None,
    classes=None,
    attribute: str | None = None,
    attribute_csv: str | os.PathLike | None = None,
    k: int = DEFAULT_K,
    layers=None,
    orthogonal_to: Sequence[str] = (),
    max_images: int = DEFAULT_MAX_IMAGES,
    dataset: str | None = None,
    data_dir: str | None = None,
    use_ema: bool = True,
    batch_size: int = 256,
) -> list[Direction]:
    """Find directions in w on a split's codes, save them to `WORKDIR/directions/`, and return them.

    Args:
        run: an opened run (`alae_tf.workdir.open_run`).
        method: "class_mean" (class-mean differences), "linear" (InterFaceGAN SVM normals), "regression"
            (on an attribute), "pca" (GANSpace), "sefa" (SeFa, from G's first layer; codes only scale it).
        split: the split encoded (default "train").
        classes: class_mean / linear: None or "one_vs_rest" (one direction per class, from the rest to
            it), or "A,B" / `(A, B)` (from class A to class B). Labels come from the data source.
        attribute: regression: "ink_mass" or "brightness" (computed from the images), or the name of
            the CSV's attribute (default: the CSV's file name); a path ending in .csv is read as the CSV.
        attribute_csv: regression: a CSV of `filename,value` rows covering the split's files (folder: data).
        k: pca / sefa: how many directions.
        layers: sefa on style nets: the style inputs whose weights count ("coarse", "START:END", ...).
        orthogonal_to: names of saved directions the new ones are made orthogonal to (named `<name>_orth`).
        max_images: at most this many images of the split (the first ones) are encoded.
        dataset: another `--dataset` spec than the run's (loaded at the run's shape).
        data_dir, use_ema, batch_size: where the data lives; EMA or trained nets; encoder batch.
    Returns:
        The directions saved (replacing saved ones of the same names), provenance included.
    Raises:
        EditingError / DatasetError: a bad option, data without the labels or files the method needs.
            Nothing is written then.
    """
    if method not in METHODS:
        raise EditingError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
    model = run.model
    latent = int(model.dlatent_size)
    split = split or "train"
    spec = dataset or run.config.dataset
    if isinstance(max_images, bool) or not isinstance(max_images, numbers.Integral) or max_images < 3:
        raise EditingError(f"max_images must be an int >= 3, got {max_images!r}")
    # Options of other methods are mistakes, not no-ops: say so before any work.
    given = {
        "classes": classes not in (None, ""),
        "attribute": bool(attribute),
        "attribute_csv": bool(attribute_csv),
        "layers": layers not in (None, ""),
    }
    allowed = {
        "class_mean": {"classes"},
        "linear": {"classes"},
        "regression": {"attribute", "attribute_csv"},
        "pca": set(),
        "sefa": {"layers"},
    }[method]
    extra = [name for name, on in given.items() if on and name not in allowed]
    if extra:
        raise EditingError(f"--method={method} takes no {', '.join('--' + e for e in extra)}")
    if method in ("class_mean", "linear"):
        classes = parse_classes(classes)
    if method in ("pca", "sefa"):
        k = _check_k(k, latent)
    if method == "sefa":
        layers = parse_layers(layers)
        style_layer_range(model, layers, "sefa --layers")
    if method == "regression":
        if attribute and not attribute_csv and str(attribute).lower().endswith(".csv"):
            attribute, attribute_csv = None, attribute
        if attribute_csv:
            attribute = attribute or pathlib.Path(attribute_csv).stem
            if not pathlib.Path(attribute_csv).is_file():
                raise EditingError(f"no attribute CSV at {attribute_csv}")
        elif attribute not in ATTRIBUTES:
            raise EditingError(
                f"--method=regression needs --attribute={' or '.join(ATTRIBUTES)}, or --attribute_csv=FILE "
                f"(filename,value rows); got attribute={attribute!r}"
            )
        name = direction_name(attribute)
    others = select_directions(run, list(orthogonal_to)) if orthogonal_to else []

    image_set = _load_split(run, spec, split, data_dir)
    images = image_set.images[: int(max_images)]
    labels = None if image_set.labels is None else image_set.labels[: int(max_images)]
    if method in ("class_mean", "linear") and labels is None:
        raise EditingError(
            f"--method={method} needs class labels, and {spec}/{split} has none (Fashion-MNIST, idx:, tfds: and "
            "tfrecord: sources with a 'label' have them; a folder: source when its images sit in one subfolder per "
            "class). Use pca, sefa or regression instead."
        )
    values = None
    if method == "regression":
        if attribute_csv:
            files = _split_files(spec, split)
            if len(files) != len(image_set):
                raise EditingError(f"{spec}/{split}: {len(files)} files for {len(image_set)} images")
            values = attributes.read_attribute_csv(attribute_csv, files[: int(max_images)])
        else:
            values = ATTRIBUTES[attribute](images)

    codes = encode_dataset(model, images, run.config.pixel_range, batch_size, use_ema)
    provenance = {
        **run_provenance(run, split, use_ema),
        "source": f"{spec}/{split}",
        "max_images": int(max_images),
    }
    if method == "class_mean":
        if classes == methods.ONE_VS_REST:
            directions = _class_mean_one_vs_rest(codes, labels, provenance)
        else:
            directions = methods.class_mean_directions(codes, labels, *classes, provenance=provenance)
    elif method == "linear":
        directions = methods.linear_directions(codes, labels, classes, provenance=provenance)
    elif method == "regression":
        source = {"attribute_csv": str(attribute_csv)} if attribute_csv else {"attribute_statistic": attribute}
        directions = [methods.regression_direction(codes, values, name, provenance={**provenance, **source})]
    elif method == "pca":
        directions = methods.pca_directions(codes, k, provenance=provenance)
    else:
        prefix = (
            "sefa" if layers is None else direction_name("sefa", *(layers if isinstance(layers, tuple) else [layers]))
        )
        weights = methods.first_layer_weights(model, layers, use_ema)
        layer_info = {"layers": list(layers) if isinstance(layers, tuple) else layers}
        directions = methods.sefa_directions(
            weights, k, w=codes, name_prefix=prefix, provenance={**provenance, **layer_info}
        )
    if others:
        directions = [orthogonalize(d, others) for d in directions]
    _save_directions(directions_folder(run), directions)
    return directions


def describe_direction(run, direction: Direction) -> str:
    """One line for the user: where it is saved, its method, length and scores."""
    p = direction.provenance
    keys = (
        "held_out_accuracy",
        "held_out_balanced_accuracy",
        "held_out_r2",
        "explained_variance_ratio",
        "eigenvalue_share",
        "cosine_to_original",
    )
    scores = [f"{key}={p[key]:.3f}" for key in keys if isinstance(p.get(key), (int, float))]
    return f"{direction_path(run, direction.name)}: {p.get('method')}, |v|={direction.norm:.3g}" + "".join(
        f", {s}" for s in scores
    )


# --- Images to edit ------------------------------------------------------------------------------


def _load_split(run, spec: str, split: str, data_dir):
    if spec == run.config.dataset:
        return run.load_split(split, data_dir)
    image_set = data.load_split(spec, split, run.config.image_shape, data_dir=data_dir)
    return dataclasses.replace(image_set, images=pool_to_resolution(image_set.images, int(run.model.resolution)))


def _user_files(paths_or_folder) -> list[tuple[str, str]]:
    """(path, name) of every image: files as given, folders searched as the folder: source does."""
    if isinstance(paths_or_folder, (str, os.PathLike)):
        paths_or_folder = [paths_or_folder]
    entries = [str(p) for p in paths_or_folder if str(p).strip()]
    if not entries:
        raise EditingError("no images given: pass PNG/JPEG files or a folder of them")
    found = []
    for entry in entries:
        if os.path.isdir(entry):
            files = folder_source.list_images(entry)
            if not files:
                raise EditingError(f"no PNG/JPEG images under {entry} (searched recursively)")
            found += [(f, os.path.splitext(os.path.relpath(f, entry))[0]) for f in files]
        elif os.path.isfile(entry):
            if not entry.lower().endswith(image_ops.IMAGE_SUFFIXES):
                raise EditingError(
                    f"{entry} is not a PNG/JPEG file (it must end in {', '.join(image_ops.IMAGE_SUFFIXES)})"
                )
            found.append((entry, os.path.splitext(os.path.basename(entry))[0]))
        else:
            raise EditingError(f"no such image file or folder: {entry}")
    names = _unique_names([_safe_name(name.replace(os.sep, "_"), "image") for _, name in found])
    return [(path, name) for (path, _), name in zip(found, names)]


def _read_user_image(path: str, image_shape) -> np.ndarray:
    height, width, channels = (int(v) for v in image_shape)
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as e:
        raise DatasetError(f"cannot read {path} ({e}); check its permissions.") from e
    image = image_ops.decode(raw, path)  # the folder: source's decoding and its error for a corrupt file
    has = _CHANNELS_OF_MODE.get(image.mode, 1 if image.mode.startswith("I;16") else 3)
    got = (image.size[1], image.size[0], has)
    if got != (height, width, channels):
        what = "grey" if channels == 1 else "RGB"
        fixes = []
        if got[:2] != (height, width):
            fixes.append(f"resize (and crop) it to {width} x {height} pixels")
        if has != channels:
            fixes.append(
                f"convert it to {what} (e.g. PIL: Image.open(path).convert('{'L' if channels == 1 else 'RGB'}'))"
            )
        raise EditingError(
            f"{path} is {_shape_text(got)} (PIL mode {image.mode}); this run's nets read {_shape_text(image_shape)} "
            f"(H x W x C). Your own images are used as they are, never resized: {' and '.join(fixes)} first, "
            "or edit them as a dataset (--dataset=folder:DIR --split=train --count=N), whose images are "
            "center-cropped, resized and converted to the nets' shape."
        )
    return image_ops.fit(image, None, channels)


def load_user_images(paths_or_folder, image_shape, pixel_range) -> tuple[np.ndarray, list[str]]:
    """The user's own PNG/JPEG files (a list of files and/or folders), as the nets read them.

    Files are decoded as the `folder:` source decodes them (an alpha channel dropped), but never
    resized or converted between grey and colour: each must already be `image_shape`.

    Args:
        paths_or_folder: a file, a folder (searched recursively, hidden files skipped), or a list of them.
        image_shape: `(H, W, C)` the nets read (`Run.image_shape`).
        pixel_range: the run's `config.pixel_range`.
    Returns:
        `(images float32 [N, H, W, C] in pixel_range, names)`: names are the file names without suffix
        (paths below a folder joined by "_"), made unique and safe for file names.
    Raises:
        EditingError: no images, a missing or non-PNG/JPEG file, an image of another size or channel count.
        DatasetError: a file that does not decode (as the folder: source says it).
    """
    files = _user_files(paths_or_folder)
    pixels = np.stack([_read_user_image(path, image_shape) for path, _ in files])
    return np.asarray(data.to_pixel_range(pixels, pixel_range), np.float32), [name for _, name in files]


def load_split_images(
    run,
    split: str | None = None,
    count: int = DEFAULT_COUNT,
    *,
    offset: int = 0,
    dataset: str | None = None,
    data_dir: str | None = None,
) -> tuple[np.ndarray, list[str]]:
    """Images `offset .. offset + count` of a split (default "test") of the run's dataset (or `dataset`).

    The source crops, resizes and converts them to the run's shape, then they are pooled to the nets' level.

    Returns:
        `(images float32 [count, H, W, C] in the run's pixel range, names "<split>_<index>")`.
    """
    split = split or "test"
    for value, what, low in ((count, "count", 1), (offset, "offset", 0)):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
            raise EditingError(f"{what} must be an int >= {low}, got {value!r}")
    spec = dataset or run.config.dataset
    image_set = _load_split(run, spec, split, data_dir)
    if len(image_set) < offset + count:
        raise EditingError(f"{spec}/{split} has {len(image_set)} images; {offset + count} are needed")
    pixels = image_set.images[offset : offset + count]
    names = [f"{_safe_name(split, 'split')}_{i:05d}" for i in range(offset, offset + count)]
    return np.asarray(data.to_pixel_range(pixels, run.config.pixel_range), np.float32), names


def select_images(
    run,
    images=None,
    *,
    split: str | None = None,
    count: int = DEFAULT_COUNT,
    offset: int = 0,
    dataset: str | None = None,
    data_dir: str | None = None,
) -> tuple[np.ndarray, list[str]]:
    """`load_user_images(images)` if files or folders are given, else `load_split_images` of the split."""
    if images:
        return load_user_images(images, run.image_shape, run.config.pixel_range)
    return load_split_images(run, split, count, offset=offset, dataset=dataset, data_dir=data_dir)


def select_image_pairs(
    run,
    images=None,
    images_b=None,
    *,
    split: str | None = None,
    count: int = DEFAULT_COUNT,
    dataset: str | None = None,
    data_dir: str | None = None,
):
    """Images A and B paired row by row: `((a, names_a), (b, names_b))`.

    A: `images` (files/folders) or the split's first `count`; B: `images_b`, or, with A from the split, its
    next `count` images.
    """
    a = select_images(run, images, split=split, count=count, dataset=dataset, data_dir=data_dir)
    if images_b:
        b = load_user_images(images_b, run.image_shape, run.config.pixel_range)
    elif images:
        raise EditingError("images B are missing: pass --images_b (or take A and B from a split: --split, --count)")
    else:
        b = load_split_images(run, split, count, offset=count, dataset=dataset, data_dir=data_dir)
    if len(a[0]) != len(b[0]):
        raise EditingError(f"{len(a[0])} images A but {len(b[0])} images B: they pair row by row")
    return a, b


# --- Writing edits -------------------------------------------------------------------------------


def default_output_dir(run, mode: str) -> pathlib.Path:
    """`WORKDIR/edits/<mode>-<YYYYmmdd-HHMMSS>` (a new name if taken)."""
    base = storage.path(run.path) / EDITS_FOLDER / f"{mode}-{time.strftime('%Y%m%d-%H%M%S')}"
    path, i = base, 2
    while path.exists():
        path, i = base.with_name(f"{base.name}-{i}"), i + 1
    return path


def _output_folder(run, output_dir, mode: str, overwrite: bool) -> pathlib.Path:
    final = default_output_dir(run, mode) if output_dir in (None, "") else storage.path(output_dir)
    resolved, workdir = final.resolve(), storage.path(run.path).resolve()
    if workdir.is_relative_to(resolved):
        raise EditingError(f"--output_dir {final} holds the run itself; choose a folder of its own")
    if final.exists():
        if not final.is_dir():
            raise EditingError(f"--output_dir {final} is a file; choose a folder")
        if any(final.iterdir()) and not overwrite:
            raise EditingError(f"--output_dir {final} exists and is not empty: choose another, or --overwrite it")
    return final


def _check_images(run, images, names, what: str) -> tuple[np.ndarray, list[str]]:
    x = np.asarray(images)
    if x.dtype.kind != "f":
        raise EditingError(
            f"{what}: images must be floats in the run's pixel range {tuple(run.config.pixel_range)} "
            f"(load_user_images / load_split_images give them), got {x.dtype}"
        )
    if x.ndim != 4 or len(x) == 0 or tuple(x.shape[1:]) != tuple(run.image_shape):
        raise EditingError(
            f"{what}: images must be [N >= 1, {', '.join(map(str, run.image_shape))}] (the nets at their level), "
            f"got {x.shape}"
        )
    names = [f"image_{i:03d}" for i in range(len(x))] if names is None else [str(n) for n in names]
    if len(names) != len(x):
        raise EditingError(f"{what}: {len(names)} names for {len(x)} images")
    bad = [n for n in names if not _SAFE.match(n)]
    if bad:
        raise EditingError(f"{what}: image names must be file names (letters, digits, _.+=-), got {bad[:3]}")
    if len(set(names)) != len(names):
        raise EditingError(f"{what}: image names repeat")
    return x.astype(np.float32), names


def check_refinement(refine_steps, refine_learning_rate) -> None:
    """Raise `EditingError` unless `refine_steps` is an int >= 0 and the learning rate > 0."""
    if isinstance(refine_steps, bool) or not isinstance(refine_steps, numbers.Integral) or refine_steps < 0:
        raise EditingError(f"refine_steps must be an int >= 0, got {refine_steps!r}")
    if not float(refine_learning_rate) > 0:
        raise EditingError(f"refine learning rate must be > 0, got {refine_learning_rate}")


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


def _batches(n: int):
    return [slice(start, start + BATCH_SIZE) for start in range(0, n, BATCH_SIZE)]


def _encode(model, x, use_ema):
    return np.concatenate([operations.encode(model, x[s], use_ema).numpy() for s in _batches(len(x))])


def _decode(model, styles_fn, n: int, use_ema) -> np.ndarray:
    return np.concatenate([operations.decode_styles(model, styles_fn(s), use_ema).numpy() for s in _batches(n)])


def _manifest(run, mode: str, use_ema: bool, **fields) -> str:
    document = {
        "mode": mode,
        "workdir": str(run.path),
        "preset": run.config.name,
        "nets": "ema" if use_ema else "trained",
        "images_seen": int(run.meta.get("images_seen", int(run.model.images_seen.numpy()))),
        "level": run.model.level,
        "resolution": int(run.model.resolution),
        "noise_seed": list(operations.DEFAULT_NOISE_SEED),
        **fields,
    }
    return json.dumps(document, indent=2, sort_keys=True) + "\n"


def _write(final: pathlib.Path, pictures: dict[str, np.ndarray], texts: dict[str, str], notes) -> Written:
    """Write `{relative path: uint8 [H, W, C]}` and `{relative path: text}` into `final` at once."""
    with atomic.directory(final, overwrite=final.exists()) as tmp:
        for relative, picture in pictures.items():
            image_files.write_png(tmp / relative, picture)
        for relative, text in texts.items():
            atomic.write_text(tmp / relative, text)
    singles = [final / r for r in pictures if f"{IMAGES_FOLDER}/" in r]
    grids = [final / r for r in pictures if f"{IMAGES_FOLDER}/" not in r]
    return Written(final, grids, singles, [*grids, *singles, *(final / r for r in texts)], list(notes))


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
    x, names = _check_images(run, images, names, "edit")
    chosen = _resolve(run, directions)
    values = parse_strengths(strengths)
    layers = parse_layers(layers)
    span = style_layer_range(model, layers, "--layers")
    check_refinement(refine_steps, refine_learning_rate)
    final = _output_folder(run, output_dir, "edit", overwrite)

    codes = {"": _encode(model, x, use_ema)}
    notes, refine_report = [], None
    if refine_steps:
        codes["refined/"], refine_report, note = refine_codes(
            model, x, codes[""], names, refine_steps, refine_learning_rate, use_ema
        )
        notes.append(f"{note}; their edits are in {final / 'refined'}")
    pictures = {}
    for prefix, w in codes.items():
        for direction in chosen:
            columns = []
            for value in values:

                def styles(s, value=value, direction=direction, w=w):
                    return operations.edited_styles(model, w[s], direction, value, layers)

                columns.append(image_files.to_uint8(_decode(model, styles, len(x), use_ema), run.config.pixel_range))
            frames = np.stack(columns, axis=1)  # [N, S, H, W, C]
            pictures[f"{prefix}{direction.name}.png"] = operations.grid(
                frames, zoom=image_files.tile_zoom(run.image_shape[0])
            )
            for i, name in enumerate(names):
                for j, value in enumerate(values):
                    label = _strength_label(value)
                    pictures[f"{prefix}{IMAGES_FOLDER}/{name}__{direction.name}__{label}.png"] = frames[i, j]
    manifest = _manifest(
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
    return _write(final, pictures, {MANIFEST: manifest}, notes)


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
    a, names_a = _check_images(run, images_a, names_a, "mix A")
    b, names_b = _check_images(run, images_b, names_b, "mix B")
    if len(a) != len(b):
        raise EditingError(f"{len(a)} images A but {len(b)} images B: they pair row by row")
    total = num_style_layers(model)
    if cutoff is None:
        cutoff = style_layer_groups(model)["coarse"][1]
    if isinstance(cutoff, bool) or not isinstance(cutoff, numbers.Integral) or not 0 <= cutoff <= total:
        raise EditingError(f"cutoff must be an int in [0, {total}] (style inputs taken from A), got {cutoff!r}")
    final = _output_folder(run, output_dir, "mix", overwrite)

    w_a, w_b = _encode(model, a, use_ema), _encode(model, b, use_ema)
    mixed = _decode(model, lambda s: operations.mixed_styles(model, w_a[s], w_b[s], int(cutoff)), len(a), use_ema)
    pixel_range = run.config.pixel_range
    rows = [image_files.to_uint8(v, pixel_range) for v in (a, b, mixed)]
    pictures = {"mix.png": operations.grid(np.stack(rows), zoom=image_files.tile_zoom(run.image_shape[0]))}
    for i, (name_a, name_b) in enumerate(zip(names_a, names_b)):
        pictures[f"{IMAGES_FOLDER}/{name_a}__{name_b}__cutoff{int(cutoff)}.png"] = rows[2][i]
    manifest = _manifest(run, "mix", use_ema, images_a=names_a, images_b=names_b, cutoff=int(cutoff))
    return _write(final, pictures, {MANIFEST: manifest}, [])


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
    a, names_a = _check_images(run, images_a, names_a, "interpolate A")
    b, names_b = _check_images(run, images_b, names_b, "interpolate B")
    if len(a) != len(b):
        raise EditingError(f"{len(a)} images A but {len(b)} images B: they pair row by row")
    if isinstance(steps, bool) or not isinstance(steps, numbers.Integral) or steps < 2:
        raise EditingError(f"steps must be an int >= 2, got {steps!r}")
    final = _output_folder(run, output_dir, "interpolate", overwrite)

    w_a, w_b = _encode(model, a, use_ema), _encode(model, b, use_ema)
    columns = []
    for t in np.linspace(0.0, 1.0, int(steps)).tolist():
        w = ((1.0 - t) * w_a + t * w_b).astype(np.float32)
        images = _decode(model, lambda s, w=w: operations.styles_from_w(model, w[s]), len(a), use_ema)
        columns.append(image_files.to_uint8(images, run.config.pixel_range))
    frames = np.stack(columns, axis=1)
    pictures = {"interpolation.png": operations.grid(frames, zoom=image_files.tile_zoom(run.image_shape[0]))}
    for i, (name_a, name_b) in enumerate(zip(names_a, names_b)):
        for j in range(int(steps)):
            pictures[f"{IMAGES_FOLDER}/{name_a}__to__{name_b}__{j:02d}.png"] = frames[i, j]
    manifest = _manifest(run, "interpolate", use_ema, images_a=names_a, images_b=names_b, steps=int(steps))
    return _write(final, pictures, {MANIFEST: manifest}, [])

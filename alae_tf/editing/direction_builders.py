"""Finding a run's directions by one method, from a table of builders, and saving them.

`build_directions` encodes a split with the run's nets and hands the codes to the builder of the
method asked for (`BUILDERS`): `class_mean`, `linear`, `regression`, `pca` or `sefa`. A builder says
which options its method takes (any other is refused before any work), checks them, says whether it
needs labels and per-image numbers, and builds the directions from the codes.
"""

from __future__ import annotations

import dataclasses
import os
import pathlib
from collections.abc import Callable, Sequence

import numpy as np

from alae_tf.data import folder as folder_source
from alae_tf.editing import attributes
from alae_tf.editing.checks import check_int
from alae_tf.editing.codes import encode_dataset, first_of_split, split_provenance
from alae_tf.editing.components import first_layer_weights, pca_directions, sefa_directions
from alae_tf.editing.directions import Direction, direction_name, orthogonalize, save_directions
from alae_tf.editing.errors import EditingError
from alae_tf.editing.options import parse_classes, parse_layers
from alae_tf.editing.saved_directions import directions_folder, select_directions
from alae_tf.editing.style_layers import style_layer_range
from alae_tf.editing.supervised import ONE_VS_REST, class_mean_directions, linear_directions, regression_direction

ATTRIBUTES = {"ink_mass": attributes.ink_mass, "brightness": attributes.brightness}
DEFAULT_K = 5
DEFAULT_MAX_IMAGES = 10_000
# The options a method may take; `build_directions` refuses any other that is set.
OPTIONS = ("classes", "attribute", "attribute_csv", "layers")


@dataclasses.dataclass(frozen=True)
class Request:
    """One method's options after its builder checked them: what the builder builds from.

    Attributes:
        model: the run's `ALAE`; use_ema: its EMA nets or the trained ones.
        classes: class_mean / linear: `ONE_VS_REST` or a pair `(a, b)`.
        attribute, attribute_csv, name: regression: the built-in statistic or the CSV, and the direction's name.
        k: pca / sefa: how many directions. layers: sefa: the style inputs read (None: all).
    """

    model: object
    use_ema: bool
    classes: object = None
    attribute: str | None = None
    attribute_csv: str | os.PathLike | None = None
    name: str | None = None
    k: int | None = None
    layers: object = None


@dataclasses.dataclass(frozen=True)
class Builder:
    """How one method finds directions.

    Attributes:
        options: which of `OPTIONS` it takes.
        check: `Request -> Request`: its options checked and parsed, before anything is loaded.
        build: `(request, codes [N, latent], labels [N] or None, values [N] or None, provenance) -> directions`.
        needs_labels: refuse data without class labels.
        values: `(request, spec, split, image_set, images) -> [N]` per-image numbers to build from, or None.
    """

    options: frozenset[str]
    check: Callable[[Request], Request]
    build: Callable[..., list[Direction]]
    needs_labels: bool = False
    values: Callable[..., np.ndarray] | None = None


def _check_classes(request: Request) -> Request:
    return dataclasses.replace(request, classes=parse_classes(request.classes))


def _check_k(request: Request) -> Request:
    latent = int(request.model.dlatent_size)
    return dataclasses.replace(request, k=check_int(request.k, "k", 1, latent, "(the model's w size)"))


def _check_sefa(request: Request) -> Request:
    request = _check_k(request)
    layers = parse_layers(request.layers)
    style_layer_range(request.model, layers, "sefa --layers")
    return dataclasses.replace(request, layers=layers)


def _check_regression(request: Request) -> Request:
    attribute, attribute_csv = request.attribute, request.attribute_csv
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
    return dataclasses.replace(
        request, attribute=attribute, attribute_csv=attribute_csv, name=direction_name(attribute)
    )


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


def _regression_values(request: Request, spec: str, split: str, image_set, images) -> np.ndarray:
    """The attribute of every encoded image: from the CSV (a folder: split's files) or computed from the pixels."""
    if request.attribute_csv:
        files = _split_files(spec, split)
        if len(files) != len(image_set):
            raise EditingError(f"{spec}/{split}: {len(files)} files for {len(image_set)} images")
        return attributes.read_attribute_csv(request.attribute_csv, files[: len(images)])
    return ATTRIBUTES[request.attribute](images)


def _class_mean_one_vs_rest(codes, labels, provenance) -> list[Direction]:
    """Per class c: mean w of c minus mean w of every other class (`class_mean_rest_to_<c>`)."""
    present = np.unique(labels)
    if len(present) < 2:
        raise EditingError(f"class_mean: one-vs-rest needs codes of two classes at least, got {present.tolist()}")
    directions = []
    for c in present:
        (direction,) = class_mean_directions(
            codes, (labels == c).astype(np.int64), 0, 1, class_names=["rest", str(int(c))], provenance=provenance
        )
        directions.append(direction.replace(provenance={"source_class": None, "target_class": int(c)}))
    return directions


def _build_class_mean(request, codes, labels, values, provenance):
    if request.classes == ONE_VS_REST:
        return _class_mean_one_vs_rest(codes, labels, provenance)
    return class_mean_directions(codes, labels, *request.classes, provenance=provenance)


def _build_linear(request, codes, labels, values, provenance):
    return linear_directions(codes, labels, request.classes, provenance=provenance)


def _build_regression(request, codes, labels, values, provenance):
    if request.attribute_csv:
        source = {"attribute_csv": str(request.attribute_csv)}
    else:
        source = {"attribute_statistic": request.attribute}
    return [regression_direction(codes, values, request.name, provenance={**provenance, **source})]


def _build_pca(request, codes, labels, values, provenance):
    return pca_directions(codes, request.k, provenance=provenance)


def _build_sefa(request, codes, labels, values, provenance):
    layers = request.layers
    prefix = "sefa" if layers is None else direction_name("sefa", *(layers if isinstance(layers, tuple) else [layers]))
    weights = first_layer_weights(request.model, layers, request.use_ema)
    layer_info = {"layers": list(layers) if isinstance(layers, tuple) else layers}
    return sefa_directions(weights, request.k, w=codes, name_prefix=prefix, provenance={**provenance, **layer_info})


BUILDERS = {
    "class_mean": Builder(frozenset({"classes"}), _check_classes, _build_class_mean, needs_labels=True),
    "linear": Builder(frozenset({"classes"}), _check_classes, _build_linear, needs_labels=True),
    "regression": Builder(
        frozenset({"attribute", "attribute_csv"}), _check_regression, _build_regression, values=_regression_values
    ),
    "pca": Builder(frozenset(), _check_k, _build_pca),
    "sefa": Builder(frozenset({"layers"}), _check_sefa, _build_sefa),
}
METHODS = tuple(BUILDERS)


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
    if method not in BUILDERS:
        raise EditingError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
    builder = BUILDERS[method]
    split = split or "train"
    spec = dataset or run.config.dataset
    max_images = check_int(max_images, "max_images", 3)
    # Options of other methods are mistakes, not no-ops: say so before any work.
    given = {
        "classes": classes not in (None, ""),
        "attribute": bool(attribute),
        "attribute_csv": bool(attribute_csv),
        "layers": layers not in (None, ""),
    }
    extra = [name for name in OPTIONS if given[name] and name not in builder.options]
    if extra:
        raise EditingError(f"--method={method} takes no {', '.join('--' + e for e in extra)}")
    request = builder.check(
        Request(
            run.model, use_ema, classes=classes, attribute=attribute, attribute_csv=attribute_csv, k=k, layers=layers
        )
    )
    others = select_directions(run, list(orthogonal_to)) if orthogonal_to else []

    needs_labels = f"--method={method}" if builder.needs_labels else None
    image_set, images, labels = first_of_split(
        run, spec, split, max_images, data_dir, needs_labels, instead=". Use pca, sefa or regression instead."
    )
    values = None if builder.values is None else builder.values(request, spec, split, image_set, images)

    codes = encode_dataset(run.model, images, run.config.pixel_range, batch_size, use_ema)
    provenance = split_provenance(run, spec, split, use_ema, max_images)
    directions = builder.build(request, codes, labels, values, provenance)
    if others:
        directions = [orthogonalize(d, others) for d in directions]
    save_directions(directions_folder(run), directions)
    return directions

"""The official ALAE attribute directions and the official edit rule (`interactive_demo.py`, podgorskiy/ALAE 42bcf2e).

Directions. The official repository ships `principal_directions/direction_N.npy` (float64 `[512]`, linear
SVM normals on classifier labels, for the ffhq `model_157.pth` only); `interactive_demo.py` uses nine of
them (`OFFICIAL_NAMES`: gender 0, smile 1, attractive 2, wavy_hair 3, young 4, big_lips 10, big_nose 11,
chubby 17, glasses 19). They are not shipped here: the user points at the folder of their clone
(`--official_directions=PATH/principal_directions`). `read_official_direction` reads one file into a
`Direction` (float32, as the official code casts them) with its provenance: source file, sha256, index,
attribute name. `resolve_official` turns `--directions` specs into them: `official:smile` (a name, read
from the folder), `official:PATH/direction_N.npy` (one file), `official:FOLDER` (every `direction_N.npy`
in it, by index).

The official rule (`interactive_demo.py`'s `loadNext` and `update_image`), `official_styles`:

    w = E(x)                                   # [B, latent]; E(x)[:, :1] repeated is the original styles
    u = w - dlatent_avg
    v_i = <u, d_i>       for every i          # the coordinates: all from the same u (the official first loop)
    u -= v_i d_i         for each i in turn   # the official second loop
    v_i' = values_i  (the sliders, -40..40)  or  v_i + shifts_i
    w' = u + sum_i v_i' d_i + dlatent_avg
    styles = w' on style layers in `layers` (default [0, 16)), E(x) on the others; decode with noise.

The official code computes every coordinate from the same `u` before removing any; the directions are
not orthogonal (their Gram matrix has off-diagonal entries up to 0.32), so this differs from a
Gram-Schmidt reading ("v_i from u after removing v_1..v_{i-1}") when coordinates are set; with shifts
both readings give `w + sum_i shifts_i d_i`, and with orthonormal directions they are equal.

Layers. The official code replaces the styles of layers < 16 (its `cur_layers = (7 + 1) * 2`) and keeps
layers 16-17 (the 1024 px block) of ffhq at the encoding. `official_layers` gives `(0, min(16, S))` for
a model with S style inputs: every layer of a model with 16 or fewer (celeba-hq256's 14, the tests' 8),
which is what the official `torch.where(layer_idx < 16, ...)` does there. MLP nets have one w: it is
replaced (no layers).

The project's own rule (`operations.edited_styles`, `w + strength * d`) takes official directions too.
"""

from __future__ import annotations

import hashlib
import io
import os
import pathlib
import re
from collections.abc import Sequence

import numpy as np
import tensorflow as tf

from alae_tf.editing import operations
from alae_tf.editing.directions import Direction, direction_matrix
from alae_tf.editing.errors import EditingError
from alae_tf.editing.style_layers import num_style_layers, style_layer_range

PREFIX = "official:"
# interactive_demo.py's `indices` and `labels` (spaces as underscores).
OFFICIAL_NAMES = {
    "gender": 0,
    "smile": 1,
    "attractive": 2,
    "wavy_hair": 3,
    "young": 4,
    "big_lips": 10,
    "big_nose": 11,
    "chubby": 17,
    "glasses": 19,
}
NAME_OF_INDEX = {index: name for name, index in OFFICIAL_NAMES.items()}
OFFICIAL_LAYER_END = 16  # interactive_demo.py: cur_layers = (7 + 1) * 2
SLIDER_RANGE = (-40.0, 40.0)  # interactive_demo.py: bimpy.slider_float(label, v, -40.0, 40.0)
FILE_PATTERN = re.compile(r"^direction_(\d+)\.npy$")
REPOSITORY = "podgorskiy/ALAE"


def is_official(spec) -> bool:
    """True for a `--directions` entry that names official directions (`official:...`)."""
    return isinstance(spec, str) and spec.strip().startswith(PREFIX)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def read_official_direction(path, latent_size: int | None = None, name: str | None = None) -> Direction:
    """One official `direction_N.npy` as a `Direction` (float32) with its provenance.

    Args:
        path: the file; its name gives the index N (`direction_N.npy`), other names are read with index None.
        latent_size: if given, the vector must have this many numbers (the model's w).
        name: the direction's name (default: the attribute's, e.g. "smile", or "direction_N").
    Raises:
        EditingError: no such file, not a 1-D float array (a pickle is refused), wrong size, zero or non-finite.
    """
    path = pathlib.Path(path)
    if not path.is_file():
        raise EditingError(f"no official direction file at {path}" + (" (it is a folder)" if path.is_dir() else ""))
    data = path.read_bytes()
    try:
        vector = np.load(io.BytesIO(data), allow_pickle=False)
    except (ValueError, OSError, EOFError) as e:
        raise EditingError(f"{path} is not a .npy array ({type(e).__name__}: {e})") from e
    if not isinstance(vector, np.ndarray) or vector.ndim != 1 or vector.dtype.kind != "f":
        raise EditingError(
            f"{path}: an official direction is a float vector [latent] (float64 [512] for ffhq), got "
            f"{getattr(vector, 'dtype', type(vector))} {getattr(vector, 'shape', '')}"
        )
    match = FILE_PATTERN.match(path.name)
    index = int(match.group(1)) if match else None
    if latent_size is not None and vector.shape[0] != int(latent_size):
        raise EditingError(
            f"{path}: an official direction of {vector.shape[0]} numbers, the model's w has {latent_size}: the "
            "published directions fit the ffhq model (512) only"
        )
    attribute = NAME_OF_INDEX.get(index)
    name = name or attribute or (f"direction_{index}" if index is not None else path.stem)
    provenance = {
        "method": "official",
        "source": f"{REPOSITORY} principal_directions (interactive_demo.py)",
        "source_file": str(path.resolve()),
        "sha256": _sha256(data),
        "index": index,
        "attribute": attribute,
        "dtype": str(vector.dtype),
        "norm": float(np.linalg.norm(vector.astype(np.float64))),
        "strength_1": "moves w by the file's vector (official rule: a coordinate unit along it)",
    }
    try:
        return Direction(name, vector, provenance)
    except EditingError as e:
        raise EditingError(f"{path}: {e}") from e


def _folder_files(folder: pathlib.Path) -> list[pathlib.Path]:
    found = sorted((int(m.group(1)), p) for p in folder.iterdir() if (m := FILE_PATTERN.match(p.name)) and p.is_file())
    return [p for _, p in found]


def resolve_official(specs, folder=None, latent_size: int | None = None) -> list[Direction]:
    """The official directions a list of `--directions` entries names, in order.

    Args:
        specs: entries `official:NAME` (one of `OFFICIAL_NAMES`, or `direction_N`, read from `folder`),
            `official:PATH.npy` (one file) or `official:FOLDER` (every `direction_N.npy` in it, by N).
            The prefix may be left out.
        folder: `--official_directions`, the folder of `direction_N.npy` files (the official repository's
            `principal_directions/`); needed for names only.
        latent_size: the model's w size; a vector of another size is refused.
    Raises:
        EditingError: an unknown name (the known ones listed), a name without `folder`, a missing file, a
            folder without direction files, or two entries giving one name.
    """
    if isinstance(specs, str):
        specs = [specs]
    directions = []
    for spec in specs:
        text = str(spec).strip()
        text = text[len(PREFIX) :] if text.startswith(PREFIX) else text
        if not text:
            raise EditingError(f"'{PREFIX}' needs a name ({', '.join(OFFICIAL_NAMES)}), a direction_N.npy or a folder")
        path = pathlib.Path(os.path.expanduser(text))
        if text.endswith(".npy") or os.sep in text or path.is_dir():
            if path.is_dir():
                files = _folder_files(path)
                if not files:
                    raise EditingError(f"{path} holds no direction_N.npy files (the official principal_directions/)")
                directions += [read_official_direction(p, latent_size) for p in files]
            else:
                directions.append(read_official_direction(path, latent_size))
            continue
        match = re.fullmatch(r"direction_(\d+)", text)
        if text not in OFFICIAL_NAMES and not match:
            raise EditingError(
                f"unknown official direction {text!r}: the official ones are {', '.join(OFFICIAL_NAMES)} "
                "(or direction_N, or a path to a direction_N.npy or to a folder of them)"
            )
        if folder in (None, ""):
            raise EditingError(
                f"{PREFIX}{text} is read from the official repository's principal_directions/ folder: pass "
                "--official_directions=PATH/principal_directions (they ship with podgorskiy/ALAE, not with this "
                f"package), or give the file: {PREFIX}PATH/direction_N.npy"
            )
        index = OFFICIAL_NAMES[text] if text in OFFICIAL_NAMES else int(match.group(1))
        base = pathlib.Path(os.path.expanduser(str(folder)))
        if not base.is_dir():
            raise EditingError(f"--official_directions={folder} is not a folder")
        directions.append(read_official_direction(base / f"direction_{index}.npy", latent_size))
    names = [d.name for d in directions]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise EditingError(f"official directions named twice: {repeated}")
    return directions


# ------------------------------------------------------------------------------------------ the rule
def official_layers(model, layers=None) -> tuple[int, int] | None:
    """The style inputs the official rule replaces: `(0, min(16, S))` by default, or `layers` checked.

    Args:
        layers: None (the official default), "coarse" | "middle" | "fine", or `(start, end)`.
    Returns:
        `(start, end)`, or None for MLP nets (their one w is replaced; `layers` must be None).
    """
    if not model.is_style:
        if layers is not None:
            raise EditingError("--official_layers: the MLP nets have one w and no style layers; leave it unset")
        return None
    if layers is None:
        return 0, min(OFFICIAL_LAYER_END, num_style_layers(model))
    return style_layer_range(model, layers, "official layers")


def _coordinates_input(x, batch, count, what):
    if x is None:
        return None
    x = tf.cast(tf.convert_to_tensor(x), tf.float32)
    if x.shape.rank == 1:
        x = x[None]
    if x.shape.rank != 2 or (x.shape[1] is not None and count is not None and x.shape[1] != count):
        raise EditingError(f"official edit: {what} must be [K] or [B, K] for K={count} directions, got {x.shape}")
    if batch is not None and x.shape[0] not in (None, 1, batch):
        raise EditingError(f"official edit: {what} has {x.shape[0]} rows for a batch of {batch}")
    return x


def official_codes(w, directions, dlatent_avg, values=None, shifts=None):
    """The official rule on codes: `(w' [B, latent], coordinates v [B, K])`, all TensorFlow.

    Args:
        w: codes `[B, latent]` (E(x)).
        directions: `Direction`s or `[K, latent]`.
        dlatent_avg: `[latent]` (the model's running mean of w).
        values: the new coordinates `[K]` or `[B, K]` (the official sliders), or None.
        shifts: added to the coordinates, `[K]` or `[B, K]`, or None. Not both; neither: the coordinates stay.
    """
    if values is not None and shifts is not None:
        raise EditingError("official edit: give values (set the coordinates) or shifts (move them), not both")
    w = tf.cast(tf.convert_to_tensor(w), tf.float32)
    matrix = tf.cast(
        tf.convert_to_tensor(directions if tf.is_tensor(directions) else direction_matrix(directions)), tf.float32
    )
    if w.shape.rank != 2 or matrix.shape.rank != 2 or matrix.shape[1] != w.shape[1]:
        raise EditingError(f"official edit: codes {tuple(w.shape)} and directions {tuple(matrix.shape)} do not fit")
    avg = tf.cast(tf.convert_to_tensor(dlatent_avg), tf.float32)
    count = matrix.shape[0]
    values = _coordinates_input(values, w.shape[0], count, "values")
    shifts = _coordinates_input(shifts, w.shape[0], count, "shifts")
    u = w - avg[None]
    v = tf.matmul(u, matrix, transpose_b=True)  # [B, K]: every coordinate from the same u
    rest = u - tf.matmul(v, matrix)
    if values is not None:
        new = tf.broadcast_to(values, tf.shape(v))
    elif shifts is not None:
        new = v + shifts
    else:
        new = v
    return rest + tf.matmul(new, matrix) + avg[None], v


def official_styles(model, w, directions, values=None, shifts=None, layers=None):
    """G's input by the official rule: `(styles, coordinates v [B, K])`.

    Style nets: `[B, S, latent]`, w' (`official_codes`) on the style inputs of `official_layers(model,
    layers)`, w on the others. MLP nets: w' `[B, latent]`.
    """
    span = official_layers(model, layers)
    w = operations._codes(model, w, "official edit")
    edited, v = official_codes(w, directions, model.dlatent_avg, values, shifts)
    if span is None:
        return edited, v
    inside = np.zeros(num_style_layers(model), bool)
    inside[span[0] : span[1]] = True
    styles = tf.where(tf.constant(inside)[None, :, None], edited[:, None, :], w[:, None, :])
    return styles, v


def official_edit(
    model,
    images,
    directions: Sequence[Direction] | np.ndarray,
    values=None,
    shifts=None,
    layers=None,
    use_ema: bool = True,
    noise_seed=operations.DEFAULT_NOISE_SEED,
):
    """Images edited by the official rule: `(images [B, H, W, C], coordinates v [B, K])`.

    `images` are floats in the model's pixel range at its resolution (as `operations.edit` takes them).
    """
    w = operations.encode(model, images, use_ema)
    styles, v = official_styles(model, w, directions, values, shifts, layers)
    return operations.decode_styles(model, styles, use_ema, noise_seed), v

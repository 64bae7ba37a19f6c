"""`Direction`: a named edit vector in w with a record of how it was found, and its files.

A direction's `vector` is added to a code w times a strength (`operations.move`): every
method scales its vector so that strength 1 means something stated in its provenance (the
class-mean gap, one standard deviation of an attribute or of the codes), which makes edits by
different methods comparable at one strength.

Files: one `.npz` per direction (`Direction.save` / `Direction.load`) holding the vector
`[latent]` float32, the name and the provenance as a JSON string, written atomically. A run's
directions live in `WORKDIR/directions/NAME.npz` (`save_directions` / `load_directions`).
"""

from __future__ import annotations

import dataclasses
import io
import json
import math
import pathlib
import re
import zipfile
from collections.abc import Iterable, Mapping, Sequence

import numpy as np

from alae_tf import atomic, storage
from alae_tf.editing.errors import EditingError

FORMAT = "alae_tf.direction/1"
SUFFIX = ".npz"
# A direction's name is its file name: no path separators, no leading dot or dash.
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+=-]{0,127}$")


def direction_name(*parts: object) -> str:
    """A valid direction name from `parts` joined by "_", other characters replaced by "_"."""
    text = "_".join(str(p) for p in parts)
    text = re.sub(r"[^A-Za-z0-9_.+=-]", "_", text).lstrip("._+=-")
    return text[:128] or "direction"


def _jsonable(value: object, where: str) -> object:
    """`value` with numpy scalars/arrays as Python numbers and lists; non-finite floats become None."""
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v, f"{where}.{k}") for k, v in value.items()}
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist(), where)
    if isinstance(value, (list, tuple)):
        return [_jsonable(v, where) for v in value]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        # JSON has no NaN/inf; None reads as "not available" (e.g. no held-out score).
        return float(value) if math.isfinite(value) else None
    if value is None or isinstance(value, str):
        return value
    raise EditingError(f"provenance {where} is a {type(value).__name__}; only numbers, strings, lists and dicts")


def write_npz(path: str | pathlib.Path, fmt: str, provenance: dict, **arrays) -> pathlib.Path:
    """Write `arrays`, the file's `format` and its JSON `provenance` to an `.npz` atomically; returns the path."""
    buffer = io.BytesIO()
    text = json.dumps(provenance, sort_keys=True, allow_nan=False)
    np.savez(buffer, format=np.array(fmt), **arrays, provenance=np.array(text))
    path = storage.path(path)
    atomic.write_bytes(path, buffer.getvalue())
    return path


def read_npz(path: str | pathlib.Path, fmt: str, keys: Sequence[str], what: str) -> tuple[dict, dict]:
    """`(arrays by key, provenance)` of a file `write_npz` wrote with format `fmt`.

    Raises:
        EditingError naming `what` (e.g. "direction"): no such file, a key missing, another format, a
        corrupt file, or a provenance that is not a JSON object.
    """
    path = storage.path(path)
    if not path.is_file():
        raise EditingError(f"no {what} file at {path}" + (" (it is a folder)" if path.is_dir() else ""))
    names = ("format", *keys, "provenance")
    try:
        with np.load(io.BytesIO(path.read_bytes()), allow_pickle=False) as npz:
            missing = [k for k in names if k not in npz.files]
            if missing:
                raise EditingError(f"{path} is not a saved {what}: it lacks {missing}")
            fields = {k: npz[k] for k in names}
        if str(fields["format"]) != fmt:
            raise EditingError(f"{path} has format {str(fields['format'])!r}; this build reads {fmt!r}")
        provenance = json.loads(str(fields["provenance"]))
        if not isinstance(provenance, dict):
            raise EditingError(f"{path}: its provenance is not a JSON object")
    except EditingError:
        raise
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:
        # ValueError covers bad pickles refused, bad arrays and bad JSON (JSONDecodeError).
        raise EditingError(f"{path} is corrupt or not a saved {what} ({type(e).__name__}: {e})") from e
    return fields, provenance


@dataclasses.dataclass(frozen=True, eq=False)
class Direction:
    """A direction in w: `w' = w + strength * vector`.

    Attributes:
        name: short name, also its file name (letters, digits and `_.+=-`, starting with a letter or digit).
        vector: float32 `[latent]`, finite and not all zero.
        provenance: JSON-compatible dict of how it was found. Methods fill `method`, the classes or
            attribute, `num_images` (codes fitted), `num_images_held_out`, a held-out score where one
            applies (`held_out_accuracy`, `held_out_r2`), explained variance where it applies, and what
            strength 1 means (`strength_1`). The caller adds the codes' origin (`codes.run_provenance`:
            workdir, source data, nets "ema"/"trained", images_seen) through each method's `provenance=`.
    """

    name: str
    vector: np.ndarray
    provenance: dict = dataclasses.field(default_factory=dict)

    def __post_init__(self):
        if not isinstance(self.name, str) or not _NAME.match(self.name):
            raise EditingError(
                f"direction name {self.name!r} is not a valid file name: use letters, digits and _.+=- "
                "(at most 128), starting with a letter or digit (editing.direction_name() makes one)"
            )
        vector = np.asarray(self.vector)
        if vector.ndim != 1 or vector.size == 0 or vector.dtype.kind not in "fiu":
            raise EditingError(
                f"direction {self.name}: vector must be numbers [latent], got {vector.dtype} {vector.shape}"
            )
        vector = vector.astype(np.float32)
        if not np.all(np.isfinite(vector)) or not np.any(vector):
            raise EditingError(f"direction {self.name}: vector must be finite and not all zero")
        vector.flags.writeable = False  # a frozen dataclass whose array could change underneath would lie
        object.__setattr__(self, "vector", vector)
        object.__setattr__(self, "provenance", _jsonable(dict(self.provenance), "provenance"))

    @property
    def latent_size(self) -> int:
        return int(self.vector.shape[0])

    @property
    def norm(self) -> float:
        """Euclidean length of `vector` (how far strength 1 moves w)."""
        return float(np.linalg.norm(self.vector.astype(np.float64)))

    @property
    def unit(self) -> np.ndarray:
        """`vector / norm`, float32 `[latent]`."""
        return (self.vector.astype(np.float64) / self.norm).astype(np.float32)

    def replace(self, **changes) -> Direction:
        """A copy with fields replaced; `provenance=` updates keys rather than replacing the dict."""
        if "provenance" in changes:
            changes["provenance"] = {**self.provenance, **changes["provenance"]}
        return dataclasses.replace(self, **changes)

    def save(self, path: str | pathlib.Path) -> pathlib.Path:
        """Write this direction to `path` (an `.npz`) atomically; returns the path."""
        return write_npz(path, FORMAT, self.provenance, name=np.array(self.name), vector=self.vector)

    @classmethod
    def load(cls, path: str | pathlib.Path, latent_size: int | None = None) -> Direction:
        """The direction saved at `path`.

        Args:
            latent_size: if given, the vector must have this many numbers (the model's w size).
        Raises:
            EditingError: no such file, a file that is not a saved direction, or a vector of the wrong size.
        """
        fields, provenance = read_npz(path, FORMAT, ("name", "vector"), "direction")
        path = storage.path(path)
        try:
            direction = cls(str(fields["name"]), fields["vector"], provenance)
        except EditingError as e:
            raise EditingError(f"{path}: {e}") from e
        if latent_size is not None and direction.latent_size != int(latent_size):
            raise EditingError(
                f"{path}: direction {direction.name} has {direction.latent_size} numbers, the model's w has "
                f"{latent_size}: it was made for another model"
            )
        return direction


def save_directions(folder: str | pathlib.Path, directions: Iterable[Direction]) -> list[pathlib.Path]:
    """Write each direction to `folder/NAME.npz` (each file atomically); returns the paths.

    Files of other names already in `folder` are left alone; a direction of the same name is replaced.

    Raises:
        EditingError: two directions share a name, or something that is not a `Direction`.
    """
    directions = list(directions)
    names = [d.name for d in directions if isinstance(d, Direction)]
    if len(names) != len(directions):
        raise EditingError("save_directions takes Direction objects")
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise EditingError(f"two directions share the names {duplicates}: rename them (Direction.replace(name=...))")
    folder = storage.path(folder)
    return [d.save(folder / f"{d.name}{SUFFIX}") for d in directions]


def load_directions(folder: str | pathlib.Path, latent_size: int | None = None) -> dict[str, Direction]:
    """Every `*.npz` direction in `folder`, by name, in file-name order.

    Raises:
        EditingError: no such folder, no directions in it, a corrupt file, two files of one name, or
            (with `latent_size`) a vector of another size.
    """
    folder = storage.path(folder)
    if not folder.is_dir():
        raise EditingError(f"no directions folder at {folder}: find directions first (they are saved there)")
    paths = sorted(p for p in folder.glob(f"*{SUFFIX}") if not p.name.startswith("."))
    if not paths:
        raise EditingError(f"{folder} holds no directions (*{SUFFIX} files)")
    found: dict[str, Direction] = {}
    for path in paths:
        direction = Direction.load(path, latent_size)
        if direction.name in found:
            raise EditingError(f"{path} holds direction {direction.name!r}, which another file in {folder} holds too")
        found[direction.name] = direction
    return found


def direction_matrix(directions: Direction | Sequence[Direction] | np.ndarray) -> np.ndarray:
    """Directions as float32 `[K, latent]` from one `Direction`, a sequence of them, or `[latent]` / `[K, latent]`."""
    if isinstance(directions, Direction):
        return directions.vector[None]
    if isinstance(directions, Sequence) and directions and all(isinstance(d, Direction) for d in directions):
        sizes = {d.latent_size for d in directions}
        if len(sizes) != 1:
            raise EditingError(f"directions of different sizes {sorted(sizes)} cannot be used together")
        return np.stack([d.vector for d in directions])
    matrix = np.asarray(directions, np.float32)
    if matrix.ndim == 1:
        matrix = matrix[None]
    if matrix.ndim != 2 or 0 in matrix.shape:
        raise EditingError(f"directions must be [latent] or [K, latent], got shape {matrix.shape}")
    return matrix


def orthogonalize(
    direction: Direction,
    others: Direction | Sequence[Direction | np.ndarray],
    keep: str = "projection",
    name: str | None = None,
) -> Direction:
    """Conditional editing: `direction` with the span of `others` projected out (Gram-Schmidt).

    Moving along the result leaves every code's coordinates along `others` unchanged (e.g. change
    one attribute while another stays), at the price of a smaller component along the original.

    Args:
        direction: the direction v to condition.
        others: directions (or `[latent]` arrays) to stay orthogonal to; dependent ones are skipped.
        keep: the result's scale. "projection" (default): p * |v|^2 / |p|^2 for the projected p, so
            strength s moves w by s |v| along the unit v-hat, as the original does: the attribute v
            measures changes as much at one strength, while w moves further in total. "norm": p * |v| / |p|,
            the original's length (a weaker change of the attribute at one strength).
        name: the result's name (default `"<name>_orth"`).
    Returns:
        A `Direction` with provenance `conditioned_on` (names), `keep`, `cosine_to_original`, `scale_factor`.
    Raises:
        EditingError: `direction` lies (numerically) in the span of `others`, or a size differs.
    """
    if keep not in ("projection", "norm"):
        raise EditingError(f"orthogonalize: keep must be 'projection' or 'norm', got {keep!r}")
    if isinstance(others, (Direction, np.ndarray)):
        others = [others]
    others = list(others)
    v = direction.vector.astype(np.float64)
    basis: list[np.ndarray] = []
    for other in others:
        u = (other.vector if isinstance(other, Direction) else np.asarray(other)).astype(np.float64)
        if u.shape != v.shape:
            raise EditingError(f"orthogonalize: {direction.name} has shape {v.shape}, another direction {u.shape}")
        norm = np.linalg.norm(u)
        # Twice over (re-orthogonalization): one pass of modified Gram-Schmidt loses orthogonality
        # when the others are nearly parallel to one another.
        for _ in range(2):
            for b in basis:
                u = u - (u @ b) * b
        if np.linalg.norm(u) > 1e-8 * max(norm, 1e-30):
            basis.append(u / np.linalg.norm(u))
    p = v.copy()
    for _ in range(2):
        for b in basis:
            p = p - (p @ b) * b
    v_norm, p_norm = np.linalg.norm(v), np.linalg.norm(p)
    if p_norm < 1e-6 * v_norm:
        raise EditingError(f"orthogonalize: {direction.name} lies in the span of the others; nothing is left of it")
    scale = v_norm**2 / p_norm**2 if keep == "projection" else v_norm / p_norm
    other_names = [o.name if isinstance(o, Direction) else "array" for o in others]
    return Direction(
        name or direction_name(direction.name, "orth"),
        p * scale,
        {
            **direction.provenance,
            "conditioned_on": other_names,
            "keep": keep,
            "cosine_to_original": float(p_norm / v_norm),
            "scale_factor": float(scale),
        },
    )

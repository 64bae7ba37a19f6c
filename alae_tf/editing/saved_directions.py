"""A run's saved directions: `WORKDIR/directions/NAME.npz`, found by name, and described for the user."""

from __future__ import annotations

import pathlib

from alae_tf import storage
from alae_tf.editing.directions import SUFFIX, Direction, load_directions
from alae_tf.editing.errors import EditingError

DIRECTIONS_FOLDER = "directions"


def directions_folder(run) -> pathlib.Path:
    """`WORKDIR/directions`, where a run's directions are saved."""
    return storage.path(run.path) / DIRECTIONS_FOLDER


def direction_path(run, name: str) -> pathlib.Path:
    """The file of the direction `name` of `run` (whether it exists or not)."""
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
            f"alae-edit --mode=directions --workdir={run.path} --method=pca"
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


def resolve_directions(run, directions) -> list[Direction]:
    """`Direction`s as given (checked against the run's w size), or the saved ones they name (`select_directions`).

    Raises:
        EditingError: directions of another model's size, or an unknown name.
    """
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

"""Output folders of the edits: where they go, what `edits.json` records, and writing them all at once.

A folder (default `WORKDIR/edits/<mode>-<time>`) holds grids at the top (`<direction>.png`,
`mix.png`, `interpolation.png`), every single image in `images/`, and `edits.json` saying what made
them. It is written whole: a temp folder renamed into place, so a failure writes nothing.
"""

from __future__ import annotations

import dataclasses
import json
import pathlib
import time

import numpy as np

from alae_tf import atomic, image_grids, storage
from alae_tf.editing import operations
from alae_tf.editing.errors import EditingError

EDITS_FOLDER = "edits"
IMAGES_FOLDER = "images"
MANIFEST = "edits.json"


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


def default_output_dir(run, mode: str) -> pathlib.Path:
    """`WORKDIR/edits/<mode>-<YYYYmmdd-HHMMSS>` (a new name if taken)."""
    base = storage.path(run.path) / EDITS_FOLDER / f"{mode}-{time.strftime('%Y%m%d-%H%M%S')}"
    path, i = base, 2
    while path.exists():
        path, i = base.with_name(f"{base.name}-{i}"), i + 1
    return path


def output_folder(run, output_dir, mode: str, overwrite: bool) -> pathlib.Path:
    """The folder an edit of `mode` writes: `output_dir`, or `default_output_dir`; checked before any work.

    Raises:
        EditingError: a folder that holds the run, a file, or a non-empty folder without `overwrite`.
    """
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


def manifest(run, mode: str, use_ema: bool, **fields) -> str:
    """`edits.json`'s text: the mode, the run and nets (preset, images seen, level, noise seed) and `fields`."""
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


def write_outputs(final: pathlib.Path, pictures: dict[str, np.ndarray], texts: dict[str, str], notes) -> Written:
    """Write `{relative path: uint8 [H, W, C]}` and `{relative path: text}` into `final` at once."""
    with atomic.directory(final, overwrite=final.exists()) as tmp:
        for relative, picture in pictures.items():
            image_grids.write_png(tmp / relative, picture)
        for relative, text in texts.items():
            atomic.write_text(tmp / relative, text)
    singles = [final / r for r in pictures if f"{IMAGES_FOLDER}/" in r]
    grids = [final / r for r in pictures if f"{IMAGES_FOLDER}/" not in r]
    return Written(final, grids, singles, [*grids, *singles, *(final / r for r in texts)], list(notes))

"""SavedModels for TF Serving: `OUT/<part>/<version>/` for every part, plus `OUT/models.config`.

The parts (`PARTS`) are the nets' (`signatures.PARTS`) and the `editor` (`alae_tf.export.editor`),
which bakes in the edit directions given (`export_workdir`: the run's `WORKDIR/directions/`) and
lists them in its `assets.extra/directions.json`, and a class transport if given (`export_workdir`:
`WORKDIR/class_transport.npz`) in its `transport` signature.

Every part is written into a temp folder beside its final place; the temp folders
are renamed only once all parts are complete, so a failure anywhere leaves no part
of the export behind (and, with `overwrite`, the old version untouched). Each
version folder holds the SavedModel (signatures in `alae_tf.export.signatures`),
`assets.extra/tf_serving_warmup_requests` and `assets.extra/alae_export.json` (the
training config, where the weights came from, the image shape at the signatures
with the level and blend a StyleALAE was exported at, and the value ranges each signature's
inputs must respect (`input_rules`); read by the TFLite and ONNX tools and the request validator).
"""

import contextlib
import dataclasses
import json
import pathlib
import re

import tensorflow as tf

import alae_tf
from alae_tf import atomic, editing, storage
from alae_tf import workdir as workdir_lib
from alae_tf.editing.directions import SUFFIX as DIRECTION_SUFFIX
from alae_tf.export import editor, editor_transport, input_checks, serving, signatures
from alae_tf.export.artifacts import ExportError, write_metadata

PARTS = (*signatures.PARTS, editor.PART)
MODELS_CONFIG = "models.config"
_VERSION_DIR = re.compile(r"^\d+$")


@dataclasses.dataclass(frozen=True)
class ExportResult:
    """Where an export went.

    Attributes:
        version: the version number every part was written under.
        saved_models: `{part: OUT/part/version}`.
        models_config: path of `OUT/models.config`.
        image_shape: `(H, W, C)` of the images at the signatures (a StyleALAE's
            trained level's resolution).
        level: the StyleALAE level exported; None for the MLP.
        directions: names of the directions baked into the editor, in index order.
    """

    version: int
    saved_models: dict
    models_config: pathlib.Path
    image_shape: tuple = ()
    level: int | None = None
    directions: tuple = ()


def next_version(output_dir, parts=PARTS):
    """One more than the highest version of any part in `output_dir` (1 for a new folder)."""
    versions = [
        int(p.name)
        for part in parts
        if (storage.path(output_dir) / part).is_dir()
        for p in (storage.path(output_dir) / part).iterdir()
        if p.is_dir() and _VERSION_DIR.match(p.name)
    ]
    return max(versions, default=0) + 1


def _check_version(version):
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise ExportError(f"version must be an int >= 1, got {version!r}")
    return version


def _folders_to_create(output_dir, parts):
    """The folders an export would create, parents first (removed again if it fails)."""
    candidates = [*reversed(output_dir.parents), output_dir] + [output_dir / part for part in parts]
    return [p for p in candidates if not p.exists()]


def _server_models(output_dir, parts, server_base_path):
    """`{model name: base path}` for models.config: these parts, plus other models already listed there."""
    path = output_dir / MODELS_CONFIG
    models = {}
    if path.is_file():
        models = {c.name: c.base_path for c in serving.read_models_config(path).model_config_list.config}
    base = str(server_base_path or output_dir).rstrip("/")
    models.update({part: f"{base}/{part}" for part in parts})
    return models


def _remove_if_empty(folders):
    for folder in reversed(folders):
        with contextlib.suppress(OSError):
            folder.rmdir()


def _write_part(part, nets, config, folder, metadata, directions, official=None, transport=None):
    int_ranges = None
    if part == editor.PART:
        archive = editor.build_archive(nets, config.pixel_range, directions, official, transport)
        archive.write_out(str(folder), verbose=False)
        editor.write_directions_asset(folder, directions, nets.mapping.dlatent_size)
        if transport is not None:
            editor_transport.write_transport_asset(folder, transport)
            metadata = {**metadata, "transport_classes": transport.num_classes}
        if official is not None:
            editor.write_official_asset(folder, official)
            metadata = {
                **metadata,
                "official_directions": [d.name for d in official.directions],
                "official_layers": None if official.layers is None else list(official.layers),
            }
        int_ranges = editor.int_ranges(nets, directions, transport)
        rules = editor.input_rules(nets, config.pixel_range, directions, transport)
        metadata = {**metadata, "directions": [d.name for d in directions]}
    else:
        signatures.build_archive(part, nets, config.pixel_range).write_out(str(folder), verbose=False)
        rules = signatures.input_rules(nets, config.pixel_range)
    signature_defs = serving.read_signature_defs(folder)
    serving.write_warmup(folder, part, signature_defs, config.pixel_range, int_ranges)
    # The ranges the graph checks, per signature and input, for `serving.read_input_rules` (the request validator).
    input_rules = input_checks.signature_rules(signature_defs, rules)
    write_metadata(folder, {**metadata, "part": part, "signatures": sorted(signature_defs), "input_rules": input_rules})


def export_saved_models(
    model,
    config,
    output_dir,
    version=None,
    overwrite=False,
    source=None,
    parts=PARTS,
    server_base_path=None,
    directions=None,
    resolution=None,
    official_directions=None,
    official_layers=None,
    transport=None,
):
    """Export `model`'s EMA nets, in float32, as one SavedModel per part.

    Args:
        model: a trained `ALAE` (any precision policy); style nets are exported
            at its current `level` and `blend`.
        config: its `ALAEConfig` (pixel range, data set; stored with the export).
        output_dir: the model server's base folder `OUT`.
        version: version folder name; default: one more than the newest
            version of any part in `OUT`.
        overwrite: replace existing `OUT/<part>/<version>` folders.
        source: JSON-able provenance stored in the metadata (workdir, step).
        parts: subset of `PARTS` to write.
        server_base_path: the folder `OUT` as the model server sees it (e.g.
            a path inside a container); default: `OUT`'s absolute path.
        directions: `alae_tf.editing.Direction`s (a list, or the dict
            `editing.load_directions` returns) to bake into the editor, whose
            `edit_by_index` takes indices into them in this order; None: none.
        resolution: a StyleALAE's image size at the signatures, one of its levels' up to the
            one it trained last (`signatures.export_level`: a lower level at blend 1, e.g. the
            256 px encoder of a 1024 px model); None: the level it trained last.
        official_directions: `Direction`s (`alae_tf.editing.official.resolve_official`) for the editor's
            official rule (`edit_official`, `shift_official`, `official_coordinates`), baked with the
            model's `dlatent_avg` into `assets.extra/official_directions.json`; None: no such signatures.
        official_layers: the style inputs the official rule replaces (default [0, 16) cut to the model).
        transport: an `alae_tf.editing.ClassTransport` fitted on this model's codes, baked into the editor's
            `transport` signature (`editor_transport`); None: no such signature.

    Returns:
        `ExportResult`.

    Raises:
        ExportError: a version folder exists and `overwrite` is False, a
            bad version / part, or directions that do not fit the model;
            nothing is written then.
    """
    output_dir = storage.path(output_dir).absolute()
    unknown = sorted(set(parts) - set(PARTS))
    if unknown or not parts:
        raise ExportError(f"unknown parts {unknown}; parts are {PARTS}")
    directions = editor.check_directions(directions, model.dlatent_size)
    official = editor.Official.of(model, official_directions, official_layers) if official_directions else None
    # Only the editor holds it (its K x K maps are work).
    transport = editor_transport.TransportBake.of(transport, model.dlatent_size) if editor.PART in parts else None
    version = next_version(output_dir, parts) if version is None else _check_version(version)
    finals = {part: output_dir / part / str(version) for part in parts}
    existing = [str(p) for p in finals.values() if p.exists()]
    if existing and not overwrite:
        raise ExportError(f"{', '.join(existing)} already exist(s): pass --overwrite to replace, or another --version")
    level, blend = signatures.export_level(model, resolution)
    nets = signatures.float32_nets(model, resolution)
    image_shape = tuple(int(d) for d in nets.encoder.image_shape)
    metadata = {
        "version": version,
        "config": json.loads(config.to_json()),
        "source": source or {},
        "precision": "float32",
        "noise_seed": signatures.NOISE_SEED,
        "alae_tf_version": alae_tf.__version__,
        # What the signatures really take and make: for a StyleALAE the level it trained
        # last (not the preset's final resolution) and the blend of its last batch.
        "image_shape": list(image_shape),
        "resolution": image_shape[0],
        "level": level,
        "blend": blend,
    }
    created = _folders_to_create(output_dir, parts)
    try:
        # All parts go to temp folders first; the renames happen as the stack unwinds, after the last part.
        with contextlib.ExitStack() as stack:
            for part, final in finals.items():
                # saved_model.pb last: on object storage the folder is copied into place, and TF Serving
                # loads a version only once its saved_model.pb is there.
                folder = stack.enter_context(atomic.directory(final, overwrite, commit_last=("saved_model.pb",)))
                _write_part(part, nets, config, folder, metadata, directions, official, transport)
            serving.write_models_config(output_dir / MODELS_CONFIG, _server_models(output_dir, parts, server_base_path))
    except (OSError, tf.errors.OpError) as e:  # disk full, read-only, permissions: say where and why
        _remove_if_empty(created)
        cause = getattr(e, "strerror", None) or getattr(e, "message", None) or str(e)
        raise ExportError(
            f"cannot write the export under {output_dir}: {str(cause).strip().splitlines()[0][:300]}. Nothing of "
            "this version was kept (earlier versions are untouched); free disk space or fix the permissions, then "
            "export again."
        ) from e
    except BaseException:
        _remove_if_empty(created)
        raise
    names = tuple(d.name for d in directions) if editor.PART in parts else ()
    return ExportResult(version, finals, output_dir / MODELS_CONFIG, image_shape, level, names)


def workdir_directions(workdir, latent_size):
    """The directions saved in `WORKDIR/directions/` (file-name order), or [] when there are none.

    Raises:
        ExportError: a file there is corrupt or was made for another model.
    """
    folder = storage.path(workdir) / editor.WORKDIR_DIRECTIONS
    if not folder.is_dir() or not any(not p.name.startswith(".") for p in folder.glob(f"*{DIRECTION_SUFFIX}")):
        return []
    try:
        return list(editing.load_directions(folder, latent_size).values())
    except editing.EditingError as e:
        raise ExportError(f"cannot bake the run's directions into the editor: {e}") from e


def export_workdir(
    workdir: str | pathlib.Path,
    output_dir: str | pathlib.Path,
    version: int | None = None,
    overwrite: bool = False,
    server_base_path: str | None = None,
    parts: tuple = PARTS,
    resolution: int | None = None,
    official_directions=None,
    official_layers=None,
) -> ExportResult:
    """`export_saved_models` for the newest checkpoint in `workdir`, with its directions in the editor.

    The editor gets the directions saved in `WORKDIR/directions/` (`workdir_directions`), none if
    there are none, and the class transport saved in `WORKDIR/class_transport.npz`, if any.

    Raises:
        CheckpointError: `workdir` has no config or checkpoint.
        ExportError: see `export_saved_models`.
    """
    run = workdir_lib.open_run(workdir)
    source = {"workdir": str(run.path.absolute()), "step": run.meta["step"], "images_seen": run.meta["images_seen"]}
    directions = workdir_directions(run.path, run.model.dlatent_size)
    return export_saved_models(
        run.model,
        run.config,
        output_dir,
        version,
        overwrite,
        source,
        parts=parts,
        server_base_path=server_base_path,
        directions=directions,
        resolution=resolution,
        official_directions=official_directions,
        official_layers=official_layers,
        transport=editor_transport.workdir_transport(run.path),
    )

"""What the export modules share: the error type, the metadata file every
exported SavedModel carries, and small checks on output paths."""

import json
import pathlib

from alae_tf import atomic, configs, storage

# Beside the warm-up records; TF Serving ignores everything else in assets.extra/.
METADATA_PATH = pathlib.Path("assets.extra") / "alae_export.json"


class ExportError(ValueError):
    """A user-facing export problem; the message says what is wrong and what to do."""


def write_metadata(saved_model_dir, metadata):
    """Write `metadata` (a JSON-able dict) into `saved_model_dir`'s assets.extra/."""
    atomic.write_text(storage.path(saved_model_dir) / METADATA_PATH, json.dumps(metadata, indent=2, sort_keys=True))


def read_metadata(saved_model_dir):
    """The metadata dict written by `alae_tf.export.saved_model` into `saved_model_dir`.

    The TFLite and ONNX tools read the training config (pixel range, data
    set, image shape) from here, so they need nothing but the SavedModel.

    Raises:
        ExportError: not a SavedModel folder, or not one this package wrote.
    """
    saved_model_dir = storage.path(saved_model_dir)
    if not (saved_model_dir / "saved_model.pb").is_file():
        raise ExportError(
            f"{saved_model_dir} is not a SavedModel folder (no saved_model.pb): pass a version folder "
            "such as OUT/encoder/1 written by alae-export-saved-model"
        )
    path = saved_model_dir / METADATA_PATH
    if not path.is_file():
        raise ExportError(f"{saved_model_dir} has no {METADATA_PATH}: it was not written by alae-export-saved-model")
    return json.loads(path.read_text())


def config_of(metadata):
    """The `ALAEConfig` the exported nets were trained with."""
    return configs.ALAEConfig.from_json(json.dumps(metadata["config"]))


def image_shape_of(metadata):
    """`(H, W, C)` of the images at the exported signatures.

    For a StyleALAE that is the resolution of the level it was exported at,
    which may be below the config's final `image_shape`. Exports written
    before the metadata recorded it are at the config's shape.
    """
    return tuple(metadata.get("image_shape") or config_of(metadata).image_shape)


def check_new_file(path, overwrite):
    """Raise `ExportError` if `path` exists and may not be replaced, or has no file name."""
    path = storage.path(path)
    if path.is_dir():
        raise ExportError(f"{path} is a folder: pass a file name")
    if path.exists() and not overwrite:
        raise ExportError(f"{path} already exists: pass --overwrite to replace it, or choose another name")


def write_json(path, report):
    """Write `report` as indented JSON, atomically."""
    atomic.write_text(path, json.dumps(report, indent=2, sort_keys=True) + "\n")


def report_path(output):
    """`FILE.json` beside `FILE.tflite` / `FILE.onnx`."""
    return storage.path(output).with_suffix(".json")

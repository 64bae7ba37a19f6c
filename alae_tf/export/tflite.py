"""The encoder as a TFLite (LiteRT) model: builtins only, checked in LiteRT, with a JSON report.

The TFLite model is converted from the encoder's `encode_float` signature, so on the
device it takes float32 images in the training range (for the MLP: pixel / 255) and
returns w. Why not the uint8 `serving_default`: full-integer quantization calibrates
the input's scale on the float images that the net really sees, and with float
input/output the quantize / dequantize steps sit at the model's edges, so all four
variants (none, float16, dynamic, int8, int16x8) take the same input and one app code path runs
any of them. The uint8 -> float step is one multiply in the app.

`int8` quantizes weights and activations to 8 bits, except the ops that make w: the
encoder's output layer (`to_latent`) and the model's output op stay float. Their
activations are per-tensor int8 otherwise, and w's pre-activation has a few dimensions
much wider than the rest: one int8 scale for all of them wipes out the narrow ones and
costs points of 5-NN, while keeping those two ops float costs a few percent of the weights
(measurements in benchmarks/README.md, "Measurements behind design choices"). The
1024-wide hidden layers, where the time goes, are int8. `int16x8` keeps 8-bit weights with
16-bit activations everywhere (builtins too), but LiteRT runs it far slower on CPUs.

Conversion allows TFLITE_BUILTINS only (plus the integer builtins for `int8`/`int16x8`), never
SELECT_TF_OPS: LiteRT here has no Flex delegate, so a missing builtin must fail at
conversion, not on the device.

StyleALAE: the encoder takes images at the resolution of the level it was exported at
(`image_shape` in the export's metadata). Calibration and check images are loaded as
training loads them (at the config's resolution) and 2x2 average-pooled down to that
level, as training feeds a level. Image folders have no labels: the 5-NN is skipped.
"""

import csv
import dataclasses
import io
import pathlib
import tempfile

import numpy as np
import tensorflow as tf

from alae_tf import atomic, storage
from alae_tf.export.artifacts import (
    ExportError,
    check_new_file,
    config_of,
    image_shape_of,
    read_metadata,
    report_path,
    write_json,
)
from alae_tf.export.litert_check import SIGNATURE, check_encoder, load_check_images

QUANTIZE_MODES = ("none", "float16", "dynamic", "int8", "int16x8")
# Integer modes: calibrated on representative images, and the op set they run on.
INTEGER_OPS = {
    "int8": [tf.lite.OpsSet.TFLITE_BUILTINS_INT8, tf.lite.OpsSet.TFLITE_BUILTINS],
    "int16x8": [
        tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8,
        tf.lite.OpsSet.TFLITE_BUILTINS,
    ],
}


@dataclasses.dataclass(frozen=True)
class TFLiteOptions:
    """How to convert and check (see `alae-export-tflite --help`).

    Attributes:
        quantize: one of `QUANTIZE_MODES`.
        representative_data: data spec of the int8 calibration images (train
            split); default: the data set the model was trained on.
        representative_images: how many calibration images (the first N of
            the train split). int8 ranges are min/max over what calibration
            sees, so few images give noisy ranges (benchmarks/README.md). The
            default takes the whole split.
        eval_data: data spec of the check and 5-NN images; default: the
            training data set.
        data_dir: overrides the data set's default location.
        check_images: test images on which w is compared with the SavedModel.
        knn_train_images, knn_test_images: 5-NN fitted on the first
            `knn_train_images` train encodings, scored on the first
            `knn_test_images` test images; 0 skips it.
        latency_runs: batch-1 invocations timed (median reported).
        overwrite: replace an existing output file.
    """

    quantize: str = "none"
    representative_data: str | None = None
    representative_images: int = 60_000
    eval_data: str | None = None
    data_dir: str | None = None
    check_images: int = 1000
    knn_train_images: int = 60_000
    knn_test_images: int = 10_000
    latency_runs: int = 200
    overwrite: bool = False


# ------------------------------------------------------------------- conversion
# Calibration batches: min/max ranges are the same as image by image (to float rounding), in about half the time.
CALIBRATION_BATCH = 500


def _representative(images):
    def dataset():
        for start in range(0, len(images), CALIBRATION_BATCH):
            yield {"image": images[start : start + CALIBRATION_BATCH]}

    return dataset


# Ops kept float in `int8` mode: those whose output tensor names contain these (the MLP
# encoder's last layer), plus the op producing the model's output.
FLOAT_OUTPUT_LAYERS = ("/to_latent",)


def _float_output_ops(make_converter, images):
    """Names of the ops `int8` keeps float (see the module docstring), found on a few images."""
    probe = tf.lite.experimental.QuantizationDebugger(
        converter=make_converter(images[:8]), debug_dataset=lambda: ([image[np.newaxis]] for image in images[:8])
    )
    probe.run()
    dump = io.StringIO()
    probe.layer_statistics_dump(dump)  # one row per quantized op, in execution order
    names = [row["tensor_name"] for row in csv.DictReader(io.StringIO(dump.getvalue()))]
    return sorted({n for n in names if any(key in n for key in FLOAT_OUTPUT_LAYERS)} | {names[-1]})


def convert_encoder(
    saved_model_dir: str | pathlib.Path, quantize: str, representative_images: np.ndarray | None = None
) -> bytes:
    """The `.tflite` bytes of the SavedModel's `encode_float` signature.

    Args:
        saved_model_dir: an exported encoder (or alae) version folder.
        quantize: one of `QUANTIZE_MODES`.
        representative_images: float32 `[N, H, W, C]` in the training range,
            needed for "int8" and "int16x8" (calibration).

    Raises:
        ExportError: unknown mode, no calibration images, or the graph does
            not convert with builtins only.
    """
    return convert_encoder_with_report(saved_model_dir, quantize, representative_images)[0]


def convert_encoder_with_report(saved_model_dir, quantize, representative_images=None):
    """`(tflite bytes, {"float_ops": [...]})`: `convert_encoder` and the ops int8 kept float."""
    return convert_signature(saved_model_dir, SIGNATURE, quantize, representative_images)


def convert_signature(saved_model_dir, signature, quantize="none", representative_images=None):
    """`(tflite bytes, {"float_ops": [...]})` of one signature of a SavedModel, with builtins only: how every
    TFLite file of this project is converted (the encoder's `encode_float` via `convert_encoder`)."""
    if quantize not in QUANTIZE_MODES:
        raise ExportError(f"unknown quantize mode {quantize!r}; modes are {QUANTIZE_MODES}")
    if quantize in INTEGER_OPS and (representative_images is None or len(representative_images) == 0):
        raise ExportError(f"{quantize} needs representative images to calibrate on, and got none")

    def make_converter(calibration_images):
        converter = tf.lite.TFLiteConverter.from_saved_model(str(saved_model_dir), signature_keys=[signature])
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
        if quantize != "none":
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
        if quantize == "float16":
            converter.target_spec.supported_types = [tf.float16]
        if quantize in INTEGER_OPS:
            converter.representative_dataset = _representative(calibration_images)
            # Integer kernels wherever they exist, float builtins where they do not (never Flex).
            converter.target_spec.supported_ops = INTEGER_OPS[quantize]
        return converter

    try:
        if quantize != "int8":
            return make_converter(representative_images).convert(), {"float_ops": []}
        float_ops = _float_output_ops(make_converter, representative_images)
        debugger = tf.lite.experimental.QuantizationDebugger(
            converter=make_converter(representative_images),
            debug_options=tf.lite.experimental.QuantizationDebugOptions(denylisted_nodes=float_ops),
        )
        return debugger.get_nondebug_quantized_model(), {"float_ops": float_ops}
    except Exception as e:  # the converter raises ConverterError and a few others
        raise ExportError(f"{saved_model_dir} does not convert to TFLite with builtins only ({quantize}): {e}") from e


def _check_options(options):
    if options.quantize not in QUANTIZE_MODES:
        raise ExportError(f"unknown quantize mode {options.quantize!r}; modes are {QUANTIZE_MODES}")
    for name in ("representative_images", "check_images", "latency_runs"):
        if getattr(options, name) < 1:
            raise ExportError(f"{name} must be >= 1, got {getattr(options, name)}")


def export_tflite(
    saved_model_dir: str | pathlib.Path, output: str | pathlib.Path, options: TFLiteOptions = TFLiteOptions()
) -> dict:
    """Convert, check and write `output` (`.tflite`) and its report (`.json` beside it).

    Everything is checked before anything is written; both files are written
    atomically. Returns the report dict.

    Raises:
        ExportError, DatasetError: bad options, output exists, data missing
            or empty, conversion or check failed.
    """
    _check_options(options)
    output = storage.path(output)
    check_new_file(output, options.overwrite)
    check_new_file(report_path(output), options.overwrite)
    metadata = read_metadata(saved_model_dir)
    config, image_shape = config_of(metadata), image_shape_of(metadata)
    representative = None
    if options.quantize in INTEGER_OPS:
        representative, _ = load_check_images(
            config,
            image_shape,
            options.representative_data or config.dataset,
            "train",
            options.data_dir,
            options.representative_images,
            "representative data",
        )
    content, conversion = convert_encoder_with_report(saved_model_dir, options.quantize, representative)
    report = {
        **check_encoder(content, saved_model_dir, config, options, image_shape),
        **conversion,
        "saved_model": str(storage.path(saved_model_dir).absolute()),
        "source": metadata.get("source", {}),
        "representative_images": 0 if representative is None else len(representative),
    }
    atomic.write_bytes(output, content)
    write_json(report_path(output), report)
    return report


def export_tflite_from_workdir(
    workdir: str | pathlib.Path,
    output: str | pathlib.Path,
    options: TFLiteOptions = TFLiteOptions(),
    resolution: int | None = None,
) -> dict:
    """`export_tflite` of the encoder of `workdir`'s newest checkpoint, at `resolution` px.

    The encoder is exported first (`saved_model.export_workdir`, part "encoder" only, into a
    temp folder beside `output`, removed after), at the level of `resolution`
    (`signatures.export_level`; None: the level it trained last), then converted and checked as
    `export_tflite` does. The way to a smaller encoder of a StyleALAE, e.g. 256 px for a 1024 px
    model: the 256 px path of its encoder, a fraction of the full-size work.

    Raises:
        CheckpointError: `workdir` has no checkpoint.
        ExportError, DatasetError: as `export_tflite`, or a resolution the model has no level for.
    """
    from alae_tf.export import saved_model  # here: saved_model imports much more than conversion needs

    _check_options(options)
    output = pathlib.Path(output)
    check_new_file(output, options.overwrite)
    check_new_file(report_path(output), options.overwrite)
    output.absolute().parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f".{output.name}.", dir=output.absolute().parent) as temp:
        result = saved_model.export_workdir(workdir, temp, version=1, parts=("encoder",), resolution=resolution)
        report = export_tflite(result.saved_models["encoder"], output, options)
    report = {**report, "saved_model": None, "workdir": str(storage.path(workdir).absolute())}
    report["exported_at"] = {"resolution": result.image_shape[0], "level": result.level}
    write_json(report_path(output), report)
    return report

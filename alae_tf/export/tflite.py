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
~50x wider than the rest (measured on the 300k MLP: scale 0.47, range about 120): one int8
scale for all 50 wiped out the narrow ones and cost 3.6 points of 5-NN (0.7714 vs
0.8078); with those two ops float it is 0.8067, for 2.5 % of the weights. The 1024-wide
hidden layers, where the time goes, are int8. `int16x8` keeps 8-bit weights with 16-bit
activations everywhere (builtins too), but LiteRT runs it 20-60x slower here.

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
import statistics
import time

import numpy as np
import tensorflow as tf
from ai_edge_litert import schema_py_generated as schema
from ai_edge_litert.interpreter import Interpreter

from alae_tf import atomic, data
from alae_tf.export.common import (ExportError, check_new_file, config_of, image_shape_of, read_metadata,
                                   report_path, write_json)
from alae_tf.layers import downsample_avg_to
from alae_tf.metrics.representation import knn_predict

QUANTIZE_MODES = ("none", "float16", "dynamic", "int8", "int16x8")
# Integer modes: calibrated on representative images, and the op set they run on.
INTEGER_OPS = {
    "int8": [tf.lite.OpsSet.TFLITE_BUILTINS_INT8, tf.lite.OpsSet.TFLITE_BUILTINS],
    "int16x8": [tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8,
                tf.lite.OpsSet.TFLITE_BUILTINS],
}
SIGNATURE = "encode_float"
# Max |w_tflite - w_savedmodel| / max(1, max |w|) allowed for the float modes: beyond
# it the conversion is broken. dynamic and int8 change the numbers on purpose: their
# error is measured and reported, and the 5-NN accuracy says what it costs.
FLOAT_TOLERANCE = {"none": 1e-4, "float16": 1e-2}
BULK_BATCH = 256


@dataclasses.dataclass(frozen=True)
class TFLiteOptions:
    """How to convert and check (see `export/tflite.py --help`).

    Attributes:
        quantize: one of `QUANTIZE_MODES`.
        representative_data: data spec of the int8 calibration images (train
            split); default: the data set the model was trained on.
        representative_images: how many calibration images (the first N of
            the train split). int8 ranges are min/max over what calibration
            sees, so few images give noisy ranges: on the 300k-image MLP the
            int8 5-NN was 0.792 / 0.798 / 0.800 after 500 / 5k / 60k images
            (SavedModel 0.806). The default takes the whole split (60k
            Fashion-MNIST images calibrate in about 10 s).
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
def _representative(images):
    def dataset():
        for image in images:
            yield {"image": image[np.newaxis]}

    return dataset


# Ops kept float in `int8` mode: those whose output tensor names contain these (the MLP
# encoder's last layer), plus the op producing the model's output.
FLOAT_OUTPUT_LAYERS = ("/to_latent",)


def _float_output_ops(make_converter, images):
    """Names of the ops `int8` keeps float (see the module docstring), found on a few images."""
    probe = tf.lite.experimental.QuantizationDebugger(
        converter=make_converter(images[:8]), debug_dataset=lambda: ([image[np.newaxis]] for image in images[:8]))
    probe.run()
    dump = io.StringIO()
    probe.layer_statistics_dump(dump)  # one row per quantized op, in execution order
    names = [row["tensor_name"] for row in csv.DictReader(io.StringIO(dump.getvalue()))]
    return sorted({n for n in names if any(key in n for key in FLOAT_OUTPUT_LAYERS)} | {names[-1]})


def convert_encoder(saved_model_dir, quantize, representative_images=None):
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
    if quantize not in QUANTIZE_MODES:
        raise ExportError(f"unknown quantize mode {quantize!r}; modes are {QUANTIZE_MODES}")
    if quantize in INTEGER_OPS and (representative_images is None or len(representative_images) == 0):
        raise ExportError(f"{quantize} needs representative images to calibrate on, and got none")

    def make_converter(calibration_images):
        converter = tf.lite.TFLiteConverter.from_saved_model(str(saved_model_dir), signature_keys=[SIGNATURE])
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
            debug_options=tf.lite.experimental.QuantizationDebugOptions(denylisted_nodes=float_ops))
        return debugger.get_nondebug_quantized_model(), {"float_ops": float_ops}
    except Exception as e:  # the converter raises ConverterError and a few others
        raise ExportError(f"{saved_model_dir} does not convert to TFLite with builtins only ({quantize}): {e}") from e


def operators(model_content):
    """Sorted operator names of a `.tflite` model; custom ops (e.g. Flex) appear as `CUSTOM:<name>`."""
    model = schema.Model.GetRootAs(model_content, 0)
    names = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
    found = set()
    for i in range(model.OperatorCodesLength()):
        code = model.OperatorCodes(i)
        # Codes above 127 live only in BuiltinCode; older ones in DeprecatedBuiltinCode too.
        name = names.get(max(code.BuiltinCode(), code.DeprecatedBuiltinCode()), "UNKNOWN")
        if name == "CUSTOM":
            name = f"CUSTOM:{code.CustomCode().decode()}"
        found.add(name)
    return sorted(found)


# ---------------------------------------------------------------------- running
class LiteEncoder:
    """A `.tflite` encoder in LiteRT, through its `encode_float` signature runner.

    Args:
        model_content: the `.tflite` bytes.
        num_threads: interpreter threads (1 for latency, as on a small device).
    """

    def __init__(self, model_content, num_threads=1):
        self.interpreter = Interpreter(model_content=model_content, num_threads=num_threads)
        self.runner = self.interpreter.get_signature_runner(SIGNATURE)

    def encode(self, images, batch=BULK_BATCH):
        """w `[N, latent]` for float32 images `[N, H, W, C]`; the runner resizes to each batch."""
        return np.concatenate([
            self.runner(image=np.ascontiguousarray(images[i:i + batch], np.float32))["w"]
            for i in range(0, len(images), batch)
        ])

    def call_latency_us(self, image, runs):
        """Median microseconds of one batch-1 signature-runner call (Python in and out included)."""
        batch1 = image[np.newaxis].astype(np.float32)

        def call():
            return self.runner(image=batch1)

        call()  # sizes the input to batch 1 and allocates; the timed calls reuse that
        return _median_us(call, runs)


def invoke_latency_us(model_content, image, runs):
    """Median microseconds of one batch-1 `invoke()` on one thread: the model's own cost.

    A bare interpreter: `invoke()` refuses to run while a signature runner
    holds a reference to the interpreter.
    """
    interpreter = Interpreter(model_content=model_content, num_threads=1)
    (details,) = interpreter.get_input_details()
    interpreter.resize_tensor_input(details["index"], [1, *image.shape])
    interpreter.allocate_tensors()
    interpreter.set_tensor(details["index"], image[np.newaxis].astype(np.float32))
    interpreter.invoke()  # first run sets up the kernels (and XNNPACK); not timed
    return _median_us(interpreter.invoke, runs)


def _median_us(fn, runs):
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e6


def saved_model_codes(encode_float, images, batch=1000):
    """w from the SavedModel's `encode_float` concrete function, in batches."""
    return np.concatenate([
        encode_float(image=tf.constant(images[i:i + batch], tf.float32))["w"].numpy()
        for i in range(0, len(images), batch)
    ])


# ------------------------------------------------------------------------- data
def _load(config, image_shape, spec, split, data_dir, limit, what):
    """`(float32 images [N, *image_shape] in the training range, labels or None)`, N <= limit.

    Loaded at the config's resolution, as training loads them, then pooled
    (2x2 average per halving) to `image_shape`, the exported level's
    resolution, as training feeds a StyleALAE level.
    """
    height, _, channels = config.image_shape
    image_set = data.load_images(spec, split, resolution=height, channels=channels, data_dir=data_dir)
    if len(image_set) == 0:
        raise ExportError(f"{what} {spec}/{split} has no images")
    if tuple(image_set.images.shape[1:]) != tuple(config.image_shape):
        raise ExportError(f"{what} {spec} gives images {image_set.images.shape[1:]}, the model was trained on "
                          f"{config.image_shape}")
    images = data.to_pixel_range(image_set.images[:limit], config.pixel_range)
    if image_shape[0] != height:
        images = downsample_avg_to(images, image_shape[0])
    labels = None if image_set.labels is None else image_set.labels[:limit]
    return images.numpy(), labels


def _knn_accuracy(train_codes, train_labels, test_codes, test_labels):
    return float(np.mean(knn_predict(train_codes, train_labels, test_codes, k=5) == test_labels))


def _check_options(options):
    if options.quantize not in QUANTIZE_MODES:
        raise ExportError(f"unknown quantize mode {options.quantize!r}; modes are {QUANTIZE_MODES}")
    for name in ("representative_images", "check_images", "latency_runs"):
        if getattr(options, name) < 1:
            raise ExportError(f"{name} must be >= 1, got {getattr(options, name)}")


# ------------------------------------------------------------------------ export
def _accuracy_report(lite, encode_float, config, image_shape, options, test_images, test_labels):
    """5-NN accuracies through the TFLite encoder and through the SavedModel (same images)."""
    spec = options.eval_data or config.dataset
    if not options.knn_train_images or not options.knn_test_images or test_labels is None:
        return {"knn5_skipped": "no labels" if test_labels is None else "knn_*_images is 0"}
    train_images, train_labels = _load(config, image_shape, spec, "train", options.data_dir,
                                       options.knn_train_images, "k-NN data")
    test_images, test_labels = test_images[:options.knn_test_images], test_labels[:options.knn_test_images]
    return {
        "knn5_accuracy_tflite": _knn_accuracy(lite.encode(train_images), train_labels, lite.encode(test_images),
                                              test_labels),
        "knn5_accuracy_saved_model": _knn_accuracy(saved_model_codes(encode_float, train_images), train_labels,
                                                   saved_model_codes(encode_float, test_images), test_labels),
        "knn_train_images": len(train_images),
        "knn_test_images": len(test_images),
    }


def check_encoder(model_content, saved_model_dir, config, options, image_shape=None):
    """Run the `.tflite` in LiteRT against the SavedModel; returns the report dict.

    `image_shape`: what the encoder reads (`common.image_shape_of` the
    export's metadata); default the config's.

    Raises:
        ExportError: non-finite outputs, or a float mode beyond `FLOAT_TOLERANCE`.
    """
    image_shape = tuple(image_shape or config.image_shape)
    loaded = tf.saved_model.load(str(saved_model_dir))  # kept in a variable: its functions need it alive
    encode_float = loaded.signatures[SIGNATURE]
    spec = options.eval_data or config.dataset
    count = max(options.check_images, options.knn_test_images)
    test_images, test_labels = _load(config, image_shape, spec, "test", options.data_dir, count, "check data")
    lite = LiteEncoder(model_content)
    checked = test_images[:options.check_images]
    w_lite, w_ref = lite.encode(checked), saved_model_codes(encode_float, checked)
    if not np.all(np.isfinite(w_lite)):
        raise ExportError(f"the {options.quantize} TFLite encoder gives non-finite w")
    error = float(np.max(np.abs(w_lite - w_ref)))
    scale = float(np.max(np.abs(w_ref)))
    tolerance = FLOAT_TOLERANCE.get(options.quantize)
    if tolerance is not None and error > tolerance * max(1.0, scale):
        raise ExportError(f"the {options.quantize} TFLite encoder is off by {error:.3g} (max |w| {scale:.3g}), "
                          f"more than {tolerance} relative: the conversion is broken")
    return {
        "mode": options.quantize,
        "size_bytes": len(model_content),
        "ops": operators(model_content),
        "input": {"name": "image", "dtype": "float32", "shape": [-1, *image_shape],
                  "pixel_range": list(config.pixel_range)},
        "check_images": len(checked),
        "max_abs_error_w": error,
        "max_abs_w": scale,
        "latency_us_batch1": invoke_latency_us(model_content, checked[0], options.latency_runs),
        "latency_us_batch1_python_call": LiteEncoder(model_content).call_latency_us(checked[0], options.latency_runs),
        "latency_runs": options.latency_runs,
        **_accuracy_report(lite, encode_float, config, image_shape, options, test_images, test_labels),
    }


def export_tflite(saved_model_dir, output, options=TFLiteOptions()):
    """Convert, check and write `output` (`.tflite`) and its report (`.json` beside it).

    Everything is checked before anything is written; both files are written
    atomically. Returns the report dict.

    Raises:
        ExportError, DatasetError: bad options, output exists, data missing
            or empty, conversion or check failed.
    """
    _check_options(options)
    output = pathlib.Path(output)
    check_new_file(output, options.overwrite)
    check_new_file(report_path(output), options.overwrite)
    metadata = read_metadata(saved_model_dir)
    config, image_shape = config_of(metadata), image_shape_of(metadata)
    representative = None
    if options.quantize in INTEGER_OPS:
        representative, _ = _load(config, image_shape, options.representative_data or config.dataset, "train",
                                  options.data_dir, options.representative_images, "representative data")
    content, conversion = convert_encoder_with_report(saved_model_dir, options.quantize, representative)
    report = {
        **check_encoder(content, saved_model_dir, config, options, image_shape),
        **conversion,
        "saved_model": str(pathlib.Path(saved_model_dir).absolute()),
        "source": metadata.get("source", {}),
        "representative_images": 0 if representative is None else len(representative),
    }
    atomic.write_bytes(output, content)
    write_json(report_path(output), report)
    return report


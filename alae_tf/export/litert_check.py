"""The converted encoder checked in LiteRT against its SavedModel: w error, latency, and 5-NN accuracy.

`check_encoder` runs a `.tflite` encoder in LiteRT (`LiteEncoder`) on images loaded as
training loads them (pooled to a StyleALAE's exported level), and reports how far its w is
from the SavedModel's, its batch-1 latency, and what quantization costs in 5-NN accuracy.
`alae_tf.export.tflite` converts; this module only runs and measures.
"""

import statistics
import time

import numpy as np
import tensorflow as tf
from ai_edge_litert import schema_py_generated as schema
from ai_edge_litert.interpreter import Interpreter

from alae_tf import data
from alae_tf.export import input_checks
from alae_tf.export.artifacts import ExportError
from alae_tf.probes import knn_predict
from alae_tf.workdir import pool_to_resolution

SIGNATURE = "encode_float"
BULK_BATCH = 256
# Max |w_tflite - w_savedmodel| / max(1, max |w|) allowed for the float modes: beyond
# it the conversion is broken. dynamic and int8 change the numbers on purpose: their
# error is measured and reported, and the 5-NN accuracy says what it costs.
FLOAT_TOLERANCE = {"none": 1e-4, "float16": 1e-2}


class LiteEncoder:
    """A `.tflite` encoder in LiteRT, through its `encode_float` signature runner.

    Images are checked in Python before LiteRT runs them (`check_images`), with messages that name the
    input and what it must be: LiteRT itself would resize its input to any shape with as many values
    (an `[N, 28, 28]` batch, or channels-first images), and the converted model has no checks left (the
    SavedModel's asserts do not convert), so NaN or pixels in the wrong range would come back as codes.

    Args:
        model_content: the `.tflite` bytes.
        num_threads: interpreter threads (1 for latency, as on a small device).
        pixel_range: the training pixel range `(lo, hi)` the images must lie in (within
            `input_checks.PIXEL_TOLERANCE`); None checks everything but the range.
    """

    def __init__(self, model_content, num_threads=1, pixel_range=None):
        self.interpreter = Interpreter(model_content=model_content, num_threads=num_threads)
        self.runner = self.interpreter.get_signature_runner(SIGNATURE)
        details = self.runner.get_input_details()
        if sorted(details) != ["image"]:
            raise ExportError(f"this .tflite's {SIGNATURE} takes {sorted(details)}, not one input 'image'")
        self.input_shape = [int(d) for d in details["image"]["shape_signature"]]
        self.input_dtype = np.dtype(details["image"]["dtype"])
        self.rule = None if pixel_range is None else input_checks.pixel_rule(pixel_range)

    def check_images(self, images):
        """`images` as the model's float32 `[N, H, W, C]`; `input_checks.InputError` (a ValueError) if they do not fit.

        Any float array is taken (float64 from numpy arithmetic holds the same pixels); integer or bool
        arrays are refused, since uint8 pixels are not images in the training range.
        """
        images = np.asarray(images)
        where = f"the TFLite encoder ({SIGNATURE})"
        if images.dtype.kind != "f":
            wanted = f"{self.input_dtype.name} images in the training pixel range"
            if self.rule is not None:
                wanted += f" [{self.rule.low:g}, {self.rule.high:g}]"
            raise input_checks.InputError(
                f"input 'image' is {images.dtype.name}, {where} wants {wanted} "
                "(uint8 pixels: map them with alae_tf.data.to_pixel_range first)"
            )
        images = np.ascontiguousarray(images, self.input_dtype)
        return input_checks.check_array("image", images, self.input_dtype, self.input_shape, self.rule, where=where)

    def encode(self, images, batch=BULK_BATCH):
        """w `[N, latent]` for float32 images `[N, H, W, C]`; the runner resizes to each batch."""
        images = self.check_images(images)
        return np.concatenate([self.runner(image=images[i : i + batch])["w"] for i in range(0, len(images), batch)])

    def call_latency_us(self, image, runs):
        """Median microseconds of one batch-1 signature-runner call (Python in and out included)."""
        batch1 = self.check_images(np.asarray(image)[np.newaxis])

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
    return np.concatenate(
        [
            encode_float(image=tf.constant(images[i : i + batch], tf.float32))["w"].numpy()
            for i in range(0, len(images), batch)
        ]
    )


def load_check_images(config, image_shape, spec, split, data_dir, limit, what, unlabelled_limit=None):
    """`(float32 images [N, *image_shape] in the training range, labels or None)`, N <= limit.

    Loaded at the config's resolution, as training loads them, then pooled
    (2x2 average per halving) to `image_shape`, the exported level's
    resolution, as training feeds a StyleALAE level. `unlabelled_limit`: the
    smaller limit for a data set without labels (no 5-NN will need more): only
    that many are made float, which at 1024 px is 12.6 MB an image.
    """
    image_set = data.load_split(spec, split, config.image_shape, data_dir=data_dir)
    if len(image_set) == 0:
        raise ExportError(f"{what} {spec}/{split} has no images")
    if image_set.labels is None and unlabelled_limit is not None:
        limit = min(limit, unlabelled_limit)
    images = pool_to_resolution(image_set.images[:limit], image_shape[0])
    labels = None if image_set.labels is None else image_set.labels[:limit]
    return data.to_pixel_range(images, config.pixel_range).numpy(), labels


def _knn_accuracy(train_codes, train_labels, test_codes, test_labels):
    return float(np.mean(knn_predict(train_codes, train_labels, test_codes, k=5) == test_labels))


def _accuracy_report(lite, encode_float, config, image_shape, options, test_images, test_labels):
    """5-NN accuracies through the TFLite encoder and through the SavedModel (same images)."""
    spec = options.eval_data or config.dataset
    if not options.knn_train_images or not options.knn_test_images or test_labels is None:
        return {"knn5_skipped": "no labels" if test_labels is None else "knn_*_images is 0"}
    train_images, train_labels = load_check_images(
        config, image_shape, spec, "train", options.data_dir, options.knn_train_images, "k-NN data"
    )
    test_images, test_labels = test_images[: options.knn_test_images], test_labels[: options.knn_test_images]
    return {
        "knn5_accuracy_tflite": _knn_accuracy(
            lite.encode(train_images), train_labels, lite.encode(test_images), test_labels
        ),
        "knn5_accuracy_saved_model": _knn_accuracy(
            saved_model_codes(encode_float, train_images),
            train_labels,
            saved_model_codes(encode_float, test_images),
            test_labels,
        ),
        "knn_train_images": len(train_images),
        "knn_test_images": len(test_images),
    }


def check_encoder(model_content, saved_model_dir, config, options, image_shape=None):
    """Run the `.tflite` in LiteRT against the SavedModel; returns the report dict.

    `image_shape`: what the encoder reads (`artifacts.image_shape_of` the
    export's metadata); default the config's.

    Raises:
        ExportError: non-finite outputs, or a float mode beyond `FLOAT_TOLERANCE`.
    """
    image_shape = tuple(image_shape or config.image_shape)
    loaded = tf.saved_model.load(str(saved_model_dir))  # kept in a variable: its functions need it alive
    encode_float = loaded.signatures[SIGNATURE]
    spec = options.eval_data or config.dataset
    count = max(options.check_images, options.knn_test_images)
    # Unlabelled images (an image folder) serve the w check only: load no more than it compares. (All
    # 10k 5-NN test images of a 146-face folder at 1024 px took the check to 11.8 GB peak.)
    test_images, test_labels = load_check_images(
        config, image_shape, spec, "test", options.data_dir, count, "check data", options.check_images
    )
    lite = LiteEncoder(model_content, pixel_range=config.pixel_range)
    checked = test_images[: options.check_images]
    w_lite, w_ref = lite.encode(checked), saved_model_codes(encode_float, checked)
    if not np.all(np.isfinite(w_lite)):
        raise ExportError(f"the {options.quantize} TFLite encoder gives non-finite w")
    error = float(np.max(np.abs(w_lite - w_ref)))
    scale = float(np.max(np.abs(w_ref)))
    tolerance = FLOAT_TOLERANCE.get(options.quantize)
    if tolerance is not None and error > tolerance * max(1.0, scale):
        raise ExportError(
            f"the {options.quantize} TFLite encoder is off by {error:.3g} (max |w| {scale:.3g}), "
            f"more than {tolerance} relative: the conversion is broken"
        )
    return {
        "mode": options.quantize,
        "size_bytes": len(model_content),
        "ops": operators(model_content),
        "input": {
            "name": "image",
            "dtype": "float32",
            "shape": [-1, *image_shape],
            "pixel_range": list(config.pixel_range),
        },
        "check_images": len(checked),
        "max_abs_error_w": error,
        "max_abs_w": scale,
        "latency_us_batch1": invoke_latency_us(model_content, checked[0], options.latency_runs),
        "latency_us_batch1_python_call": LiteEncoder(model_content, pixel_range=config.pixel_range).call_latency_us(
            checked[0], options.latency_runs
        ),
        "latency_runs": options.latency_runs,
        **_accuracy_report(lite, encode_float, config, image_shape, options, test_images, test_labels),
    }


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

r"""Latency of the exported encoder (images -> w) in each export format, at batch 1 and 64.

    python -m benchmarks.export_latency                          # MLP nets, random weights
    python -m benchmarks.export_latency --workdir=runs/mnist_mlp # a trained run's EMA encoder
    python -m benchmarks.export_latency --runs=20 --warmup=2     # a quick check

The encoder is exported with the library's own API (`export.saved_model.export_saved_models`,
part "encoder", float32 EMA nets), then every format runs its `encode_float` signature
(float32 images in the training pixel range -> w):

* saved_model: `tf.saved_model.load(dir).signatures["encode_float"]` (TF runtime);
* tflite/<mode>: `export.tflite.convert_encoder` (builtins only), run by
  `export.litert_check.LiteEncoder` (ai_edge_litert Interpreter, signature runner), for every
  mode of `export.tflite.QUANTIZE_MODES` by default: none (float32), float16, dynamic
  (int8 weights), int8 and int16x8 (integer activations too, calibrated on
  `--calibration_images` of the preset's data set, or on random images if it is missing);
* onnx: `export.onnx.convert` (tf2onnx), run by onnxruntime (CPU provider).

A latency is the median wall time of one call from the Python side, numpy in and numpy
out (what an application sees), over `--runs` calls after `--warmup` calls, at each batch
size. Every runtime gets `--threads` threads (default 1, as on a small device; 0 leaves
each runtime's default). Weights do not change the latency (only the int8 calibration
depends on them), so random nets from the preset are the default.
"""

import pathlib
import tempfile

import numpy as np
import tensorflow as tf
from absl import app, flags

from alae_tf import builders, configs, data
from alae_tf import workdir as workdir_lib
from alae_tf.export import litert_check, onnx, saved_model, tflite
from alae_tf.layers import downsample_avg_to
from benchmarks import harness

NAME = "export_latency"
FORMATS = ("saved_model", "tflite", "onnx")

FLAGS = flags.FLAGS
flags.DEFINE_string(
    "workdir",
    None,
    "A trained run (alae-train) whose newest checkpoint is exported; default: random nets of --preset.",
)
flags.DEFINE_enum("preset", "mnist_mlp", sorted(configs.PRESETS), "Nets to build when no --workdir is given.")
flags.DEFINE_list("formats", list(FORMATS), f"Formats to time: {', '.join(FORMATS)}.")
flags.DEFINE_list(
    "tflite_modes", list(tflite.QUANTIZE_MODES), f"TFLite quantization modes: {', '.join(tflite.QUANTIZE_MODES)}."
)
flags.DEFINE_list("batch_sizes", ["1", "64"], "Batch sizes to time.")
flags.DEFINE_integer("runs", 200, "Timed calls per case (at most).", lower_bound=1)
flags.DEFINE_integer("warmup", 10, "Untimed calls per case first.", lower_bound=0)
flags.DEFINE_float("max_seconds", 20.0, "Stop timing a case after this many seconds (after 3 calls).", lower_bound=0.0)
flags.DEFINE_integer(
    "threads",
    1,
    "Threads of every runtime (TF intra/inter-op, LiteRT, onnxruntime); 0: each runtime's default.",
    lower_bound=0,
)
flags.DEFINE_integer("calibration_images", 200, "int8 calibration images.", lower_bound=1)
flags.DEFINE_string("keep_dir", None, "Keep the exported files here (default: a temp folder, removed).")
flags.DEFINE_integer("seed", 0, "Seed of the random nets and inputs.")

flags.register_validator("formats", lambda v: all(f in FORMATS for f in v), message=f"--formats: {FORMATS}")
flags.register_validator(
    "tflite_modes",
    lambda v: all(m in tflite.QUANTIZE_MODES for m in v),
    message=f"--tflite_modes: {tflite.QUANTIZE_MODES}",
)
flags.register_validator(
    "batch_sizes",
    lambda v: all(b.isdigit() and int(b) > 0 for b in v),
    message="--batch_sizes must be positive integers",
)

COLUMNS = [
    ("format", "format"),
    ("variant", "variant"),
    ("batch_size", "batch"),
    ("median_ms", "median ms"),
    ("p90_ms", "p90 ms"),
    ("images_per_s", "images/s"),
    ("size_bytes", "size (bytes)"),
    ("max_abs_diff", "max |w - w_TF|"),
    ("runs", "runs"),
]


def _model():
    """`(config, model, source)`: the workdir's newest checkpoint, or random nets of --preset."""
    if FLAGS.workdir:
        run = workdir_lib.open_run(FLAGS.workdir)
        config, model, meta = run.config, run.model, run.meta
        return config, model, {"workdir": str(pathlib.Path(FLAGS.workdir).absolute()), "step": meta["step"]}
    config = configs.PRESETS[FLAGS.preset]
    return config, builders.build_compiled_model(config, seed=FLAGS.seed), {"random_init_preset": FLAGS.preset}


def _calibration(config, image_shape):
    """int8 calibration images: the preset's training data at the exported shape, else random."""
    try:
        height, _, channels = config.image_shape
        images = data.load_images(config.dataset, "train", resolution=height, channels=channels).images
        images = data.to_pixel_range(images[: FLAGS.calibration_images], config.pixel_range)
        if image_shape[0] != height:
            images = downsample_avg_to(images, image_shape[0])
        return images.numpy(), config.dataset
    except data.DatasetError as e:
        print(f"int8 calibration on random images: {e}")
        return _random_images(config, image_shape, FLAGS.calibration_images, FLAGS.seed + 1), "random"


def _random_images(config, image_shape, batch, seed):
    lo, hi = config.pixel_range
    return np.random.default_rng(seed).uniform(lo, hi, (batch, *image_shape)).astype(np.float32)


def _time(row, call, inputs, reference):
    """Fill `row` with the latency of `call(x)` -> w at each batch, and its max error against TF."""
    rows = []
    for batch, x in inputs.items():
        w = call(x)
        times = harness.time_calls(lambda x=x: call(x), FLAGS.runs, warmup=FLAGS.warmup, max_seconds=FLAGS.max_seconds)
        stats = harness.summarize(times)
        rows.append(
            {
                **row,
                "status": "ok",
                "batch_size": batch,
                "median_ms": stats["median_s"] * 1e3,
                "p90_ms": stats["p90_s"] * 1e3,
                "images_per_s": batch / stats["median_s"],
                "runs": stats["runs"],
                "max_abs_diff": float(np.max(np.abs(w - reference[batch]))),
                "latency_stats_s": stats,
            }
        )
        harness.print_row(rows[-1], COLUMNS)
    return rows


def _guarded(row, batch_sizes, make_rows):
    """`make_rows()`, or one skipped row per batch size if converting or running fails."""
    try:
        return make_rows()
    except Exception as e:  # one format failing (a converter missing an op) must not hide the others
        rows = [harness.skipped({**row, "batch_size": b}, e) for b in batch_sizes]
        for r in rows:
            harness.print_row(r, COLUMNS)
        return rows


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    if FLAGS.threads:  # before TF runs its first op
        tf.config.threading.set_intra_op_parallelism_threads(FLAGS.threads)
        tf.config.threading.set_inter_op_parallelism_threads(FLAGS.threads)
    threads = FLAGS.threads or None
    batch_sizes = [int(b) for b in FLAGS.batch_sizes]
    config, model, source = _model()
    with tempfile.TemporaryDirectory() as temp:
        out = pathlib.Path(FLAGS.keep_dir or temp)
        with harness.Stopwatch() as export_time:
            result = saved_model.export_saved_models(
                model, config, out / "saved_model", source=source, parts=("encoder",), overwrite=True, version=1
            )
        encoder_dir = result.saved_models["encoder"]
        image_shape = tuple(result.image_shape)
        inputs = {b: _random_images(config, image_shape, b, FLAGS.seed + b) for b in batch_sizes}
        loaded = tf.saved_model.load(str(encoder_dir))  # kept in a variable: its functions need it alive
        encode_float = loaded.signatures[tflite.SIGNATURE]

        def tf_call(x):
            return encode_float(image=tf.constant(x))["w"].numpy()

        reference = {b: tf_call(x) for b, x in inputs.items()}
        rows = []
        if "saved_model" in FLAGS.formats:
            rows += _time(
                {"format": "saved_model", "variant": "TF signature", "export_s": export_time.seconds},
                tf_call,
                inputs,
                reference,
            )
        calibrated_on = None
        if "tflite" in FLAGS.formats:
            for mode in FLAGS.tflite_modes:
                row = {"format": "tflite", "variant": mode}

                def tflite_rows(mode=mode, row=row):
                    nonlocal calibrated_on
                    calibration = None
                    if mode in tflite.INTEGER_OPS:
                        calibration, calibrated_on = _calibration(config, image_shape)
                    with harness.Stopwatch() as convert_time:
                        content = tflite.convert_encoder(encoder_dir, mode, calibration)
                    if FLAGS.keep_dir:
                        (out / f"encoder_{mode}.tflite").write_bytes(content)
                    lite = litert_check.LiteEncoder(content, num_threads=threads)
                    return _time(
                        {
                            **row,
                            "size_bytes": len(content),
                            "convert_s": convert_time.seconds,
                            "ops": litert_check.operators(content),
                        },
                        lambda x: lite.runner(image=x)["w"],
                        inputs,
                        reference,
                    )

                rows += _guarded(row, batch_sizes, tflite_rows)
        if "onnx" in FLAGS.formats:

            def onnx_rows():
                import onnxruntime

                with harness.Stopwatch() as convert_time:
                    content = onnx.convert(encoder_dir, tflite.SIGNATURE)
                if FLAGS.keep_dir:
                    (out / "encoder.onnx").write_bytes(content)
                options = onnxruntime.SessionOptions()
                if threads:
                    options.intra_op_num_threads = threads
                    options.inter_op_num_threads = threads
                session = onnxruntime.InferenceSession(content, options, providers=["CPUExecutionProvider"])
                (name,) = [i.name for i in session.get_inputs()]
                return _time(
                    {
                        "format": "onnx",
                        "variant": "onnxruntime CPU",
                        "size_bytes": len(content),
                        "convert_s": convert_time.seconds,
                    },
                    lambda x: session.run(["w"], {name: x})[0],
                    inputs,
                    reference,
                )

            rows += _guarded({"format": "onnx", "variant": "onnxruntime CPU"}, batch_sizes, onnx_rows)
    settings = harness.flag_values(
        [
            "workdir",
            "preset",
            "formats",
            "tflite_modes",
            "batch_sizes",
            "runs",
            "warmup",
            "max_seconds",
            "threads",
            "calibration_images",
            "seed",
        ]
    )
    settings.update(
        {
            "config": config.name,
            "image_shape": list(image_shape),
            "int8_calibrated_on": calibrated_on,
            "signature": tflite.SIGNATURE,
            "source": source,
        }
    )
    harness.write_results(NAME, settings, rows, COLUMNS, FLAGS.output)


if __name__ == "__main__":
    app.run(main)

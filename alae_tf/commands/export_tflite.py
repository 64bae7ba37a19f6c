r"""Convert an exported encoder to TFLite (builtins only) and check it in LiteRT.

    alae-export-tflite --saved_model=OUT/encoder/N --quantize=none|float16|dynamic|int8|int16x8 \
        --output=encoder.tflite
    alae-export-tflite --workdir=W --resolution=256 --quantize=float16 --output=encoder256.tflite

Writes FILE.tflite and FILE.json (size, max |w| error against the SavedModel, batch-1
latency, 5-NN accuracy through the TFLite encoder and through the SavedModel; the 5-NN
only for labelled data sets). A StyleALAE encoder reads images at the resolution of the
level it was exported at: calibration and check images are pooled down to it. With
`--workdir` (instead of `--saved_model`) the encoder is exported from the run's newest
checkpoint first, at `--resolution` (a lower level of a StyleALAE, e.g. 256 px of a 1024 px
model; default: the level it trained last). `export/tflite.py` runs it too.
"""

import json
import sys

from absl import app, flags

import alae_tf.startup  # noqa: F401  (first: loads TensorFlow without its start-up notices)
from alae_tf import command_runner, data
from alae_tf.checkpoint import CheckpointError
from alae_tf.export import ExportError, tflite

FLAGS = flags.FLAGS
flags.DEFINE_string("saved_model", None, "An exported encoder (or alae) version folder, e.g. OUT/encoder/1.")
flags.DEFINE_string(
    "workdir", None, "Instead of --saved_model: a run (or converted) workdir whose encoder is exported first."
)
flags.DEFINE_integer(
    "resolution",
    None,
    "With --workdir: the StyleALAE encoder's image size, a level's (4 * 2**level) up to the trained one "
    "(e.g. 256 for a 1024 px model); default: the level it trained last.",
    lower_bound=4,
)
flags.DEFINE_enum(
    "quantize",
    "none",
    list(tflite.QUANTIZE_MODES),
    "none: float32; float16: float16 weights; dynamic: int8 weights, float activations; "
    "int8: int8 weights and activations (the ops that make w stay float), calibrated on --representative_data; "
    "int16x8: int8 weights, int16 activations (20-60x slower than int8 in LiteRT). 5-NN through the encoder of "
    "an MLP after 300k images: SavedModel 0.8078, dynamic 0.8070, int8 0.8055, int16x8 0.8085 (docs/export.md).",
)
flags.DEFINE_string("output", None, "The .tflite file; the report goes beside it as .json.", required=True)
flags.DEFINE_string(
    "representative_data",
    None,
    "int8 calibration images (train split); default: the training data set. " + data.SPEC_HELP,
)
flags.DEFINE_integer(
    "representative_images",
    60_000,
    "int8 calibration images (the first N of the train split; more give steadier ranges).",
    lower_bound=1,
)
flags.DEFINE_string("eval_data", None, "Data set of the check and 5-NN (default: the training data set).")
flags.DEFINE_string("data_dir", None, "Overrides the data sets' default location.")
flags.DEFINE_integer("check_images", 1000, "Test images on which w is compared with the SavedModel.", lower_bound=1)
flags.DEFINE_integer("knn_train_images", 60_000, "Train images the 5-NN is fitted on (0: no 5-NN).", lower_bound=0)
flags.DEFINE_integer("knn_test_images", 10_000, "Test images the 5-NN is scored on (0: no 5-NN).", lower_bound=0)
flags.DEFINE_integer("latency_runs", 200, "Batch-1 invocations timed on one thread.", lower_bound=1)
flags.DEFINE_bool("overwrite", False, "Replace existing output files.")

flags.register_multi_flags_validator(
    ["saved_model", "workdir"],
    lambda f: (f["saved_model"] is None) != (f["workdir"] is None),
    message="pass exactly one of --saved_model and --workdir",
)
flags.register_multi_flags_validator(
    ["resolution", "workdir"],
    lambda f: f["resolution"] is None or f["workdir"] is not None,
    message="--resolution needs --workdir (a SavedModel's resolution is fixed: export it again)",
)

for _name in ("representative_data", "eval_data"):
    flags.register_validator(
        _name, lambda s: s is None or data.is_valid_spec(s), message="unknown data set form. " + data.SPEC_HELP
    )


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    options = tflite.TFLiteOptions(
        quantize=FLAGS.quantize,
        representative_data=FLAGS.representative_data,
        representative_images=FLAGS.representative_images,
        eval_data=FLAGS.eval_data,
        data_dir=FLAGS.data_dir,
        check_images=FLAGS.check_images,
        knn_train_images=FLAGS.knn_train_images,
        knn_test_images=FLAGS.knn_test_images,
        latency_runs=FLAGS.latency_runs,
        overwrite=FLAGS.overwrite,
    )
    try:
        if FLAGS.workdir:
            report = tflite.export_tflite_from_workdir(FLAGS.workdir, FLAGS.output, options, FLAGS.resolution)
        else:
            report = tflite.export_tflite(FLAGS.saved_model, FLAGS.output, options)
    except (CheckpointError, ExportError, data.DatasetError) as e:
        sys.exit(f"alae-export-tflite: error: {e}")
    print(json.dumps(report, indent=2, sort_keys=True))


def run():
    """The `alae-export-tflite` console script: `app.run(main)` (`alae_tf.command_runner`)."""
    command_runner.run(main, __name__)


if __name__ == "__main__":
    run()

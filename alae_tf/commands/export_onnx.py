r"""Convert one signature of an exported SavedModel to ONNX and check it in onnxruntime.

    alae-export-onnx --saved_model=OUT/encoder/N --signature=serving_default --output=encoder.onnx

Writes FILE.onnx and FILE.json (max differences from the SavedModel per output). `export/onnx_model.py`
runs it too (that shim is not named onnx.py: `python export/X.py` puts export/ first on sys.path,
where an onnx.py would stand in for the real `onnx` package that tf2onnx imports).
"""

import json
import sys

from absl import app, flags

import alae_tf.startup  # noqa: F401  (first: loads TensorFlow without its start-up notices)
from alae_tf import command_runner
from alae_tf.export import ExportError, onnx

FLAGS = flags.FLAGS
flags.DEFINE_string("saved_model", None, "An exported version folder, e.g. OUT/generator/1.", required=True)
flags.DEFINE_string("signature", "serving_default", "The signature to convert (named explicitly to tf2onnx).")
flags.DEFINE_string("output", None, "The .onnx file; the report goes beside it as .json.", required=True)
flags.DEFINE_integer("opset", onnx.DEFAULT_OPSET, "ONNX opset.", lower_bound=9)
flags.DEFINE_bool("overwrite", False, "Replace existing output files.")


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    try:
        report = onnx.export_onnx(FLAGS.saved_model, FLAGS.signature, FLAGS.output, FLAGS.opset, FLAGS.overwrite)
    except ExportError as e:
        sys.exit(f"alae-export-onnx: error: {e}")
    print(json.dumps(report, indent=2, sort_keys=True))


def run():
    """The `alae-export-onnx` console script: `app.run(main)` (`alae_tf.command_runner`)."""
    command_runner.run(main, __name__)


if __name__ == "__main__":
    run()

r"""Convert one signature of an exported SavedModel to ONNX and check it in onnxruntime.

    python export/onnx.py --saved_model=OUT/encoder/N --signature=serving_default --output=encoder.onnx

Writes FILE.onnx and FILE.json (max differences from the SavedModel per output).
"""

import pathlib
import sys

# `python export/onnx.py` puts export/ first on sys.path, and then the `import onnx`
# inside tf2onnx and onnxruntime would import this very file: drop it, and add the repo
# root so that alae_tf imports without being installed.
_HERE = pathlib.Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if pathlib.Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))

import json  # noqa: E402

from absl import app, flags  # noqa: E402

from alae_tf.export import ExportError, onnx_export  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_string("saved_model", None, "An exported version folder, e.g. OUT/generator/1.", required=True)
flags.DEFINE_string("signature", "serving_default", "The signature to convert (named explicitly to tf2onnx).")
flags.DEFINE_string("output", None, "The .onnx file; the report goes beside it as .json.", required=True)
flags.DEFINE_integer("opset", onnx_export.DEFAULT_OPSET, "ONNX opset.", lower_bound=9)
flags.DEFINE_bool("overwrite", False, "Replace existing output files.")


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    try:
        report = onnx_export.export_onnx(FLAGS.saved_model, FLAGS.signature, FLAGS.output, FLAGS.opset,
                                         FLAGS.overwrite)
    except ExportError as e:
        sys.exit(f"export/onnx.py: error: {e}")
    print(json.dumps(report, indent=2, sort_keys=True))


if __name__ == "__main__":
    app.run(main)

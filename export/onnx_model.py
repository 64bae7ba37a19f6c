"""`python export/onnx_model.py` runs `alae-export-onnx` (`alae_tf/commands/export_onnx.py`): one signature of a
SavedModel to ONNX, checked in onnxruntime. Not named onnx.py: `python export/X.py` puts export/ first on sys.path,
where an onnx.py would stand in for the real `onnx` package that tf2onnx imports."""

from alae_tf.commands.export_onnx import run

if __name__ == "__main__":
    run()

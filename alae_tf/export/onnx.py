"""One signature of an exported SavedModel to ONNX with tf2onnx, checked in onnxruntime.

tf2onnx 1.17 has no Python `from_saved_model`; its command line is the supported way
to convert a SavedModel, so it runs as a subprocess with the signature named
explicitly (without `--signature_def` it takes the first signature, not
`serving_default`). The ONNX inputs and outputs keep the signature's names.
(This module is not called `onnx.py`: that name would shadow the `onnx` package.)
"""

import os
import pathlib
import subprocess
import sys
import tempfile

import numpy as np
import onnxruntime
import tensorflow as tf

from alae_tf import atomic, storage
from alae_tf.export.artifacts import (
    ExportError,
    check_new_file,
    config_of,
    read_metadata,
    report_path,
    write_json,
)
from alae_tf.export.serving import example_inputs, read_signature_defs

DEFAULT_OPSET = 17
# Float outputs: max |onnx - savedmodel| <= TOLERANCE * max(1, max |savedmodel|).
# uint8 outputs may differ by one grey level where a value lies within float error of
# a rounding boundary (x.5); more is a real mismatch.
TOLERANCE = 1e-4
INTEGER_TOLERANCE = 1
CHECK_BATCHES = (1, 8)


def convert(saved_model_dir, signature, opset=DEFAULT_OPSET):
    """The ONNX bytes of `signature` of the SavedModel in `saved_model_dir`.

    Raises:
        ExportError: tf2onnx failed (its last lines of output are included).
    """
    with tempfile.TemporaryDirectory() as tmp:
        output = pathlib.Path(tmp) / "model.onnx"
        command = [
            sys.executable,
            "-m",
            "tf2onnx.convert",
            "--saved-model",
            str(saved_model_dir),
            "--tag",
            "serve",
            "--signature_def",
            signature,
            "--opset",
            str(opset),
            "--output",
            str(output),
        ]
        # cwd=tmp: `-m` puts the working folder first on sys.path, and the repo's export/
        # folder holds an onnx.py that would shadow the onnx package.
        result = subprocess.run(
            command,
            capture_output=True,
            text=True,
            cwd=tmp,
            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
            check=False,
        )
        if result.returncode != 0 or not output.is_file():
            tail = "\n".join(result.stderr.strip().splitlines()[-15:])
            raise ExportError(f"tf2onnx could not convert signature {signature!r} of {saved_model_dir}:\n{tail}")
        return output.read_bytes()


def _max_abs(a):
    return float(np.max(np.abs(a.astype(np.float64)))) if a.size else 0.0


def _compare(key, got, want):
    """`(report entry, ok)` for one output."""
    if got.shape != want.shape or got.dtype != want.dtype:
        raise ExportError(
            f"ONNX output {key!r} is {got.dtype} {got.shape}, the SavedModel gives {want.dtype} {want.shape}"
        )
    diff = _max_abs(got.astype(np.float64) - want.astype(np.float64))
    scale = _max_abs(want)
    limit = TOLERANCE * max(1.0, scale) if np.issubdtype(want.dtype, np.floating) else INTEGER_TOLERANCE
    return {"dtype": str(want.dtype), "max_abs_diff": diff, "max_abs": scale, "limit": limit}, diff <= limit


def check_onnx(model_content, saved_model_dir, signature, pixel_range=(0.0, 1.0)):
    """Run the ONNX model and the SavedModel on the same random inputs (batches 1 and 8).

    Returns `{output key: {dtype, max_abs_diff, max_abs, limit}}` (worst over the batches).

    Raises:
        ExportError: an output differs by more than its limit.
    """
    signature_def = read_signature_defs(saved_model_dir)[signature]
    loaded = tf.saved_model.load(str(saved_model_dir))  # kept in a variable: its functions need it alive
    function = loaded.signatures[signature]
    session = onnxruntime.InferenceSession(model_content, providers=["CPUExecutionProvider"])
    output_names = [o.name for o in session.get_outputs()]
    worst = {}
    for batch in CHECK_BATCHES:
        inputs = example_inputs(signature_def, batch, pixel_range, seed=batch)
        # tf2onnx drops inputs the graph never reads (the MLP's decode_with_seed seed).
        feed = {i.name: inputs[i.name] for i in session.get_inputs()}
        want = {k: v.numpy() for k, v in function(**{k: tf.constant(v) for k, v in inputs.items()}).items()}
        got = dict(zip(output_names, session.run(output_names, feed)))
        for key in want:
            if key not in got:
                raise ExportError(f"the ONNX model has no output {key!r} (it has {output_names})")
            entry, ok = _compare(key, got[key], want[key])
            if not ok:
                raise ExportError(
                    f"ONNX output {key!r} differs from the SavedModel by {entry['max_abs_diff']:.3g} "
                    f"at batch {batch} (limit {entry['limit']:.3g})"
                )
            if key not in worst or entry["max_abs_diff"] >= worst[key]["max_abs_diff"]:
                worst[key] = entry
    return worst


def export_onnx(
    saved_model_dir: str | pathlib.Path,
    signature: str,
    output: str | pathlib.Path,
    opset: int = DEFAULT_OPSET,
    overwrite: bool = False,
) -> dict:
    """Convert `signature` to `output` (`.onnx`), check it, write it and a `.json` report beside it.

    Returns the report dict.

    Raises:
        ExportError: not an exported SavedModel, unknown signature, output
            exists, conversion or check failed. Nothing is written then.
    """
    output = storage.path(output)
    check_new_file(output, overwrite)
    check_new_file(report_path(output), overwrite)
    config = config_of(read_metadata(saved_model_dir))
    names = sorted(read_signature_defs(saved_model_dir))
    if signature not in names:
        raise ExportError(f"{saved_model_dir} has no signature {signature!r}; it has {names}")
    content = convert(saved_model_dir, signature, opset)
    session = onnxruntime.InferenceSession(content, providers=["CPUExecutionProvider"])
    report = {
        "saved_model": str(storage.path(saved_model_dir).absolute()),
        "signature": signature,
        "opset": opset,
        "size_bytes": len(content),
        "onnx_inputs": {i.name: {"type": i.type, "shape": [str(d) for d in i.shape]} for i in session.get_inputs()},
        "outputs": check_onnx(content, saved_model_dir, signature, config.pixel_range),
        "check_batches": list(CHECK_BATCHES),
    }
    atomic.write_bytes(output, content)
    write_json(report_path(output), report)
    return report

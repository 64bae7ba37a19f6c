"""Export of a trained ALAE for TF Serving, LiteRT (TFLite) and ONNX.

- `signatures`: float32 copies of the EMA nets and the serving signatures of
  each part (`mapping`, `generator`, `encoder`, `discriminator`, `alae`).
- `style`: a StyleALAE's G and E fixed at the level (and blend) it trained last,
  with the interface `signatures` expects (w in, explicit noise maps).
- `editor`: the `editor` part: edits of real images by a direction (given, or baked in
  at export by index) and style mixing, uint8 in and out.
- `saved_model`: one SavedModel per part in TF Serving layout
  (`OUT/<part>/<version>`, the five above and `editor`), written atomically, plus
  `OUT/models.config`.
- `serving`: `models.config`, warm-up records, and a request validator
  (gRPC `PredictRequest` or REST JSON) that checks a request against a
  SignatureDef the way the model server would, and its values as the
  signatures would, then runs it.
- `input_checks`: what every signature accepts beyond its dtypes and shapes
  (finite floats, float images in the pixel range, the editor's index and
  cutoff ranges), checked alike in the graph, in the validator and in the
  TFLite runner, with messages naming the input.
- `tflite` (with `litert_check`): the encoder to a builtins-only `.tflite` (none / float16 /
  dynamic / int8), checked in LiteRT, with a JSON report.
- `onnx`: any signature to ONNX through tf2onnx, checked in
  onnxruntime. (Not named `onnx`: that would shadow the `onnx` package.)

The binaries in the top-level `export/` folder are thin wrappers around these.
"""

from alae_tf.export.artifacts import ExportError

__all__ = ["ExportError"]

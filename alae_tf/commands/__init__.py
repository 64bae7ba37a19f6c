"""The command-line programs: one absl binary per module, each a console script of `pyproject.toml`.

| command | module | job |
|---|---|---|
| `alae-train` | `train` | train an ALAE or StyleALAE into a workdir; rerunning resumes |
| `alae-evaluate` | `evaluate` | metrics.json and report.md of a workdir |
| `alae-edit` | `edit` | directions in w, and edits, style mixes, interpolations of images and photos |
| `alae-align` | `align` | photos of faces aligned as the official models were trained |
| `alae-convert` | `convert` | an official PyTorch checkpoint (.pth) -> a workdir |
| `alae-launch-local` | `launch_local` | N local `alae-train` workers over loopback (multi-worker on one machine) |
| `alae-train-judge` | `train_judge` | the classifier whose features judge FD, KID and the class checks |
| `alae-export-saved-model` | `export_saved_model` | SavedModels for TF Serving and models.config |
| `alae-export-tflite` | `export_tflite` | a TFLite encoder, checked in LiteRT |
| `alae-export-onnx` | `export_onnx` | one signature to ONNX, checked in onnxruntime |

Each module has `main(argv)` and `run()`, the entry point: `app.run(main)` on the command line, its
`--flagfile=flags/NAME.cfg` found from any folder (`alae_tf.flagfiles`). `python -m alae_tf.commands.NAME`
runs the same. They share flags through `alae_tf.config_flags`, never by importing one another, and
import `alae_tf.startup` first (a quiet TensorFlow start). This file imports nothing, so importing one
command defines only its own flags.
"""

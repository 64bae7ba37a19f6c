"""alae-tf: Adversarial Latent Autoencoders (Pidhorskyi et al., CVPR 2020) in Keras 3.

The library is organised the way the training loop reads, each area importing only the ones
above it (`tests/layering_test.py` checks it):

- Base: `alae_tf.configs` (presets as data), `growing` / `schedules` (StyleALAE levels, learning
  rates), `optimizers`, `distribute`, `storage` / `atomic` (workdir files), `quality` (the
  quality protocol), `probes` (class means, the L2-SVM and k-NN on codes), `startup`.
- `alae_tf.data`: one module per data source and the tf.data pipelines; `alae_tf.image_grids`:
  uint8 grids and PNGs for people.
- `alae_tf.layers`: equalized-learning-rate layers and pixel norm.
- `alae_tf.networks`: the four nets (mapping F, generator G, encoder E,
  latent discriminator D).
- `alae_tf.losses`: the three ALAE losses as pure functions.
- `alae_tf.model`: `ALAE`, the keras.Model whose `train_step` runs the three
  alternating updates; `alae_tf.builders` builds it from a config.
- `alae_tf.training`: the fit loop, with `checkpoint`, `monitor` and `divergence`.
- `alae_tf.workdir`: a finished or running run opened again (config, restored nets, its data).
- `alae_tf.config_flags`: the preset and architecture flags the commands share.
- `alae_tf.convert`: importers for the official PyTorch parameters (`.pth` files read without torch).
- `alae_tf.faces`: photos of faces aligned as the official models were trained.
- `alae_tf.features`: feature networks of FD / KID / PPL, and the judge (the dataset's classifier).
- `alae_tf.editing`: directions in w and edits of real images (traversals, style mixing,
  interpolation, the authors' attribute directions).
- `alae_tf.metrics`: the metric registry and the context metrics share.
- `alae_tf.report`: report.md and its figures.
- `alae_tf.evaluation`: metrics and report of a workdir.
- `alae_tf.export`: SavedModels, TFLite and ONNX of a trained run, with the editor signatures.
- `alae_tf.commands`: the command-line programs (`alae-train`, `alae-evaluate`, ...), one
  absl binary per module, declared as console scripts in pyproject.toml.
"""

__version__ = "0.1.0"

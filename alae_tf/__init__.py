"""alae-tf: Adversarial Latent Autoencoders (Pidhorskyi et al., CVPR 2020) in Keras 3.

The library is organised the way the training loop reads:

- `alae_tf.layers`: equalized-learning-rate layers and pixel norm.
- `alae_tf.networks`: the four nets (mapping F, generator G, encoder E,
  latent discriminator D).
- `alae_tf.losses`: the three ALAE losses as pure functions.
- `alae_tf.model`: `ALAE`, the keras.Model whose `train_step` runs the three
  alternating updates.
- `alae_tf.configs`: presets as data.
- `alae_tf.data`: one module per data source.
- `alae_tf.convert`: importers for the official PyTorch parameters.
- `alae_tf.train` / `alae_tf.evaluate`: absl binaries.
"""

__version__ = "0.1.0"

"""Adaptive instance normalisation driven by a style vector (StyleGAN's AdaIN)."""

import keras
from keras import ops

from alae_tf.layers.equalized_dense import EqualizedDense
from alae_tf.layers.functional import instance_norm


@keras.saving.register_keras_serializable(package="alae_tf")
class StyleModulation(keras.layers.Layer):
    """Instance norm, then `x * (1 + ys) + yb` with `[ys, yb] = affine(w)`.

    `affine` is an `EqualizedDense(2C, gain=1)`: the first C outputs scale,
    the last C shift (the official `style_mod` layout, so its `style_k`
    weights import without reordering). The instance norm (no affine
    parameters, eps 1e-8 in the generator) is part of this layer because the
    generator always normalises right before modulating.

    Call args:
        x: feature maps `[B or 1, H, W, C]` (batch 1 broadcasts to the style batch).
        style: `[B, latent]`.

    Shapes: -> `[B, H, W, C]`, NHWC.
    """

    def __init__(self, epsilon=1e-8, **kwargs):
        super().__init__(**kwargs)
        self.epsilon = float(epsilon)

    def build(self, x_shape, style_shape=None):
        channels = x_shape[-1]
        if channels is None or style_shape is None or style_shape[-1] is None:
            raise ValueError(f"{self.name}: channels and style size must be known, got {x_shape}, {style_shape}")
        self.channels = int(channels)
        self.affine = EqualizedDense(2 * self.channels, gain=1.0, name="affine")
        self.affine.build(tuple(style_shape))

    def call(self, x, style):
        y = self.affine(style)
        scale = ops.reshape(y[:, : self.channels], (-1, 1, 1, self.channels))
        shift = ops.reshape(y[:, self.channels :], (-1, 1, 1, self.channels))
        return instance_norm(x, self.epsilon) * (1.0 + scale) + shift

    def compute_output_shape(self, x_shape, style_shape=None):
        return (style_shape[0] if style_shape else x_shape[0],) + tuple(x_shape[1:])

    def get_config(self):
        config = super().get_config()
        config.update(epsilon=self.epsilon)
        return config

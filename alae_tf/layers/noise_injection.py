"""Per-pixel noise with a learned per-channel strength (StyleGAN)."""

import keras
import tensorflow as tf
from keras import ops


@keras.saving.register_keras_serializable(package="alae_tf")
class NoiseInjection(keras.layers.Layer):
    """`x + weight * noise`, one noise map broadcast over the channels.

    `weight` (one value per channel) starts at 0, so a fresh layer is the
    identity whatever the noise. It is a plain parameter (no equalized lr).

    Noise is an explicit input so that exports (TFLite has no random ops
    without the Flex delegate), tests and replays can pass it. If no noise is
    given, a map is drawn with `tf.random.stateless_normal` from `seed`
    (shape `[2]` integers): the same seed gives the same noise.

    Call args:
        x: `[B, H, W, C]`.
        noise: `[B or 1, H, W, 1]` standard-normal map, or None.
        seed: `[2]` int seed used when `noise` is None.

    Shapes: `[B, H, W, C]` -> `[B, H, W, C]`, NHWC.
    """

    def build(self, input_shape):
        channels = input_shape[-1]
        if channels is None:
            raise ValueError(f"{self.name}: the channel dimension of the input must be known, got {input_shape}")
        self.weight = self.add_weight(name="weight", shape=(int(channels),), initializer="zeros")

    def call(self, x, noise=None, seed=None):
        if noise is None:
            if seed is None:
                raise ValueError(f"{self.name}: pass either `noise` or a stateless `seed`")
            shape = ops.shape(x)
            noise = tf.random.stateless_normal(tf.stack([shape[0], shape[1], shape[2], 1]), seed=seed, dtype=x.dtype)
        elif len(noise.shape) != 4 or (noise.shape[-1] is not None and noise.shape[-1] != 1):
            raise ValueError(f"{self.name}: noise must be [B or 1, H, W, 1], got {tuple(noise.shape)}")
        return x + self.weight * ops.cast(noise, x.dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

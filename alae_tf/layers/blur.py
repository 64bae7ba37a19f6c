"""Fixed [1, 2, 1] x [1, 2, 1] / 16 low-pass filter."""

import keras
import numpy as np
from keras import ops


def blur_kernel(channels):
    """The depthwise kernel `(3, 3, channels, 1)`: outer([1,2,1], [1,2,1]) / 16."""
    f = np.array([1.0, 2.0, 1.0], np.float32)
    f = np.outer(f, f)
    f /= f.sum()
    return np.tile(f[:, :, None, None], (1, 1, channels, 1))


@keras.saving.register_keras_serializable(package="alae_tf")
class Blur(keras.layers.Layer):
    """Per-channel 3x3 binomial blur with zero padding 1 (the official `Blur`).

    The kernel is a constant, not a variable (the official code keeps it as a
    buffer, outside the parameters), so it is neither trained nor saved.
    Applied after every upsampling conv of G and before every downsampling
    conv of E to reduce aliasing.

    Shapes: `[B, H, W, C]` -> `[B, H, W, C]`, NHWC.
    """

    def build(self, input_shape):
        channels = input_shape[-1]
        if channels is None:
            raise ValueError(f"{self.name}: the channel dimension of the input must be known, got {input_shape}")
        self.channels = int(channels)
        self._kernel = blur_kernel(self.channels)

    def call(self, x):
        kernel = ops.convert_to_tensor(self._kernel, dtype=x.dtype)
        return ops.depthwise_conv(x, kernel, strides=1, padding="same")

    def compute_output_shape(self, input_shape):
        return input_shape

"""Pixel (feature-vector) normalisation."""

import keras
from keras import ops

from alae_tf.layers.functional import at_least_float32


@keras.saving.register_keras_serializable(package="alae_tf")
class PixelNorm(keras.layers.Layer):
    """Scales each feature vector to unit root-mean-square.

    `x * rsqrt(mean(x**2, axis) + epsilon)`; used on z before the mapping net.

    Args:
        axis: the feature axis (-1 for NHWC and for flat vectors).
        epsilon: added under the square root (1e-8 as in the official code).

    Shapes: any; the output has the input's shape.
    """

    def __init__(self, axis=-1, epsilon=1e-8, **kwargs):
        super().__init__(**kwargs)
        self.axis = int(axis)
        self.epsilon = float(epsilon)

    def call(self, x):
        # In float32 for half-precision x: the 1e-8 epsilon is 0 in float16.
        dtype = x.dtype
        x = at_least_float32(x)
        return ops.cast(x * ops.rsqrt(ops.mean(ops.square(x), axis=self.axis, keepdims=True) + self.epsilon), dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(axis=self.axis, epsilon=self.epsilon)
        return config

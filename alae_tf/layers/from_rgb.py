"""Encoder input head: image -> features."""

import keras
from keras import ops

from alae_tf.layers.equalized_conv2d import SQRT2, EqualizedConv2D


@keras.saving.register_keras_serializable(package="alae_tf")
class FromRGB(keras.layers.Layer):
    """1x1 equalized conv with bias, then LeakyReLU(0.2) `activations` times.

    The official encoder applies the leaky ReLU inside its `FromRGB` and
    again right after it, so negative inputs are scaled by 0.2**2 = 0.04;
    `activations=2` (the default) reproduces that, 1 gives the textbook layer.

    Args:
        filters: output channels.
        negative_slope: leaky ReLU slope.
        activations: how many times the leaky ReLU is applied.
        gain: equalized-lr gain.

    Shapes: `[B, H, W, channels]` -> `[B, H, W, filters]`, NHWC.
    """

    def __init__(self, filters, negative_slope=0.2, activations=2, gain=SQRT2, **kwargs):
        super().__init__(**kwargs)
        self.filters = int(filters)
        self.negative_slope = float(negative_slope)
        self.activations = int(activations)
        self.gain = float(gain)
        self.conv = EqualizedConv2D(self.filters, kernel_size=1, gain=self.gain, name="conv")

    def build(self, input_shape):
        self.conv.build(input_shape)

    def call(self, x):
        x = self.conv(x)
        for _ in range(self.activations):
            x = ops.leaky_relu(x, negative_slope=self.negative_slope)
        return x

    def compute_output_shape(self, input_shape):
        return self.conv.compute_output_shape(input_shape)

    def get_config(self):
        config = super().get_config()
        config.update(
            filters=self.filters, negative_slope=self.negative_slope, activations=self.activations, gain=self.gain
        )
        return config

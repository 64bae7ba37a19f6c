"""Generator output head: features -> image."""

import keras

from alae_tf.layers.equalized_conv2d import EqualizedConv2D


@keras.saving.register_keras_serializable(package="alae_tf")
class ToRGB(keras.layers.Layer):
    """1x1 equalized conv with bias, gain 0.03, no activation (no tanh).

    The tiny gain keeps the first images near 0 (mid grey in [-1, 1]).

    Args:
        channels: image channels (3 for RGB).
        gain: equalized-lr gain (0.03 in the official code).

    Shapes: `[B, H, W, C]` -> `[B, H, W, channels]`, NHWC.
    """

    def __init__(self, channels=3, gain=0.03, **kwargs):
        super().__init__(**kwargs)
        self.channels = int(channels)
        self.gain = float(gain)
        self.conv = EqualizedConv2D(self.channels, kernel_size=1, gain=self.gain, name="conv")

    def build(self, input_shape):
        self.conv.build(input_shape)

    def call(self, x):
        return self.conv(x)

    def compute_output_shape(self, input_shape):
        return self.conv.compute_output_shape(input_shape)

    def get_config(self):
        config = super().get_config()
        config.update(channels=self.channels, gain=self.gain)
        return config

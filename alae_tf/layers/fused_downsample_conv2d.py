"""Fused 3x3 convolution + 2x2 average pooling (a stride-2 4x4 convolution)."""

import keras
from keras import ops

from alae_tf.layers.fused_upsample_conv2d import box_sum_3x3_to_4x4
from alae_tf.layers.equalized_dense import SQRT2, add_equalized_kernel


@keras.saving.register_keras_serializable(package="alae_tf")
class FusedDownsampleConv2D(keras.layers.Layer):
    """Equalized-lr downsampling convolution used by the encoder from 128 px up.

    The trainable kernel is 3x3 `(3, 3, in, out)`; the forward pass scales it
    by `coef = gain / sqrt(in * 9) * lrmul`, averages it over a 2x2 box into
    a 4x4 kernel (`box_sum_3x3_to_4x4 / 4`) and applies a stride-2
    convolution with padding 1, which equals a 3x3 convolution followed by
    2x2 average pooling away from the borders. For even H and W, TF "same"
    padding of a 4x4 stride-2 kernel is exactly 1 pixel on each side.
    The official tensor is `(out, in, 3, 3)`.

    Args:
        filters: output channels.
        gain: He-style gain.
        lrmul: learning-rate multiplier.

    Shapes: `[B, H, W, in]` -> `[B, H/2, W/2, filters]` (H, W even), NHWC. No bias.
    """

    def __init__(self, filters, gain=SQRT2, lrmul=1.0, **kwargs):
        super().__init__(**kwargs)
        self.filters = int(filters)
        self.gain = float(gain)
        self.lrmul = float(lrmul)

    def build(self, input_shape):
        in_channels = input_shape[-1]
        if in_channels is None:
            raise ValueError(f"{self.name}: the channel dimension of the input must be known, got {input_shape}")
        self.in_channels = int(in_channels)
        add_equalized_kernel(self, (3, 3, self.in_channels, self.filters), fan_in=self.in_channels * 9)

    def call(self, x):
        for axis in (1, 2):
            size = x.shape[axis]
            if size is not None and size % 2:
                raise ValueError(f"{self.name}: height and width must be even, got input shape {tuple(x.shape)}")
        kernel = box_sum_3x3_to_4x4(self.kernel * ops.cast(self.coef, self.kernel.dtype))
        kernel = kernel * ops.cast(0.25, kernel.dtype)
        return ops.conv(x, kernel, strides=2, padding="same")

    def compute_output_shape(self, input_shape):
        b, h, w = input_shape[0], input_shape[1], input_shape[2]
        return (b, None if h is None else h // 2, None if w is None else w // 2, self.filters)

    def get_config(self):
        config = super().get_config()
        config.update(filters=self.filters, gain=self.gain, lrmul=self.lrmul)
        return config

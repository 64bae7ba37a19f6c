"""Fused 3x3 convolution + 2x2 average pooling (a stride-2 4x4 convolution)."""

import keras

from alae_tf.layers import convolution
from alae_tf.layers.fused_upsample_conv2d import Fused3x3Conv


@keras.saving.register_keras_serializable(package="alae_tf")
class FusedDownsampleConv2D(Fused3x3Conv):
    """Equalized-lr downsampling convolution used by the encoder from 128 px up.

    The trainable kernel is 3x3 `(3, 3, in, out)`; the forward pass scales it
    by `coef = gain / sqrt(in * 9) * lrmul`, averages it over a 2x2 box into
    a 4x4 kernel (`box_sum_3x3_to_4x4 / 4`) and applies a stride-2
    convolution with padding 1, which equals a 3x3 convolution followed by
    2x2 average pooling (`convolution.conv3x3_avgpool`; borders included:
    for even H and W, TF "same" padding of a 4x4 stride-2 kernel is exactly
    1 pixel on each side). `EqualizedConv2D(resample="down")` computes the
    same; this class keeps the official fused blocks' identity.
    The official tensor is `(out, in, 3, 3)`.

    Args:
        filters: output channels.
        gain: He-style gain.
        lrmul: learning-rate multiplier.

    Shapes: `[B, H, W, in]` -> `[B, H/2, W/2, filters]` (H, W even), NHWC. No bias.
    """

    def call(self, x, training=None):
        for axis in (1, 2):
            size = x.shape[axis]
            if size is not None and size % 2:
                raise ValueError(f"{self.name}: height and width must be even, got input shape {tuple(x.shape)}")
        return convolution.conv3x3_avgpool(x, self.scaled_kernel(), convolution.conv_path_for(training))

    def compute_output_shape(self, input_shape):
        b, h, w = input_shape[0], input_shape[1], input_shape[2]
        return (b, None if h is None else h // 2, None if w is None else w // 2, self.filters)

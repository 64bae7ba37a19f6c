"""Fused 2x upsampling + 3x3 convolution (a stride-2 transposed convolution)."""

import keras
from keras import ops

from alae_tf.layers import convolution
from alae_tf.layers.equalized_dense import SQRT2, add_equalized_kernel


class Fused3x3Conv(keras.layers.Layer):
    """Shared part of the fused up/down-sampling convolutions: a 3x3 equalized-lr
    kernel `(3, 3, in, filters)` with fan-in `in * 9`, used as a 4x4 one.

    Args:
        filters: output channels.
        gain: He-style gain.
        lrmul: learning-rate multiplier.
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

    def scaled_kernel(self):
        """The run-time 3x3 kernel `kernel * coef`."""
        return self.kernel * ops.cast(self.coef, self.kernel.dtype)

    def get_config(self):
        config = super().get_config()
        config.update(filters=self.filters, gain=self.gain, lrmul=self.lrmul)
        return config


@keras.saving.register_keras_serializable(package="alae_tf")
class FusedUpsampleConv2D(Fused3x3Conv):
    """Equalized-lr 2x upsampling convolution used by the generator from 128 px up.

    The trainable kernel is a 3x3 `(3, 3, in, out)` one; the forward pass
    scales it by `coef = gain / sqrt(in * 9) * lrmul` (fan-in counted on the
    stored 3x3 kernel and the input channels, as the official code does for
    its transposed conv), turns it into 4x4 with `convolution.box_sum_3x3_to_4x4`, and
    applies a transposed convolution with stride 2 and padding 1 (TF "same"
    padding for a 4x4 kernel). The official tensor is `(in, out, 3, 3)`.

    This equals nearest 2x upsampling followed by a stride-1 convolution with
    the 3x3 kernel rotated by 180 degrees (a transposed conv flips its kernel
    relative to the cross-correlation `EqualizedConv2D` computes; the official
    code does not compensate). Only matters when copying kernels between the
    fused and unfused forms.

    Args:
        filters: output channels.
        gain: He-style gain.
        lrmul: learning-rate multiplier.

    Shapes: `[B, H, W, in]` -> `[B, 2H, 2W, filters]`, NHWC. No bias.
    """

    def call(self, x, training=None):
        # The official transposed conv uses the box-summed kernel as it is,
        # which is nearest 2x + a 3x3 conv with the rotated kernel.
        return convolution.upsample_conv3x3(
            x, self.scaled_kernel(), rotate=False, path=convolution.conv_path_for(training)
        )

    def compute_output_shape(self, input_shape):
        b, h, w = input_shape[0], input_shape[1], input_shape[2]
        return (b, None if h is None else 2 * h, None if w is None else 2 * w, self.filters)

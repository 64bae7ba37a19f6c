"""2-D convolution with the equalized learning rate of ProGAN / StyleGAN / ALAE."""

import functools
import math

import keras
from keras import ops

from alae_tf.layers import convolution
from alae_tf.layers.equalized_dense import SQRT2, add_equalized_bias, add_equalized_kernel


def apply_equalized(linear_op, x, kernel, coef, rows_factor=1.0):
    """`linear_op(x, kernel * coef)`, the run-time scale applied where it is cheaper.

    The scale can multiply the kernel or, equally, the output. The kernel is
    `fan_in x out` (fan_in = 3 * 3 * channels), the output `rows x out`,
    with `rows` the static output positions (batch x pixels, the input's
    times `rows_factor`): with fewer rows than fan-in (a batch of 32 4x4
    maps of 512 channels) scaling the output touches fewer elements, forward
    and backward. Unknown shapes (an export's dynamic batch) scale the
    kernel: equal up to float rounding.
    """
    coef = ops.cast(coef, kernel.dtype)
    rows = math.prod(x.shape[:-1]) * rows_factor if None not in x.shape[:-1] else None
    if rows is not None and rows < math.prod(kernel.shape[:-1]):
        return linear_op(x, kernel) * coef
    return linear_op(x, kernel * coef)


RESAMPLES = (None, "up", "down")


@keras.saving.register_keras_serializable(package="alae_tf")
class EqualizedConv2D(keras.layers.Layer):
    """Convolution whose kernel is rescaled at run time (equalized lr), optionally resampling.

    The stored kernel is drawn from N(0, 1/lrmul) and multiplied in the
    forward pass by `coef = gain / sqrt(fan_in) * lrmul` with
    `fan_in = in_channels * kernel_size**2`; the bias is multiplied by
    `lrmul`. Both multipliers are recorded on the variables for
    `alae_tf.optimizers.EqualizedAdam`, exactly as `EqualizedDense` does.
    The official PyTorch code stores the run-time kernel `(out, in, kh, kw)`;
    `alae_tf.convert` transposes it to `(kh, kw, in, out)` and divides by `coef`.

    Args:
        filters: output channels.
        kernel_size: odd square kernel size (3 in the blocks, 1 for to/from-RGB).
        gain: He-style gain; sqrt(2) by default, 0.03 for to-RGB.
        lrmul: learning-rate multiplier.
        use_bias: add a per-channel bias (the block convs have none: their
            blocks add their own bias after the noise).
        padding: "same" (zero padding `kernel_size // 2`, as the official
            padding 1 of the 3x3 convs) or "valid".
        negative_slope: if not None, a leaky ReLU with this slope follows.
        resample: None; "up": nearest 2x upsampling before the convolution
            (the generator's unfused blocks); "down": 2x2 average pooling
            after it (the encoder's). Either is computed as one stride-2 4x4
            convolution with the same result and 2.25x fewer multiply-adds
            (`alae_tf.layers.convolution`); 3x3 "same" kernels only.

    The convolutions go through `alae_tf.layers.convolution`: while
    training (`training=True`, which Keras passes down from the nets) on a
    CPU, on its matmul paths; otherwise as plain convolutions.

    Shapes: `[B, H, W, in]` -> `[B, H', W', filters]`, NHWC, with H' = H
    ("same"), H - kernel_size + 1 ("valid"), 2H ("up") or H / 2 ("down").
    """

    def __init__(
        self,
        filters,
        kernel_size=3,
        gain=SQRT2,
        lrmul=1.0,
        use_bias=True,
        padding="same",
        negative_slope=None,
        resample=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.filters = int(filters)
        self.kernel_size = int(kernel_size)
        self.gain = float(gain)
        self.lrmul = float(lrmul)
        self.use_bias = bool(use_bias)
        if padding not in ("same", "valid"):
            raise ValueError(f"EqualizedConv2D padding must be 'same' or 'valid', got {padding!r}")
        self.padding = padding
        self.negative_slope = None if negative_slope is None else float(negative_slope)
        if resample not in RESAMPLES:
            raise ValueError(f"EqualizedConv2D resample must be one of {RESAMPLES}, got {resample!r}")
        if resample is not None and (self.kernel_size != 3 or padding != "same"):
            raise ValueError("EqualizedConv2D resample needs a 3x3 kernel with 'same' padding")
        self.resample = resample

    def build(self, input_shape):
        in_channels = input_shape[-1]
        if in_channels is None:
            raise ValueError(f"{self.name}: the channel dimension of the input must be known, got {input_shape}")
        self.in_channels = int(in_channels)
        add_equalized_kernel(
            self,
            (self.kernel_size, self.kernel_size, self.in_channels, self.filters),
            fan_in=self.in_channels * self.kernel_size * self.kernel_size,
        )
        if self.use_bias:
            add_equalized_bias(self, self.filters)

    def call(self, x, training=None):
        if self.resample == "down" and any(size is not None and size % 2 for size in x.shape[1:3]):
            raise ValueError(f"{self.name}: height and width must be even, got input shape {tuple(x.shape)}")
        linear = functools.partial(self._linear, path=convolution.conv_path_for(training))
        y = apply_equalized(linear, x, self.kernel, self.coef, {None: 1.0, "up": 4.0, "down": 0.25}[self.resample])
        if self.use_bias:
            y = y + self.bias * ops.cast(self.lrmul, self.bias.dtype)
        if self.negative_slope is not None:
            y = ops.leaky_relu(y, negative_slope=self.negative_slope)
        return y

    def _linear(self, x, kernel, path):
        if self.resample == "up":
            return convolution.upsample_conv3x3(x, kernel, path=path)
        if self.resample == "down":
            return convolution.conv3x3_avgpool(x, kernel, path)
        if self.padding == "same":
            return convolution.conv2d(x, kernel, path=path)
        return ops.conv(x, kernel, strides=1, padding="valid")

    def compute_output_shape(self, input_shape):
        b, h, w = input_shape[0], input_shape[1], input_shape[2]
        if self.resample is not None:
            scale = (lambda n: 2 * n) if self.resample == "up" else (lambda n: n // 2)
            return (b, None if h is None else scale(h), None if w is None else scale(w), self.filters)
        if self.padding == "valid":
            shrink = self.kernel_size - 1
            h = None if h is None else h - shrink
            w = None if w is None else w - shrink
        return (b, h, w, self.filters)

    def get_config(self):
        config = super().get_config()
        config.update(
            filters=self.filters,
            kernel_size=self.kernel_size,
            gain=self.gain,
            lrmul=self.lrmul,
            use_bias=self.use_bias,
            padding=self.padding,
            negative_slope=self.negative_slope,
            resample=self.resample,
        )
        return config

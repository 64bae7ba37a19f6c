"""Dense layer with the equalized learning rate of ProGAN / StyleGAN / ALAE."""

import math

import keras
from keras import ops

from alae_tf.optimizers import set_equalized_lr_scale

SQRT2 = math.sqrt(2.0)


def add_equalized_kernel(layer, shape, fan_in):
    """Give `layer` (with `gain`, `lrmul`) an equalized-lr `kernel` of `shape`.

    Stored ~ N(0, 1/lrmul); `layer.coef = gain / sqrt(fan_in) * lrmul` is the
    run-time multiplier, also recorded for `EqualizedAdam`.
    """
    layer.fan_in = int(fan_in)
    layer.coef = layer.gain / math.sqrt(layer.fan_in) * layer.lrmul
    layer.kernel = layer.add_weight(
        name="kernel", shape=shape, initializer=keras.initializers.RandomNormal(stddev=1.0 / layer.lrmul)
    )
    set_equalized_lr_scale(layer.kernel, layer.coef)


def add_equalized_bias(layer, units):
    """Give `layer` a zero-initialised `bias` of `units`, run-time multiplier `lrmul`."""
    layer.bias = layer.add_weight(name="bias", shape=(units,), initializer="zeros")
    set_equalized_lr_scale(layer.bias, layer.lrmul)


@keras.saving.register_keras_serializable(package="alae_tf")
class EqualizedDense(keras.layers.Layer):
    """Dense layer whose weights are rescaled at run time (equalized lr).

    The stored kernel is drawn from N(0, 1/lrmul) and multiplied in the
    forward pass by `coef = gain / sqrt(fan_in) * lrmul`; the bias is
    multiplied by `lrmul`. With Adam this gives every weight the same
    effective learning rate whatever its fan-in, and `lrmul` < 1 slows a
    whole net down (the ALAE code uses 0.1 for F and D).

    The official PyTorch code stores the *run-time* values and moves `coef`
    into its optimizer instead; `alae_tf.convert` divides by `coef` on import.

    Args:
        units: output width.
        gain: He-style gain; sqrt(2) for layers followed by a leaky ReLU,
            1 for style affines, 0.03 for to-RGB.
        lrmul: learning-rate multiplier.
        use_bias: add a bias (stored divided by `lrmul`).
        negative_slope: if not None, a leaky ReLU with this slope follows
            the bias (fused here because every ALAE dense layer is either
            linear or leaky).

    Shapes: `(..., fan_in)` -> `(..., units)`.
    """

    def __init__(self, units, gain=SQRT2, lrmul=1.0, use_bias=True, negative_slope=None, **kwargs):
        super().__init__(**kwargs)
        self.units = int(units)
        self.gain = float(gain)
        self.lrmul = float(lrmul)
        self.use_bias = bool(use_bias)
        self.negative_slope = None if negative_slope is None else float(negative_slope)

    def build(self, input_shape):
        add_equalized_kernel(self, (int(input_shape[-1]), self.units), fan_in=input_shape[-1])
        if self.use_bias:
            add_equalized_bias(self, self.units)

    def call(self, x):
        # The run-time scale goes on the output, not the kernel: a batch has fewer
        # rows than a 784/1024-wide layer has inputs, so it touches fewer elements
        # (forward and backward; faster MLP steps), and the same graph runs at
        # every batch size, so exports compute exactly what training does.
        y = ops.matmul(x, self.kernel) * ops.cast(self.coef, self.kernel.dtype)
        if self.use_bias:
            y = y + self.bias * ops.cast(self.lrmul, self.bias.dtype)
        if self.negative_slope is not None:
            y = ops.leaky_relu(y, negative_slope=self.negative_slope)
        return y

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.units,)

    def get_config(self):
        config = super().get_config()
        config.update(
            units=self.units,
            gain=self.gain,
            lrmul=self.lrmul,
            use_bias=self.use_bias,
            negative_slope=self.negative_slope,
        )
        return config

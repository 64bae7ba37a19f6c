"""MLP encoder E of the paper's MNIST experiment."""

import math

import keras
from keras import ops

from alae_tf.layers import EqualizedDense
from alae_tf.layers.functional import at_least_float32
from alae_tf.networks.stack import apply_stack, build_stack, check_image


@keras.saving.register_keras_serializable(package="alae_tf")
class MLPEncoder(keras.Model):
    """E: a flattened image through dense layers to w.

    Hidden layers use LeakyReLU(0.2); the output layer is followed by
    LeakyReLU(0.01) (the official `EncoderFC` calls `F.leaky_relu` with
    torch's default slope there).

    Args:
        latent_size: size of w.
        image_shape: `(height, width, channels)` of the input.
        hidden_units: widths of the hidden layers.
        negative_slope: leaky ReLU slope of the hidden layers.
        output_negative_slope: leaky ReLU slope after the output layer.

    Shapes: images `[batch, *image_shape]` -> w `[batch, latent_size]`.
    """

    def __init__(
        self,
        latent_size,
        image_shape=(28, 28, 1),
        hidden_units=(1024, 1024),
        negative_slope=0.2,
        output_negative_slope=0.01,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.latent_size = int(latent_size)
        self.image_shape = tuple(int(d) for d in image_shape)
        self.hidden_units = tuple(int(u) for u in hidden_units)
        self.negative_slope = float(negative_slope)
        self.output_negative_slope = float(output_negative_slope)
        self.dense_layers = [
            EqualizedDense(u, negative_slope=self.negative_slope, name=f"dense_{i}")
            for i, u in enumerate(self.hidden_units)
        ]
        self.dense_layers.append(
            EqualizedDense(self.latent_size, negative_slope=self.output_negative_slope, name="to_latent")
        )
        self.build((None,) + self.image_shape)

    def build(self, input_shape):
        build_stack(self.dense_layers, (None, math.prod(self.image_shape)))
        self.built = True

    def call(self, images):
        check_image(images, self.image_shape, "MLPEncoder input")
        return at_least_float32(apply_stack(self.dense_layers, ops.reshape(images, (-1, math.prod(self.image_shape)))))

    def get_config(self):
        return {
            "name": self.name,
            "latent_size": self.latent_size,
            "image_shape": list(self.image_shape),
            "hidden_units": list(self.hidden_units),
            "negative_slope": self.negative_slope,
            "output_negative_slope": self.output_negative_slope,
        }

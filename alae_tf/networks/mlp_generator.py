"""MLP generator G of the paper's MNIST experiment."""

import math

import keras
from keras import ops

from alae_tf.layers import EqualizedDense
from alae_tf.layers.functional import at_least_float32
from alae_tf.networks.stack import apply_stack, build_stack, check_last_dim


@keras.saving.register_keras_serializable(package="alae_tf")
class MLPGenerator(keras.Model):
    """G: w through dense layers to a flat image, reshaped to `image_shape`.

    Hidden layers use LeakyReLU(0.01) (torch's default slope, which the
    official `GeneratorFC` uses); the output layer is linear, so images are
    not squashed into the pixel range.

    Args:
        latent_size: size of w.
        image_shape: `(height, width, channels)` of the output.
        hidden_units: widths of the hidden layers.
        negative_slope: leaky ReLU slope of the hidden layers.

    Shapes: w `[batch, latent_size]` -> images `[batch, *image_shape]`.
    """

    def __init__(self, latent_size, image_shape=(28, 28, 1), hidden_units=(1024, 1024), negative_slope=0.01, **kwargs):
        super().__init__(**kwargs)
        self.latent_size = int(latent_size)
        self.image_shape = tuple(int(d) for d in image_shape)
        self.hidden_units = tuple(int(u) for u in hidden_units)
        self.negative_slope = float(negative_slope)
        self.dense_layers = [
            EqualizedDense(u, negative_slope=self.negative_slope, name=f"dense_{i}")
            for i, u in enumerate(self.hidden_units)
        ]
        self.dense_layers.append(EqualizedDense(math.prod(self.image_shape), name="to_pixels"))
        self.build((None, self.latent_size))

    def build(self, input_shape):
        build_stack(self.dense_layers, input_shape)
        self.built = True

    def call(self, w):
        check_last_dim(w, self.latent_size, "MLPGenerator input w")
        return at_least_float32(ops.reshape(apply_stack(self.dense_layers, w), (-1,) + self.image_shape))

    def get_config(self):
        return {
            "name": self.name,
            "latent_size": self.latent_size,
            "image_shape": list(self.image_shape),
            "hidden_units": list(self.hidden_units),
            "negative_slope": self.negative_slope,
        }

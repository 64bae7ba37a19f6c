"""Mapping network F: z -> w."""

import keras

from alae_tf.layers import EqualizedDense, PixelNorm
from alae_tf.layers.functional import at_least_float32
from alae_tf.networks.stack import apply_stack, build_stack, check_last_dim


@keras.saving.register_keras_serializable(package="alae_tf")
class MappingNetwork(keras.Model):
    """F: pixel-normalised z through `num_layers` equalized dense + leaky ReLU.

    Every layer, the last included, is followed by LeakyReLU(0.2), and every
    layer uses lrmul 0.1 (ALAE's choice; StyleGAN used 0.01).

    Args:
        latent_size: size of z.
        dlatent_size: size of w (the last layer's width).
        num_layers: number of dense layers (6 for the MLP ALAE, 8 for faces).
        hidden_size: width of the inner layers; defaults to `dlatent_size`.
        lrmul: learning-rate multiplier of every layer.
        negative_slope: leaky ReLU slope.

    Shapes: z `[batch, latent_size]` -> w `[batch, dlatent_size]`.
    """

    def __init__(
        self, latent_size, dlatent_size=None, num_layers=8, hidden_size=None, lrmul=0.1, negative_slope=0.2, **kwargs
    ):
        super().__init__(**kwargs)
        self.latent_size = int(latent_size)
        self.dlatent_size = int(dlatent_size or latent_size)
        self.num_layers = int(num_layers)
        self.hidden_size = int(hidden_size or self.dlatent_size)
        self.lrmul = float(lrmul)
        self.negative_slope = float(negative_slope)
        self.pixel_norm = PixelNorm()
        self.dense_layers = [
            EqualizedDense(
                self.dlatent_size if i == self.num_layers - 1 else self.hidden_size,
                lrmul=self.lrmul,
                negative_slope=self.negative_slope,
                name=f"dense_{i}",
            )
            for i in range(self.num_layers)
        ]
        self.build((None, self.latent_size))

    def build(self, input_shape):
        build_stack(self.dense_layers, input_shape)
        self.built = True

    def call(self, z):
        check_last_dim(z, self.latent_size, "MappingNetwork input z")
        return at_least_float32(apply_stack(self.dense_layers, self.pixel_norm(z)))

    def get_config(self):
        return {
            "name": self.name,
            "latent_size": self.latent_size,
            "dlatent_size": self.dlatent_size,
            "num_layers": self.num_layers,
            "hidden_size": self.hidden_size,
            "lrmul": self.lrmul,
            "negative_slope": self.negative_slope,
        }

"""Latent discriminator D: w -> logit."""

import keras
from keras import ops

from alae_tf.layers import EqualizedDense
from alae_tf.layers.functional import at_least_float32
from alae_tf.networks.stack import apply_stack, build_stack, check_last_dim


@keras.saving.register_keras_serializable(package="alae_tf")
class LatentDiscriminator(keras.Model):
    """D: `num_layers` equalized dense layers with NO activations.

    D is therefore affine in w, as in the official code. The official last
    layer has `latent` (MLP) or `2 * latent` (StyleALAE) outputs of which one
    is the logit; this one has a single output unit and the importer picks
    the right row, so nothing unused is trained or exported.

    Args:
        latent_size: size of w.
        num_layers: number of dense layers (3 in every ALAE config).
        hidden_size: width of the inner layers; defaults to `latent_size`.
        lrmul: learning-rate multiplier of every layer (0.1).

    Shapes: w `[batch, latent_size]` -> logits `[batch]`.
    """

    def __init__(self, latent_size, num_layers=3, hidden_size=None, lrmul=0.1, **kwargs):
        super().__init__(**kwargs)
        self.latent_size = int(latent_size)
        self.num_layers = int(num_layers)
        self.hidden_size = int(hidden_size or latent_size)
        self.lrmul = float(lrmul)
        self.dense_layers = [
            EqualizedDense(1 if i == self.num_layers - 1 else self.hidden_size, lrmul=self.lrmul, name=f"dense_{i}")
            for i in range(self.num_layers)
        ]
        self.build((None, self.latent_size))

    def build(self, input_shape):
        build_stack(self.dense_layers, input_shape)
        self.built = True

    def call(self, w):
        check_last_dim(w, self.latent_size, "LatentDiscriminator input w")
        return at_least_float32(ops.squeeze(apply_stack(self.dense_layers, w), axis=-1))

    def get_config(self):
        return {
            "name": self.name,
            "latent_size": self.latent_size,
            "num_layers": self.num_layers,
            "hidden_size": self.hidden_size,
            "lrmul": self.lrmul,
        }

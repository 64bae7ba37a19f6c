"""The four ALAE nets: mapping F, generator G, encoder E, latent discriminator D."""

from alae_tf.networks.latent_discriminator import LatentDiscriminator
from alae_tf.networks.mapping import MappingNetwork
from alae_tf.networks.mlp_encoder import MLPEncoder
from alae_tf.networks.mlp_generator import MLPGenerator
from alae_tf.networks.style_encoder import StyleEncoder
from alae_tf.networks.style_generator import StyleGenerator

__all__ = ["LatentDiscriminator", "MappingNetwork", "MLPEncoder", "MLPGenerator", "StyleEncoder", "StyleGenerator"]

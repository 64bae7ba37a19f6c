"""Layers shared by the MLP ALAE and the StyleALAE."""

from alae_tf.layers.equalized_dense import EqualizedDense
from alae_tf.layers.pixel_norm import PixelNorm

__all__ = ["EqualizedDense", "PixelNorm"]

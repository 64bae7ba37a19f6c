"""Layers shared by the MLP ALAE and the StyleALAE."""

from alae_tf.layers.blur import Blur
from alae_tf.layers.equalized_conv2d import EqualizedConv2D
from alae_tf.layers.equalized_dense import EqualizedDense
from alae_tf.layers.from_rgb import FromRGB
from alae_tf.layers.functional import (
    downsample_avg_2x,
    downsample_avg_to,
    fade_in_real_images,
    instance_norm,
    lerp,
    upsample_nearest_2x,
)
from alae_tf.layers.fused_downsample_conv2d import FusedDownsampleConv2D
from alae_tf.layers.fused_upsample_conv2d import FusedUpsampleConv2D
from alae_tf.layers.learned_constant import LearnedConstant
from alae_tf.layers.noise_injection import NoiseInjection
from alae_tf.layers.pixel_norm import PixelNorm
from alae_tf.layers.style_modulation import StyleModulation
from alae_tf.layers.style_statistics import StyleStatistics
from alae_tf.layers.to_rgb import ToRGB

__all__ = [
    "downsample_avg_to",
    "fade_in_real_images",
    "Blur",
    "EqualizedConv2D",
    "EqualizedDense",
    "FromRGB",
    "FusedDownsampleConv2D",
    "FusedUpsampleConv2D",
    "LearnedConstant",
    "NoiseInjection",
    "PixelNorm",
    "StyleModulation",
    "StyleStatistics",
    "ToRGB",
    "downsample_avg_2x",
    "instance_norm",
    "lerp",
    "upsample_nearest_2x",
]

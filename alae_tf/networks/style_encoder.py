"""StyleALAE encoder E: image -> w, the sum of every block's style read-outs."""

import keras
from keras import ops

from alae_tf.layers import (
    Blur,
    EqualizedConv2D,
    EqualizedDense,
    FromRGB,
    FusedDownsampleConv2D,
    StyleStatistics,
    downsample_avg_2x,
    instance_norm,
    lerp,
)
from alae_tf.layers.functional import at_least_float32
from alae_tf.networks.style_generator import as_weight, check_level, fade_in_weight


class StyleEncoderBlock(keras.layers.Layer):
    """One encoder resolution, mirroring a generator block.

    3x3 conv + bias + LeakyReLU(0.2) -> style read-out 1 (mean/std ->
    `EqualizedDense(latent)`) -> instance norm (eps 1e-5) -> blur -> 3x3 conv
    and 2x2 average pooling (or one fused 4x4 stride-2 conv) -> bias +
    LeakyReLU -> style read-out 2 -> instance norm.

    Args:
        in_channels: input channels (also the first conv's output).
        filters: output channels.
        latent_size: size of the style read-outs.
        fused: use `FusedDownsampleConv2D` (the official fused blocks from
            128 px up) for the second conv + pooling; both compute one
            stride-2 4x4 conv with the same result.
        negative_slope: leaky ReLU slope.
        epsilon: instance-norm epsilon (1e-5, torch's default).

    Call: `[B, H, W, in_channels]` -> `(x [B, H/2, W/2, filters], s1 [B, latent], s2 [B, latent])`.
    """

    def __init__(self, in_channels, filters, latent_size, fused=False, negative_slope=0.2, epsilon=1e-5, **kwargs):
        super().__init__(**kwargs)
        self.in_channels = int(in_channels)
        self.filters = int(filters)
        self.latent_size = int(latent_size)
        self.fused = bool(fused)
        self.negative_slope = float(negative_slope)
        self.epsilon = float(epsilon)
        self.conv_1 = EqualizedConv2D(self.in_channels, 3, use_bias=False, name="conv_1")
        self.blur = Blur(name="blur")
        if self.fused:
            self.conv_2 = FusedDownsampleConv2D(self.filters, name="conv_2")
        else:
            self.conv_2 = EqualizedConv2D(self.filters, 3, use_bias=False, resample="down", name="conv_2")
        self.statistics = StyleStatistics(name="statistics")
        self.style_1 = EqualizedDense(self.latent_size, name="style_1")
        self.style_2 = EqualizedDense(self.latent_size, name="style_2")

    def build(self, input_shape):
        if input_shape[-1] != self.in_channels:
            raise ValueError(f"{self.name}: expected {self.in_channels} input channels, got {input_shape}")
        self.conv_1.build(input_shape)
        self.blur.build((None, None, None, self.in_channels))
        self.conv_2.build((None, None, None, self.in_channels))
        self.bias_1 = self.add_weight(name="bias_1", shape=(self.in_channels,), initializer="zeros")
        self.bias_2 = self.add_weight(name="bias_2", shape=(self.filters,), initializer="zeros")
        self.style_1.build((None, 2 * self.in_channels))
        self.style_2.build((None, 2 * self.filters))

    def call(self, x):
        x = ops.leaky_relu(self.conv_1(x) + self.bias_1, negative_slope=self.negative_slope)
        s1 = self.style_1(self.statistics(x))
        x = self.blur(instance_norm(x, self.epsilon))
        x = self.conv_2(x)
        x = ops.leaky_relu(x + self.bias_2, negative_slope=self.negative_slope)
        s2 = self.style_2(self.statistics(x))
        return instance_norm(x, self.epsilon), s1, s2

    def get_config(self):
        config = super().get_config()
        config.update(
            in_channels=self.in_channels,
            filters=self.filters,
            latent_size=self.latent_size,
            fused=self.fused,
            negative_slope=self.negative_slope,
            epsilon=self.epsilon,
        )
        return config


@keras.saving.register_keras_serializable(package="alae_tf")
class StyleEncoder(keras.Model):
    """E of StyleALAE: an image at any level's resolution -> w.

    Blocks are indexed as in the official code: block 0 reads the full
    `4 * 2**(layer_count-1)` px image and block `layer_count - 1` the 8 px
    maps. Block i has `min(max_channels, start_channels * 2**i)` input
    channels and twice that (capped) output channels, its own `FromRGB`
    (1x1 conv + LeakyReLU applied twice, as the official code does), and a
    fused downsampling conv when its input is at least
    `fused_scale_resolution` px. Each block emits two style vectors and
    **w is the sum over the blocks used**. All levels' layers are built in
    the constructor.

    Progressive growing: at `level` k, blocks `first = layer_count - k - 1`
    .. `layer_count - 1` run on a `4 * 2**k` px image. With `blend < 1`
    (fade-in), block `first`'s two styles are scaled by blend and its output
    is lerped (by blend) with `FromRGB[first + 1]` of the 2x2 average-pooled
    image before the remaining blocks.

    Args:
        latent_size: size of w.
        layer_count: number of blocks / levels.
        start_channels: channels of the highest-resolution block's input.
        max_channels: channel cap.
        channels: image channels.
        fused_scale_resolution: input resolution from which blocks use the
            fused downsampling conv (128 as in the official code).
        negative_slope: leaky ReLU slope.

    Call:
        images: `[B, 4 * 2**level, 4 * 2**level, channels]`, NHWC.
        level: Python int in [0, layer_count); default the last.
        blend: float or scalar tensor in [0, 1]; 1 = no fade-in.
        return_block_styles: also return `{block index: (s1, s2)}` (before
            any blend scaling) for the blocks used.

    Returns: w `[B, latent_size]` (and the dict when asked).
    """

    def __init__(
        self,
        latent_size,
        layer_count,
        start_channels=64,
        max_channels=512,
        channels=3,
        fused_scale_resolution=128,
        negative_slope=0.2,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.latent_size = int(latent_size)
        self.layer_count = int(layer_count)
        self.start_channels = int(start_channels)
        self.max_channels = int(max_channels)
        self.channels = int(channels)
        self.fused_scale_resolution = int(fused_scale_resolution)
        self.negative_slope = float(negative_slope)
        if self.layer_count < 1:
            raise ValueError(f"StyleEncoder: layer_count must be >= 1, got {layer_count}")
        self.block_channels = [min(self.max_channels, self.start_channels * 2**i) for i in range(self.layer_count + 1)]
        # Input resolution of block i.
        self.resolutions = [4 * 2 ** (self.layer_count - 1 - i) for i in range(self.layer_count)]
        self.from_rgb = [
            FromRGB(self.block_channels[i], negative_slope=self.negative_slope, name=f"from_rgb_{i}")
            for i in range(self.layer_count)
        ]
        self.blocks = [
            StyleEncoderBlock(
                self.block_channels[i],
                self.block_channels[i + 1],
                self.latent_size,
                fused=self.resolutions[i] >= self.fused_scale_resolution,
                negative_slope=self.negative_slope,
                name=f"block_{i}",
            )
            for i in range(self.layer_count)
        ]
        self.build((None, None, None, self.channels))

    def build(self, input_shape):
        for i, (from_rgb, block) in enumerate(zip(self.from_rgb, self.blocks)):
            from_rgb.build((None, None, None, self.channels))
            block.build((None, None, None, self.block_channels[i]))
        self.built = True

    def _check_images(self, images, level):
        r = 4 * 2**level
        want = (r, r, self.channels)
        if len(images.shape) != 4 or any(g is not None and g != w for g, w in zip(images.shape[1:], want)):
            raise ValueError(
                f"StyleEncoder: level {level} expects images [batch, {r}, {r}, {self.channels}], "
                f"got {tuple(images.shape)}"
            )

    def call(self, images, level=None, blend=1.0, return_block_styles=False):
        images = ops.convert_to_tensor(images)
        level = check_level(level, self.layer_count, "StyleEncoder")
        self._check_images(images, level)
        fade = fade_in_weight(blend, level, "StyleEncoder")
        first = self.layer_count - 1 - level
        block_styles = {}
        x = self.from_rgb[first](images)
        w = None
        start = first
        if fade is not None:
            x, s1, s2 = self.blocks[first](x)
            block_styles[first] = (s1, s2)
            weight = as_weight(fade, s1.dtype)
            w = s1 * weight + s2 * weight
            previous = self.from_rgb[first + 1](downsample_avg_2x(images))
            x = lerp(previous, x, as_weight(fade, x.dtype))
            start = first + 1
        for i in range(start, self.layer_count):
            x, s1, s2 = self.blocks[i](x)
            block_styles[i] = (s1, s2)
            w = s1 + s2 if w is None else w + (s1 + s2)
        w = at_least_float32(w)
        return (w, block_styles) if return_block_styles else w

    def get_config(self):
        return {
            "name": self.name,
            "latent_size": self.latent_size,
            "layer_count": self.layer_count,
            "start_channels": self.start_channels,
            "max_channels": self.max_channels,
            "channels": self.channels,
            "fused_scale_resolution": self.fused_scale_resolution,
            "negative_slope": self.negative_slope,
        }

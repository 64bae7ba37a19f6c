"""StyleALAE generator G: styles (+ per-pixel noise) -> image, progressively grown."""

import numbers

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from alae_tf.layers import (
    Blur,
    EqualizedConv2D,
    FusedUpsampleConv2D,
    LearnedConstant,
    NoiseInjection,
    StyleModulation,
    ToRGB,
    lerp,
    upsample_nearest_2x,
)
from alae_tf.layers.functional import at_least_float32


def check_level(level, layer_count, what):
    """`level` as a Python int in [0, layer_count); None means the last level."""
    if level is None:
        return layer_count - 1
    if isinstance(level, bool) or not isinstance(level, (numbers.Integral, np.integer)):
        raise ValueError(f"{what}: level must be a Python int (one trace per level), got {level!r}")
    level = int(level)
    if not 0 <= level < layer_count:
        raise ValueError(f"{what}: level must be in [0, {layer_count - 1}], got {level}")
    return level


def fade_in_weight(blend, level, what):
    """None when there is no fade-in, else the blend weight to lerp with.

    A Python/numpy number equal to 1 (or None) means no fade-in, the
    official `blend == 1` branch. A number < 1 needs level > 0. A tensor or
    variable always takes the fade-in branch (it may change after tracing);
    with the value 1 it gives the same result up to float rounding. At level
    0 there is nothing to fade from and a tensor blend is ignored.
    """
    if blend is None:
        return None
    if isinstance(blend, (numbers.Real, np.number)) and not isinstance(blend, bool):
        blend = float(blend)
        if not 0.0 <= blend <= 1.0:
            raise ValueError(f"{what}: blend must be in [0, 1], got {blend}")
        if blend == 1.0:
            return None
        if level == 0:
            raise ValueError(f"{what}: blend < 1 needs level > 0 (nothing to fade in from at level 0)")
        return blend
    return None if level == 0 else blend


def as_weight(blend, dtype):
    """The blend as a scalar of `dtype` (Python floats pass unchanged)."""
    return blend if isinstance(blend, float) else ops.cast(blend, dtype)


class StyleGeneratorBlock(keras.layers.Layer):
    """One generator resolution: [upsample conv, blur] (or the constant), then
    twice: noise, bias, LeakyReLU(0.2), instance norm + style modulation, with
    a 3x3 conv in between.

    Args:
        filters: output channels.
        upsample: False for block 0 (which starts from the learned constant).
        fused: use `FusedUpsampleConv2D` (the official 4x4 transposed conv
            from 128 px up) instead of nearest 2x + 3x3 conv (which runs as
            an equivalent transposed conv too, `EqualizedConv2D(resample="up")`).
        negative_slope: leaky ReLU slope.
        epsilon: instance-norm epsilon (1e-8).

    Call: `(x [B, H, W, in], style_1 [B, latent], style_2 [B, latent],
    noise_1, noise_2)` -> `[B, 2H, 2W, filters]` (`[B, H, W, filters]` without
    upsampling); the noises are `[B or 1, H_out, W_out, 1]`.
    """

    def __init__(self, filters, upsample=True, fused=False, negative_slope=0.2, epsilon=1e-8, **kwargs):
        super().__init__(**kwargs)
        self.filters = int(filters)
        self.upsample = bool(upsample)
        self.fused = bool(fused)
        self.negative_slope = float(negative_slope)
        self.epsilon = float(epsilon)
        if self.upsample:
            if self.fused:
                self.conv_1 = FusedUpsampleConv2D(self.filters, name="conv_1")
            else:
                self.conv_1 = EqualizedConv2D(self.filters, 3, use_bias=False, resample="up", name="conv_1")
            self.blur = Blur(name="blur")
        self.noise_1 = NoiseInjection(name="noise_1")
        self.style_1 = StyleModulation(self.epsilon, name="style_1")
        self.conv_2 = EqualizedConv2D(self.filters, 3, use_bias=False, name="conv_2")
        self.noise_2 = NoiseInjection(name="noise_2")
        self.style_2 = StyleModulation(self.epsilon, name="style_2")

    def build(self, x_shape, style_shape=None):
        shape = (None, None, None, self.filters)
        if self.upsample:
            self.conv_1.build(x_shape)
            self.blur.build(shape)
        elif x_shape[-1] != self.filters:
            raise ValueError(f"{self.name}: the constant must have {self.filters} channels, got {x_shape}")
        # Block biases are plain parameters (no equalized lr), added after the noise.
        self.bias_1 = self.add_weight(name="bias_1", shape=(self.filters,), initializer="zeros")
        self.bias_2 = self.add_weight(name="bias_2", shape=(self.filters,), initializer="zeros")
        for layer in (self.noise_1, self.conv_2, self.noise_2):
            layer.build(shape)
        self.style_1.build(shape, style_shape)
        self.style_2.build(shape, style_shape)

    def _epilogue(self, x, noise_layer, noise, bias, style_layer, style):
        x = noise_layer(x, noise=noise)
        x = ops.leaky_relu(x + bias, negative_slope=self.negative_slope)
        return style_layer(x, style)

    def call(self, x, style_1, style_2, noise_1=None, noise_2=None):
        if self.upsample:
            x = self.blur(self.conv_1(x))
        x = self._epilogue(x, self.noise_1, noise_1, self.bias_1, self.style_1, style_1)
        x = self.conv_2(x)
        return self._epilogue(x, self.noise_2, noise_2, self.bias_2, self.style_2, style_2)

    def get_config(self):
        config = super().get_config()
        config.update(
            filters=self.filters,
            upsample=self.upsample,
            fused=self.fused,
            negative_slope=self.negative_slope,
            epsilon=self.epsilon,
        )
        return config


@keras.saving.register_keras_serializable(package="alae_tf")
class StyleGenerator(keras.Model):
    """G of StyleALAE: a StyleGAN generator grown from 4 px to `4 * 2**(layer_count-1)` px.

    Block 0 starts from a learned 4x4 constant; block i > 0 doubles the
    resolution (nearest 2x + 3x3 conv, or one fused 4x4 transposed conv from
    `fused_scale_resolution` px up), blurs, and applies two
    noise/bias/leaky/AdaIN epilogues around a 3x3 conv. Block i has
    `min(max_channels, start_channels * 2**(layer_count - 1 - i))` channels
    and reads styles `2i` and `2i + 1`. Every level has its own `ToRGB`
    (1x1, gain 0.03). All levels' layers are built in the constructor, so
    every variable exists before an optimizer is built.

    Progressive growing: `level` k renders `4 * 2**k` px with blocks 0..k.
    With `blend < 1` (fade-in), the output is
    `lerp(upsample_2x(to_rgb[k-1](x_{k-1})), to_rgb[k](x_k), blend)`.

    Noise: one map per epilogue, in the official call order (`k = 2i + j`:
    block i, j = 0 after the upsampling conv/constant, j = 1 after the second
    conv); map k has shape `[B, 4*2**i, 4*2**i, 1]`, except that `noise[0]`
    may have batch 1 (the official code draws it for the batch-1 constant and
    shares it over the batch; `draw_noise` does the same). Pass `noise` (e.g.
    zeros, replayed maps, or an export input) or a stateless `noise_seed`;
    with neither, maps come from `tf.random.normal` (not reproducible).

    Args:
        latent_size: size of w (and of each style).
        layer_count: number of blocks / levels.
        start_channels: channels of the highest-resolution block.
        max_channels: channel cap.
        channels: image channels.
        fused_scale_resolution: output resolution from which blocks use the
            fused upsampling conv (128 as in the official code).
        negative_slope: leaky ReLU slope.

    Call:
        styles: `[B, 2 * layer_count, latent_size]`, or w `[B, latent_size]`
            (broadcast to every style slot).
        level: Python int in [0, layer_count); default the last.
        blend: float or scalar tensor in [0, 1]; 1 = no fade-in.
        noise: list of `2 * (level + 1)` maps as above, or None.
        noise_seed: `[2]` int seed for stateless noise, used when `noise` is None.

    Returns: images `[B, 4 * 2**level, 4 * 2**level, channels]`, NHWC.
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
            raise ValueError(f"StyleGenerator: layer_count must be >= 1, got {layer_count}")
        self.block_channels = [
            min(self.max_channels, self.start_channels * 2 ** (self.layer_count - 1 - i))
            for i in range(self.layer_count)
        ]
        self.resolutions = [4 * 2**i for i in range(self.layer_count)]
        self.constant = LearnedConstant(self.block_channels[0], size=4, name="constant")
        self.blocks = [
            StyleGeneratorBlock(
                c,
                upsample=i > 0,
                fused=i > 0 and self.resolutions[i] >= self.fused_scale_resolution,
                negative_slope=self.negative_slope,
                name=f"block_{i}",
            )
            for i, c in enumerate(self.block_channels)
        ]
        self.to_rgb = [ToRGB(self.channels, name=f"to_rgb_{i}") for i in range(self.layer_count)]
        self.build((None, 2 * self.layer_count, self.latent_size))

    @property
    def num_styles(self):
        return 2 * self.layer_count

    def build(self, input_shape):
        style_shape = (None, self.latent_size)
        self.constant.build(style_shape)
        in_channels = self.block_channels[0]
        for block, to_rgb, c in zip(self.blocks, self.to_rgb, self.block_channels):
            block.build((None, None, None, in_channels), style_shape)
            to_rgb.build((None, None, None, c))
            in_channels = c
        self.built = True

    def noise_shapes(self, level, batch_size):
        """Shapes of the `2 * (level + 1)` noise maps, in call order (map 0 has batch 1)."""
        level = check_level(level, self.layer_count, "StyleGenerator.noise_shapes")
        shapes = []
        for i in range(level + 1):
            r = self.resolutions[i]
            shapes += [(1 if i == 0 else batch_size, r, r, 1), (batch_size, r, r, 1)]
        return shapes

    def draw_noise(self, level, batch_size, seed=None):
        """Standard-normal noise maps for `level`: stateless from `seed` ([2] ints) if given.

        Map k uses `fold_in(seed, k)`, so the same seed replays the same list.
        """
        shapes = self.noise_shapes(level, batch_size)
        if seed is None:
            return [tf.random.normal(shape) for shape in shapes]
        seed = tf.cast(tf.convert_to_tensor(seed), tf.int64)
        return [
            tf.random.stateless_normal(shape, seed=tf.random.experimental.stateless_fold_in(seed, k))
            for k, shape in enumerate(shapes)
        ]

    def _check_styles(self, styles):
        if len(styles.shape) == 2:
            if styles.shape[-1] is not None and styles.shape[-1] != self.latent_size:
                raise ValueError(f"StyleGenerator: expected w [batch, {self.latent_size}], got {tuple(styles.shape)}")
            return ops.repeat(ops.expand_dims(styles, 1), self.num_styles, axis=1)
        if len(styles.shape) != 3 or any(
            got is not None and got != want for got, want in zip(styles.shape[1:], (self.num_styles, self.latent_size))
        ):
            raise ValueError(
                f"StyleGenerator: expected styles [batch, {self.num_styles}, {self.latent_size}] "
                f"or w [batch, {self.latent_size}], got {tuple(styles.shape)}"
            )
        return styles

    def _check_noise(self, noise, level):
        if len(noise) != 2 * (level + 1):
            raise ValueError(f"StyleGenerator: level {level} needs {2 * (level + 1)} noise maps, got {len(noise)}")
        for k, n in enumerate(noise):
            r = self.resolutions[k // 2]
            if len(n.shape) != 4 or any(g is not None and g != w for g, w in zip(n.shape[1:], (r, r, 1))):
                raise ValueError(
                    f"StyleGenerator: noise map {k} must be [batch or 1, {r}, {r}, 1], got {tuple(n.shape)}"
                )

    def call(self, styles, level=None, blend=1.0, noise=None, noise_seed=None):
        styles = self._check_styles(ops.convert_to_tensor(styles))
        level = check_level(level, self.layer_count, "StyleGenerator")
        fade = fade_in_weight(blend, level, "StyleGenerator")
        if noise is None:
            noise = self.draw_noise(level, ops.shape(styles)[0], seed=noise_seed)
        noise = [ops.convert_to_tensor(n, dtype=styles.dtype) for n in noise]
        self._check_noise(noise, level)
        x = self.constant(styles)
        previous_rgb = None
        for i in range(level + 1):
            if fade is not None and i == level:
                previous_rgb = self.to_rgb[i - 1](x)
            x = self.blocks[i](
                x, styles[:, 2 * i], styles[:, 2 * i + 1], noise_1=noise[2 * i], noise_2=noise[2 * i + 1]
            )
        images = self.to_rgb[level](x)
        if fade is not None:
            images = lerp(upsample_nearest_2x(previous_rgb), images, as_weight(fade, images.dtype))
        return at_least_float32(images)

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

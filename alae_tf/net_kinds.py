"""The two kinds of nets `ALAE` trains, behind one interface: the paper's MLPs and StyleALAE's style nets.

`ALAE` picks one adapter in its constructor (`for_generator`) and leaves every
difference between the kinds to it: how G and E are called, the current level
and resolution, the real images' fade-in, how w becomes G's input, style
mixing and truncation. Shapes: z and w are `[B, latent]`; G's input
("styles") is w itself for MLP nets and `[B, 2 * layer_count, latent]` (one w
per style layer) for style nets; images are `[B, H, W, C]` at the current
resolution.
"""

import keras
import tensorflow as tf

from alae_tf import distribute
from alae_tf.layers import downsample_avg_to, fade_in_real_images
from alae_tf.networks.style_generator import StyleGenerator, check_level


def _towards(avg: tf.Tensor, styles: tf.Tensor, psi: float) -> tf.Tensor:
    return avg + psi * (styles - avg)


class MLPNets:
    """The paper's MNIST nets: `G(w)` -> `[B, H, W, C]`, `E(x)` -> `[B, latent]`; one resolution, no levels.

    Args:
        generator: the trained G (an `MLPGenerator`, with `image_shape`).
        level: must be None (MLP nets have no levels).
    """

    is_style = False

    def __init__(self, generator: keras.layers.Layer, level: int | None = None):
        if level is not None:
            raise ValueError("ALAE: level applies to style nets only")
        self.generator = generator
        self.level = None

    @property
    def resolution(self) -> int:
        return self.generator.image_shape[0]

    def set_level(self, level: int) -> bool:
        raise ValueError("ALAE.set_level: the MLP nets have no levels")

    def at_current_resolution(self, images: tf.Tensor) -> tf.Tensor:
        return images

    def prepare_real(self, images: tf.Tensor) -> tf.Tensor:
        """Real images as E sees them in training: unchanged."""
        return images

    def styles_from_w(self, w: tf.Tensor) -> tf.Tensor:
        return w

    def mix_styles(
        self, styles: tf.Tensor, z: tf.Tensor, mapping: keras.layers.Layer, key: tf.Tensor, probability: float
    ) -> tf.Tensor:
        """No style layers to mix: `styles` unchanged."""
        return styles

    def truncate(self, styles: tf.Tensor, avg: tf.Tensor, psi: float, cutoff: int | None) -> tf.Tensor:
        """w moved towards `avg` by `psi` (`cutoff` has no layers to pick)."""
        return _towards(avg, styles, psi)

    def synthesize(
        self,
        generator: keras.layers.Layer,
        styles: tf.Tensor,
        noise_seed: tf.Tensor | None = None,
        training: bool = False,
    ) -> tf.Tensor:
        """`generator(w)`: the MLP G draws no noise, so `noise_seed` is ignored."""
        return generator(styles, training=training)

    def run_encoder(self, encoder: keras.layers.Layer, images: tf.Tensor, training: bool = False) -> tf.Tensor:
        return encoder(images, training=training)


class StyleNets:
    """StyleALAE's progressively grown nets (`StyleGenerator` / `StyleEncoder`).

    G is called as `G(styles [B, 2 * layer_count, latent], level=, blend=,
    noise=/noise_seed=)` and E as `E(x, level=, blend=)`. `level` is a Python
    int (one `tf.function` trace per level, so the model drops its train
    function when `set_level` reports a change); `blend` is the model's
    float32 variable (1 = no fade-in), read when the nets run.

    Args:
        generator: the trained G (gives the style-layer count and resolutions).
        blend: the fade-in variable (a scalar).
        level: the starting level (default: the last).
    """

    is_style = True

    def __init__(self, generator: StyleGenerator, blend: tf.Variable, level: int | None = None):
        self.generator = generator
        self.blend = blend
        self.level = check_level(level, generator.layer_count, "ALAE")

    @property
    def resolution(self) -> int:
        return self.generator.resolutions[self.level]

    def set_level(self, level: int) -> bool:
        """Run at `level` from now on; returns whether it changed."""
        level = check_level(level, self.generator.layer_count, "ALAE.set_level")
        changed, self.level = level != self.level, level
        return changed

    def at_current_resolution(self, images: tf.Tensor) -> tf.Tensor:
        """Full-resolution images pooled (2x2 average per halving) to the current level."""
        return downsample_avg_to(images, self.resolution)

    def prepare_real(self, images: tf.Tensor) -> tf.Tensor:
        """Real images as E sees them in training: fade-in blended with the level below (above level 0)."""
        if self.level > 0:
            return fade_in_real_images(images, tf.cast(self.blend, images.dtype))
        return images

    def styles_from_w(self, w: tf.Tensor) -> tf.Tensor:
        """w `[B, latent]` repeated for every style layer: `[B, 2 * layer_count, latent]`."""
        return tf.repeat(w[:, None], self.generator.num_styles, axis=1)

    def mix_styles(
        self, styles: tf.Tensor, z: tf.Tensor, mapping: keras.layers.Layer, key: tf.Tensor, probability: float
    ) -> tf.Tensor:
        """With `probability`, the styles from a cutoff on come from a second z's w.

        The cutoff is drawn uniformly in {1 .. 2(level + 1)} (the active style
        layers). The second z, the coin and the cutoff are drawn from `key`
        (a `[2]` stateless seed); under a strategy each replica keeps its rows
        of the global batch's second z.
        """
        slots = self.generator.num_styles
        z_mix = distribute.replica_rows(
            lambda rows: tf.random.stateless_normal(
                tf.stack([rows, int(mapping.latent_size)]), seed=tf.random.experimental.stateless_fold_in(key, 0)
            ),
            tf.shape(z)[0],
        )
        w_mix = mapping(tf.cast(z_mix, z.dtype), training=True)
        mix = tf.random.stateless_uniform((), seed=tf.random.experimental.stateless_fold_in(key, 1))
        cutoff = tf.random.stateless_uniform(
            (),
            seed=tf.random.experimental.stateless_fold_in(key, 2),
            minval=1,
            maxval=2 * (self.level + 1) + 1,
            dtype=tf.int32,
        )
        cutoff = tf.where(mix < probability, cutoff, slots)  # no mixing: every slot from w
        first = tf.range(slots)[None, :, None] < cutoff
        return tf.where(first, styles, tf.repeat(w_mix[:, None], slots, axis=1))

    def truncate(self, styles: tf.Tensor, avg: tf.Tensor, psi: float, cutoff: int | None) -> tf.Tensor:
        """The first `cutoff` style layers (all when None) moved towards `avg` by `psi`."""
        truncated = _towards(avg, styles, psi)
        if cutoff is None:
            return truncated
        first = tf.range(self.generator.num_styles)[None, :, None] < cutoff
        return tf.where(first, truncated, styles)

    def synthesize(
        self, generator: StyleGenerator, styles: tf.Tensor, noise_seed: tf.Tensor | None = None, training: bool = False
    ) -> tf.Tensor:
        """G at the current level and blend; `noise_seed` (`[2]` ints) makes its per-pixel noise reproducible."""
        noise = None
        if noise_seed is not None and distribute.num_replicas() > 1:
            # This replica's rows of the global batch's noise (map 0 is shared by the batch).
            local_batch = tf.shape(styles)[0]
            offset, global_batch = distribute.batch_layout(local_batch)
            maps = generator.draw_noise(self.level, global_batch, seed=noise_seed)
            noise = [m if k == 0 else m[offset : offset + local_batch] for k, m in enumerate(maps)]
            noise_seed = None
        return generator(
            styles, level=self.level, blend=self.blend, noise=noise, noise_seed=noise_seed, training=training
        )

    def run_encoder(self, encoder: keras.layers.Layer, images: tf.Tensor, training: bool = False) -> tf.Tensor:
        return encoder(images, level=self.level, blend=self.blend, training=training)


def for_generator(generator: keras.layers.Layer, blend: tf.Variable, level: int | None = None) -> MLPNets | StyleNets:
    """The adapter for the kind of `generator`: `StyleNets` for a `StyleGenerator`, else `MLPNets`."""
    if isinstance(generator, StyleGenerator):
        return StyleNets(generator, blend, level)
    return MLPNets(generator, level)

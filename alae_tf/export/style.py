"""The StyleALAE's G and E as the export calls them: one fixed level and blend.

A progressively grown model is exported at the level it trained last (`ALAE.level`,
set by `builders.place_at_trained_level` when a workdir is opened), so its signatures read
and write images at that level's resolution (`4 * 2**level` px), not necessarily the
preset's final one. The wrappers here fix the level (a Python int: one trace) and the
blend (a Python float: the value of the last trained batch, a constant of the graph)
and give G and E the interface `signatures` expects of every generator and encoder:

- `StyleGeneratorAtLevel`: `call(w [N, dlatent], noise=[...])` with
  `export_noise_shapes`, the per-image shapes of the noise maps;
- `StyleEncoderAtLevel`: `call(images [N, r, r, C])` with `image_shape`.

They hold the (float32) nets themselves and add no variables.
"""

import keras
from keras import ops

from alae_tf.networks.style_generator import check_level, fade_in_weight


def _checked_blend(blend, level, what):
    """`blend` as a Python float in [0, 1], refused (ValueError) where G and E would refuse it."""
    blend = float(blend)
    fade_in_weight(blend, level, what)
    return blend


class StyleGeneratorAtLevel(keras.layers.Layer):
    """A `StyleGenerator` at a fixed level and blend, called with w and explicit noise.

    w is broadcast to every style slot (no style mixing, no truncation: the
    exported generator renders w as training's step III does).

    Args:
        generator: a `StyleGenerator` (the float32 copy of the EMA one).
        level: the level to render, an int in [0, layer_count).
        blend: fade-in weight in [0, 1] (1: no fade-in); a constant of the graph.

    Attributes:
        export_noise_shapes: `((r_k, r_k, 1), ...)`, one per noise map in G's
            call order (`2 * (level + 1)` maps; map k is at block `k // 2`'s
            resolution `r_k`), per image.
        image_shape: `(r, r, channels)` of the images made, `r = 4 * 2**level`.

    Call:
        w: `[N, dlatent]`.
        noise: list of `[N, r_k, r_k, 1]` standard-normal maps, one per
            `export_noise_shapes` entry.

    Returns: images `[N, r, r, channels]` in the training pixel range (not clipped).
    """

    def __init__(self, generator, level, blend=1.0, **kwargs):
        level = check_level(level, generator.layer_count, "StyleGeneratorAtLevel")
        kwargs.setdefault("name", f"{generator.name}_at_level_{level}")
        # G's own policy, not the global one: under mixed_bfloat16 the wrapper would
        # otherwise cast w to bfloat16 before the float32 copy of G sees it.
        kwargs.setdefault("dtype", generator.dtype_policy)
        super().__init__(**kwargs)
        self.generator = generator
        self.level = level
        self.blend = _checked_blend(blend, level, "StyleGeneratorAtLevel")
        self.export_noise_shapes = tuple(tuple(shape[1:]) for shape in generator.noise_shapes(level, 1))
        resolution = generator.resolutions[level]
        self.image_shape = (resolution, resolution, generator.channels)
        self.built = True  # G is built in its constructor; this layer has no variables of its own

    def call(self, w, noise, training=False):
        # A broadcast, not G's own `ops.repeat` of a 2-D w: one op whatever the style count.
        styles = ops.broadcast_to(
            ops.expand_dims(w, 1), (ops.shape(w)[0], self.generator.num_styles, self.generator.latent_size)
        )
        return self.generator(styles, level=self.level, blend=self.blend, noise=list(noise), training=training)


class StyleEncoderAtLevel(keras.layers.Layer):
    """A `StyleEncoder` at a fixed level and blend.

    Args:
        encoder: a `StyleEncoder` (the float32 copy of the EMA one).
        level: the level whose images it reads, an int in [0, layer_count).
        blend: fade-in weight in [0, 1] (1: no fade-in); a constant of the graph.

    Attributes:
        image_shape: `(r, r, channels)` of the images read, `r = 4 * 2**level`.

    Call: images `[N, r, r, channels]` in the training pixel range -> w `[N, dlatent]`.
    """

    def __init__(self, encoder, level, blend=1.0, **kwargs):
        level = check_level(level, encoder.layer_count, "StyleEncoderAtLevel")
        kwargs.setdefault("name", f"{encoder.name}_at_level_{level}")
        kwargs.setdefault("dtype", encoder.dtype_policy)  # as in StyleGeneratorAtLevel
        super().__init__(**kwargs)
        self.encoder = encoder
        self.level = level
        self.blend = _checked_blend(blend, level, "StyleEncoderAtLevel")
        resolution = 4 * 2**level
        self.image_shape = (resolution, resolution, encoder.channels)
        self.built = True

    def call(self, images, training=False):
        return self.encoder(images, level=self.level, blend=self.blend, training=training)

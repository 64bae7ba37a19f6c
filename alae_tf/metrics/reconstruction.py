"""Reconstruction quality of G(E(x))."""

import numpy as np
import tensorflow as tf

from alae_tf.metrics.registry import register


@register("recon_mse")
def recon_mse(ctx):
    """MSE of G(E(x)) against x on the evaluation split, on a [0, 1] pixel scale.

    G's output is clipped to the pixel range first, as it is when shown or
    saved as an image.
    """
    lo, hi = ctx.pixel_range
    _, generator, encoder, _ = ctx.model.nets(ctx.use_ema)

    @tf.function(reduce_retracing=True)
    def squared_error_sum(x):
        rec = tf.clip_by_value(tf.cast(generator(encoder(x, training=False), training=False), tf.float32), lo, hi)
        return tf.reduce_sum(tf.square((rec - x) / (hi - lo)))

    total = sum(float(squared_error_sum(batch)) for batch in ctx.batches(ctx.test_images))
    return {"recon_mse": total / float(np.prod(ctx.test_images.shape))}

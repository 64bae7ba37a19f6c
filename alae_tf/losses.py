"""The three ALAE losses, as pure functions of tensors.

Each returns a float32 scalar averaged over the batch (`reduce_mean`); a
distributed caller rescales by `local_batch / global_batch` (see
`alae_tf.model.ALAE`). Inputs may be bfloat16/float16 under mixed precision:
half-precision values are widened to float32 before the softplus and the
squares.
"""

import tensorflow as tf

from alae_tf.layers.functional import at_least_float32  # noqa: F401  (part of this module's API)


def r1_penalty(real_grads, gamma):
    """R1 penalty, `gamma / 2 * ||d sum(D(E(x))) / dx||^2` averaged over the batch.

    Args:
        real_grads: `[batch, ...]` gradient of the summed real logits w.r.t.
            the real images (taken with a nested tape so that it is itself
            differentiable).
        gamma: R1 weight (10 in every ALAE config).

    Returns:
        scalar float32.
    """
    g = at_least_float32(real_grads)
    per_sample = tf.reduce_sum(tf.square(g), axis=tf.range(1, tf.rank(g)))
    return tf.reduce_mean(per_sample) * (0.5 * gamma)


def discriminator_logistic(d_real, d_fake):
    """Step I's adversarial part: `softplus(D(E(G(F(z))))) + softplus(-D(E(x)))`.

    Args:
        d_real, d_fake: logits `[batch]`.

    Returns:
        scalar float32 (the batch mean); add `r1_penalty` for the full step I loss.
    """
    return tf.reduce_mean(tf.nn.softplus(at_least_float32(d_fake))) + tf.reduce_mean(
        tf.nn.softplus(-at_least_float32(d_real))
    )


def generator_nonsaturating(d_fake):
    """Step II: the non-saturating generator loss `softplus(-D(E(G(F(z)))))`, batch mean."""
    return tf.reduce_mean(tf.nn.softplus(-at_least_float32(d_fake)))


def latent_reconstruction(w_reconstructed, w_target):
    """Step III: `mean((E(G(w)) - stop_gradient(w))^2)` over batch AND latent dims.

    The target is detached: only the reconstruction path trains.
    """
    return _mean_squared_error_to_detached(w_reconstructed, w_target)


def pixel_reconstruction(images_reconstructed, images):
    """Optional step III term (not in the paper): `mean((G(E(x)) - x)^2)` over batch and pixels.

    The real images are the target (no gradient flows into them). See
    `ALAE(pixel_reconstruction_weight=)`.
    """
    return _mean_squared_error_to_detached(images_reconstructed, images)


def _mean_squared_error_to_detached(values, target):
    """`mean((values - stop_gradient(target))^2)` over every axis, in at least float32."""
    return tf.reduce_mean(tf.square(at_least_float32(values) - tf.stop_gradient(at_least_float32(target))))


def local_edge_strength(images, window):
    """Root-mean-square image gradient in each `window` x `window` block: `[B, ceil(H/w), ceil(W/w), C]` float32.

    Forward differences along height and width (`tf.image.image_gradients`: zero past the last row and
    column), squared, averaged over each block ("SAME" padding), square-rooted.
    """
    dy, dx = tf.image.image_gradients(at_least_float32(images))
    energy = tf.nn.avg_pool2d(tf.square(dx) + tf.square(dy), window, window, "SAME")
    return tf.sqrt(energy + 1e-8)  # the epsilon keeps the root's gradient finite on flat blocks


def edge_strength_match(images_reconstructed, images, window=4):
    """Refinement term (not in the paper): `mean((S(G(E(x))) - S(x))^2)`, S = `local_edge_strength`.

    The pixel term alone pulls a reconstruction towards the mean of every image its code could have
    come from, and a mean of edges one pixel apart is a ramp: reconstructions carry under half of
    real images' high-frequency energy (`benchmarks/quality.md`). This term asks each block for as
    steep edges as the real image has there, without saying where within the block: with the pixel
    term beside it, the cheapest way to meet it is the real edge's steepness at its likeliest place.
    The gradient, not the Laplacian: matched local Laplacian energy bought itself with a checkerboard
    (its gain is highest at the Nyquist frequency), matched gradients with edges (same document).
    """
    reconstructed = local_edge_strength(images_reconstructed, window)
    return tf.reduce_mean(tf.square(reconstructed - tf.stop_gradient(local_edge_strength(images, window))))

"""The refinement's edge term: what it measures, and that it steepens what the pixel term blurs."""

import numpy as np
import pytest
import tensorflow as tf

from alae_tf import losses


def step_edges(columns, size=16):
    """`[N, size, size, 1]` images: black left of each column, white from it on."""
    images = np.zeros((len(columns), size, size, 1), np.float32)
    for i, column in enumerate(columns):
        images[i, :, column:] = 1.0
    return tf.constant(images)


def test_edge_strength_is_the_blockwise_rms_gradient():
    images = step_edges([5])
    strength = losses.local_edge_strength(images, 4).numpy()
    assert strength.shape == (1, 4, 4, 1)
    # The edge (a unit step between columns 4 and 5) lies in the second column of blocks: one gradient
    # of 1 in each block row of 4, so an RMS of sqrt(4 / 16); every other block is flat.
    np.testing.assert_allclose(strength[0, :, 1, 0], 0.5, atol=1e-4)
    np.testing.assert_allclose(np.delete(strength[0, :, :, 0], 1, axis=1), 0.0, atol=1e-3)
    assert losses.local_edge_strength(images, 3).shape == (1, 6, 6, 1)  # "SAME": a partial last block


def test_the_term_is_zero_for_the_image_itself_and_grows_with_blur():
    images = step_edges([5, 9, 12])
    blurred = tf.nn.avg_pool2d(images, 3, 1, "SAME")
    more_blurred = tf.nn.avg_pool2d(blurred, 3, 1, "SAME")
    assert float(losses.edge_strength_match(images, images)) == pytest.approx(0.0, abs=1e-8)
    assert (
        0 < float(losses.edge_strength_match(blurred, images)) < float(losses.edge_strength_match(more_blurred, images))
    )
    # Half precision in (mixed precision's reconstructions), float32 out.
    assert losses.edge_strength_match(tf.cast(blurred, tf.bfloat16), images).dtype == tf.float32


def test_beside_the_pixel_term_it_restores_the_edge_strength_that_blur_loses():
    # A code that could have come from an edge at column 7 or at column 8: the pixel term alone is
    # least for their mean, a two-step ramp with 0.71 of the edges' strength. With the edge term the
    # fitted image has nearly all of it, for a small pixel cost. The term does not say how: here it
    # buys part of the strength with a dark rim before the edge (as sharpening filters ring).
    targets = step_edges([7, 8])

    def fit(edge_weight):
        image = tf.Variable(tf.fill((1, 16, 16, 1), 0.5))
        optimizer = tf.keras.optimizers.Adam(0.02)
        for _ in range(600):
            with tf.GradientTape() as tape:
                loss = tf.reduce_mean(tf.square(image - targets))
                loss += edge_weight * losses.edge_strength_match(tf.repeat(image, 2, axis=0), targets)
            optimizer.apply_gradients([(tape.gradient(loss, image), image)])
        return image

    def edge_block_strength(image):
        return float(losses.local_edge_strength(image, 4)[0, 1, 1, 0])

    def pixel_error(image):
        return float(tf.reduce_mean(tf.square(image - targets)))

    blurred, sharp = fit(0.0), fit(3.0)
    real = edge_block_strength(targets[:1])
    np.testing.assert_allclose(blurred.numpy()[0, 8, 6:10, 0], [0.0, 0.5, 1.0, 1.0], atol=0.02)  # the ramp
    assert edge_block_strength(blurred) == pytest.approx(real / np.sqrt(2), rel=0.03)
    assert edge_block_strength(sharp) > 0.93 * real
    assert pixel_error(sharp) < pixel_error(blurred) + 0.01
    assert -0.3 < float(tf.reduce_min(sharp)) and float(tf.reduce_max(sharp)) < 1.1

"""Nearest 2x upsampling, 2x2 average pooling, instance norm, lerp, fade-in of real images."""

import numpy as np
import pytest
import tensorflow as tf

from alae_tf.layers import (
    downsample_avg_2x,
    downsample_avg_to,
    fade_in_real_images,
    instance_norm,
    lerp,
    upsample_nearest_2x,
)


def test_upsample_repeats_every_pixel_into_a_2x2_block():
    x = np.arange(2 * 3 * 4 * 5, dtype=np.float32).reshape(2, 3, 4, 5)
    want = np.repeat(np.repeat(x, 2, axis=1), 2, axis=2)
    np.testing.assert_array_equal(upsample_nearest_2x(x), want)


def test_upsample_works_with_unknown_sizes_in_a_graph():
    fn = tf.function(upsample_nearest_2x, input_signature=[tf.TensorSpec((None, None, None, 3))])
    assert fn(tf.zeros((2, 4, 6, 3))).shape == (2, 8, 12, 3)


def test_downsample_averages_2x2_blocks_and_inverts_upsampling():
    x = np.random.default_rng(0).standard_normal((2, 4, 6, 3)).astype(np.float32)
    want = x.reshape(2, 2, 2, 3, 2, 3).mean(axis=(2, 4))
    np.testing.assert_allclose(downsample_avg_2x(x), want, rtol=1e-6)
    np.testing.assert_allclose(downsample_avg_2x(upsample_nearest_2x(x)), x, rtol=1e-6)


def test_instance_norm_normalises_each_sample_and_channel():
    x = np.random.default_rng(1).standard_normal((2, 8, 8, 3)).astype(np.float32) * 3 + 5
    y = np.asarray(instance_norm(x, 1e-5))
    np.testing.assert_allclose(y.mean(axis=(1, 2)), 0.0, atol=1e-5)
    np.testing.assert_allclose(y.var(axis=(1, 2)), 1.0, rtol=1e-4)


def test_lerp_endpoints():
    a, b = np.float32(2.0), np.float32(6.0)
    assert lerp(a, b, 0.0) == a and lerp(a, b, 1.0) == b and lerp(a, b, 0.25) == 3.0


def test_downsample_to_a_resolution_averages_blocks_and_refuses_non_halvings():
    x = np.random.default_rng(0).uniform(size=(2, 16, 16, 3)).astype(np.float32)
    want = x.reshape(2, 4, 4, 4, 4, 3).mean(axis=(2, 4))
    np.testing.assert_allclose(downsample_avg_to(x, 4), want, rtol=1e-6)
    assert downsample_avg_to(x, 16) is x
    with pytest.raises(ValueError, match="halving"):
        downsample_avg_to(x, 6)


def test_fade_in_of_real_images_goes_from_the_lower_resolution_to_the_image():
    x = tf.constant(np.random.default_rng(1).uniform(size=(2, 8, 8, 1)).astype(np.float32))
    lower = upsample_nearest_2x(downsample_avg_2x(x))
    assert fade_in_real_images(x, 1.0) is x
    np.testing.assert_allclose(fade_in_real_images(x, tf.constant(0.0)), lower, rtol=1e-6)
    np.testing.assert_allclose(fade_in_real_images(x, 0.25), 0.25 * x + 0.75 * lower, rtol=1e-6)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_half_precision_statistics_of_a_flat_channel_stay_finite(dtype):
    """A constant channel (block 0's const at initialisation) in float16: eps 1e-8 rounds to 0 there."""
    from alae_tf.layers import PixelNorm, StyleStatistics

    x = tf.concat([tf.ones([2, 4, 4, 1]), tf.random.stateless_normal([2, 4, 4, 3], seed=[1, 2])], axis=-1)
    x = tf.cast(x, dtype)
    with tf.GradientTape() as tape:
        tape.watch(x)
        outputs = [instance_norm(x, 1e-8), StyleStatistics(dtype=dtype)(x), PixelNorm(dtype=dtype)(x)]
        total = tf.add_n([tf.reduce_sum(tf.cast(y, tf.float32)) for y in outputs])
    for y in outputs:
        assert y.dtype == dtype and bool(tf.reduce_all(tf.math.is_finite(tf.cast(y, tf.float32))))
    assert bool(tf.reduce_all(tf.math.is_finite(tf.cast(tape.gradient(total, x), tf.float32))))
    # The flat channel normalises to 0; the others as in float32.
    np.testing.assert_array_equal(tf.cast(outputs[0][..., 0], tf.float32), 0.0)
    want = instance_norm(tf.cast(x, tf.float32), 1e-8)[..., 1:]
    np.testing.assert_allclose(tf.cast(outputs[0][..., 1:], tf.float32), want, atol=0.02)

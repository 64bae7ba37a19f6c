"""Blur, NoiseInjection, StyleModulation, LearnedConstant, ToRGB, FromRGB, StyleStatistics."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from alae_tf.layers import (
    Blur,
    FromRGB,
    LearnedConstant,
    NoiseInjection,
    StyleModulation,
    StyleStatistics,
    ToRGB,
    instance_norm,
)
from alae_tf.layers.blur import blur_kernel

RNG = np.random.default_rng(0)


def round_trip(layer):
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer))
    assert type(restored) is type(layer)
    assert restored.get_config() == layer.get_config()
    return restored


def randn(*shape):
    return RNG.standard_normal(shape).astype(np.float32)


def test_blur_kernel_is_binomial_and_sums_to_one():
    k = blur_kernel(3)
    assert k.shape == (3, 3, 3, 1)
    np.testing.assert_allclose(k[:, :, 0, 0], np.outer([1, 2, 1], [1, 2, 1]) / 16.0)
    np.testing.assert_allclose(k.sum(axis=(0, 1)), 1.0)


def test_blur_keeps_constants_inside_and_zero_pads_borders():
    layer = Blur()
    y = np.asarray(layer(np.ones((1, 5, 5, 2), np.float32)))
    assert y.shape == (1, 5, 5, 2)
    np.testing.assert_allclose(y[:, 1:-1, 1:-1], 1.0, rtol=1e-6)
    np.testing.assert_allclose(y[0, 0, 0], 9.0 / 16.0, rtol=1e-6)  # corner: padding 1 with zeros
    assert layer.weights == []
    round_trip(layer)


def test_noise_injection_starts_as_identity():
    layer = NoiseInjection()
    x = randn(2, 4, 4, 3)
    np.testing.assert_array_equal(layer(x, noise=randn(2, 4, 4, 1)), x)
    assert layer.weight.shape == (3,) and not np.any(layer.weight.numpy())


def test_noise_injection_adds_weighted_noise_broadcast_over_channels_and_batch():
    layer = NoiseInjection()
    x, noise = randn(2, 4, 4, 3), randn(1, 4, 4, 1)
    layer.build(x.shape)
    layer.weight.assign([0.5, -1.0, 2.0])
    np.testing.assert_allclose(layer(x, noise=noise), x + noise * np.array([0.5, -1.0, 2.0]), rtol=1e-6)


def test_noise_injection_stateless_seed_is_reproducible():
    layer = NoiseInjection()
    x = np.zeros((2, 4, 4, 3), np.float32)
    layer.build(x.shape)
    layer.weight.assign([1.0, 1.0, 1.0])
    a, b = layer(x, seed=tf.constant([1, 2])), layer(x, seed=tf.constant([1, 2]))
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, layer(x, seed=tf.constant([1, 3])))
    np.testing.assert_array_equal(a[..., 0], a[..., 1])  # one map for every channel
    with pytest.raises(ValueError, match="seed"):
        layer(x)
    with pytest.raises(ValueError, match="noise must be"):
        layer(x, noise=np.zeros((2, 4, 4, 3), np.float32))


def test_style_modulation_is_instance_norm_then_scale_and_shift():
    layer = StyleModulation()
    x, w = randn(1, 4, 4, 3), randn(2, 5)
    y = layer(x, w)
    assert y.shape == (2, 4, 4, 3)  # a batch-1 input broadcasts to the styles' batch
    assert layer.affine.units == 6 and layer.affine.gain == 1.0
    style = np.asarray(layer.affine(w))
    want = np.asarray(instance_norm(x, 1e-8)) * (1 + style[:, None, None, :3]) + style[:, None, None, 3:]
    np.testing.assert_allclose(y, want, rtol=1e-5, atol=1e-5)
    mean, var = x.mean(axis=(1, 2), keepdims=True), x.var(axis=(1, 2), keepdims=True)
    np.testing.assert_allclose(instance_norm(x, 1e-8), (x - mean) / np.sqrt(var + 1e-8), rtol=1e-5, atol=1e-5)
    assert round_trip(layer).epsilon == 1e-8


def test_learned_constant_is_ones_repeated_over_the_batch():
    layer = LearnedConstant(8)
    y = layer(np.zeros((3, 16), np.float32))
    assert y.shape == (3, 4, 4, 8)
    np.testing.assert_array_equal(y, 1.0)
    assert layer.const.shape == (1, 4, 4, 8)
    round_trip(layer)


def test_to_rgb_is_a_small_1x1_conv():
    layer = ToRGB(3)
    y = layer(randn(2, 4, 4, 16))
    assert y.shape == (2, 4, 4, 3)
    assert layer.conv.kernel.shape == (1, 1, 16, 3)
    assert layer.conv.coef == pytest.approx(0.03 / 4.0)
    round_trip(layer)


def test_from_rgb_applies_the_leaky_relu_twice_by_default():
    twice, once = FromRGB(4), FromRGB(4, activations=1)
    x = randn(2, 4, 4, 3)
    twice.build(x.shape)
    once.build(x.shape)
    once.conv.set_weights(twice.conv.get_weights())
    pre = np.asarray(twice.conv(x))
    np.testing.assert_allclose(once(x), np.where(pre > 0, pre, 0.2 * pre), rtol=1e-6)
    np.testing.assert_allclose(twice(x), np.where(pre > 0, pre, 0.04 * pre), rtol=1e-6)
    assert round_trip(twice).activations == 2


def test_style_statistics_are_means_then_stds():
    layer = StyleStatistics()
    x = randn(2, 4, 4, 3)
    y = np.asarray(layer(x))
    assert y.shape == (2, 6)
    np.testing.assert_allclose(y[:, :3], x.mean(axis=(1, 2)), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(y[:, 3:], x.std(axis=(1, 2)), rtol=1e-5)
    round_trip(layer)


def test_style_statistics_gradient_is_finite_for_a_constant_channel():
    x = tf.ones((1, 4, 4, 2))
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = tf.reduce_sum(StyleStatistics()(x))
    assert np.all(np.isfinite(tape.gradient(y, x)))

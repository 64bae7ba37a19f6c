"""EqualizedConv2D and the fused up/downsampling convs: shapes, configs, equalized lr, and
the identities that define the fused convs (nearest 2x + flipped 3x3 conv; 3x3 conv + 2x2
pooling)."""

import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from alae_tf.layers import (
    EqualizedConv2D,
    FusedDownsampleConv2D,
    FusedUpsampleConv2D,
    downsample_avg_2x,
    upsample_nearest_2x,
)
from alae_tf.optimizers import EQUALIZED_LR_SCALE


def round_trip(layer):
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer))
    assert type(restored) is type(layer)
    assert restored.get_config() == layer.get_config()
    return restored


def conv_same(x, kernel):
    """Reference stride-1 'same' conv (cross-correlation), NHWC / HWIO, in numpy."""
    k = kernel.shape[0]
    p = k // 2
    xp = np.pad(x, ((0, 0), (p, p), (p, p), (0, 0)))
    out = np.zeros(x.shape[:3] + (kernel.shape[-1],))
    for a in range(k):
        for b in range(k):
            out += np.einsum("bhwi,io->bhwo", xp[:, a : a + x.shape[1], b : b + x.shape[2]], kernel[a, b])
    return out


@pytest.mark.parametrize("kernel_size,padding,want_hw", [(3, "same", 6), (3, "valid", 4), (1, "same", 6)])
def test_equalized_conv2d_shapes_and_config(kernel_size, padding, want_hw):
    layer = EqualizedConv2D(5, kernel_size, gain=0.5, lrmul=0.1, padding=padding, negative_slope=0.2)
    y = layer(np.zeros((2, 6, 6, 3), np.float32))
    assert y.shape == (2, want_hw, want_hw, 5)
    assert layer.compute_output_shape((2, 6, 6, 3)) == (2, want_hw, want_hw, 5)
    assert layer.kernel.shape == (kernel_size, kernel_size, 3, 5)
    config = round_trip(layer).get_config()
    got = (config["filters"], config["kernel_size"], config["padding"], config["lrmul"])
    assert got == (5, kernel_size, padding, 0.1)


def test_equalized_conv2d_runtime_scaling_matches_reference():
    rng = np.random.default_rng(0)
    layer = EqualizedConv2D(4, 3, lrmul=0.5)
    x = rng.standard_normal((2, 5, 5, 3)).astype(np.float32)
    layer.build(x.shape)
    layer.bias.assign(rng.standard_normal(4).astype(np.float32))
    coef = math.sqrt(2.0) / math.sqrt(3 * 9) * 0.5
    assert layer.coef == pytest.approx(coef)
    assert getattr(layer.kernel, EQUALIZED_LR_SCALE) == pytest.approx(coef)
    assert getattr(layer.bias, EQUALIZED_LR_SCALE) == pytest.approx(0.5)
    want = conv_same(x, layer.kernel.numpy() * coef) + layer.bias.numpy() * 0.5
    np.testing.assert_allclose(layer(x), want, atol=1e-5)


def test_equalized_conv2d_init_has_std_one_over_lrmul():
    layer = EqualizedConv2D(64, 3, lrmul=0.1)
    layer.build((None, None, None, 64))
    assert np.std(layer.kernel.numpy()) == pytest.approx(10.0, rel=0.05)
    assert not np.any(layer.bias.numpy())


def test_equalized_conv2d_rejects_unknown_padding():
    with pytest.raises(ValueError, match="padding"):
        EqualizedConv2D(4, 3, padding="causal")


def test_fused_upsample_equals_nearest_upsample_then_flipped_conv():
    rng = np.random.default_rng(1)
    layer = FusedUpsampleConv2D(4)
    x = rng.standard_normal((2, 5, 6, 3)).astype(np.float32)
    y = layer(x)
    assert y.shape == (2, 10, 12, 4)
    assert layer.kernel.shape == (3, 3, 3, 4)
    assert layer.coef == pytest.approx(math.sqrt(2.0) / math.sqrt(3 * 9))
    # A transposed conv applies its kernel rotated by 180 degrees relative to a
    # (cross-correlating) conv; the official fused layer does not flip it back.
    flipped = layer.kernel.numpy()[::-1, ::-1] * layer.coef
    np.testing.assert_allclose(y, conv_same(np.asarray(upsample_nearest_2x(x)), flipped), atol=1e-5)
    round_trip(layer)


def test_fused_downsample_equals_conv_then_average_pooling():
    rng = np.random.default_rng(2)
    layer = FusedDownsampleConv2D(4)
    x = rng.standard_normal((2, 8, 6, 3)).astype(np.float32)
    y = layer(x)
    assert y.shape == (2, 4, 3, 4)
    want = downsample_avg_2x(conv_same(x, layer.kernel.numpy() * layer.coef).astype(np.float32))
    np.testing.assert_allclose(y, want, atol=1e-5)
    round_trip(layer)


def test_fused_downsample_rejects_odd_sizes():
    with pytest.raises(ValueError, match="even"):
        FusedDownsampleConv2D(4)(np.zeros((1, 5, 6, 3), np.float32))


def test_fused_convs_are_twice_differentiable():
    """R1 differentiates the encoder twice; the generator's conv is differentiated once per step."""
    x = tf.constant(np.random.default_rng(3).standard_normal((1, 8, 8, 2)).astype(np.float32))
    for layer in (FusedDownsampleConv2D(3), FusedUpsampleConv2D(3)):
        with tf.GradientTape() as outer:
            with tf.GradientTape() as inner:
                inner.watch(x)
                y = tf.reduce_sum(tf.square(layer(x)))
            g = inner.gradient(y, x)
            penalty = tf.reduce_sum(tf.square(g))
        (grad,) = outer.gradient(penalty, [layer.kernel])
        assert grad is not None and np.all(np.isfinite(grad))

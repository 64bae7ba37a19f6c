"""StyleEncoder: shapes per level, block styles, fade-in, R1-style double gradients, errors, config."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from alae_tf.layers import FusedDownsampleConv2D, downsample_avg_2x
from alae_tf.networks import StyleEncoder

LATENT, LAYERS = 8, 4


@pytest.fixture(scope="module")
def enc():
    return StyleEncoder(LATENT, LAYERS, start_channels=4, max_channels=8, fused_scale_resolution=16)


def images(level, batch=2, seed=0):
    r = 4 * 2**level
    return np.random.default_rng(seed).uniform(-1, 1, (batch, r, r, 3)).astype(np.float32)


def test_every_level_is_built_in_the_constructor(enc):
    before = len(enc.trainable_variables)
    enc(images(0), level=0)
    assert len(enc.trainable_variables) == before
    assert enc.block_channels == [4, 8, 8, 8, 8]
    assert enc.resolutions == [32, 16, 8, 4]
    assert [isinstance(b.conv_2, FusedDownsampleConv2D) for b in enc.blocks] == [True, True, False, False]


@pytest.mark.parametrize("level", range(LAYERS))
def test_w_is_the_sum_of_the_block_styles(enc, level):
    w, block_styles = enc(images(level), level=level, return_block_styles=True)
    assert w.shape == (2, LATENT)
    assert sorted(block_styles) == list(range(LAYERS - 1 - level, LAYERS))
    total = sum(np.asarray(s1) + np.asarray(s2) for s1, s2 in block_styles.values())
    np.testing.assert_allclose(w, total, rtol=1e-5, atol=1e-5)


def test_blend_zero_reads_the_pooled_image_with_the_previous_level(enc):
    x = images(2)
    np.testing.assert_allclose(enc(x, level=2, blend=0.0), enc(downsample_avg_2x(x), level=1), rtol=1e-5, atol=1e-5)
    w_half, styles = enc(x, level=2, blend=0.5, return_block_styles=True)
    assert sorted(styles) == [1, 2, 3]  # block 1 still runs; its styles are scaled by blend


def test_tensor_blend_one_matches_the_plain_path(enc):
    x = images(2)
    np.testing.assert_allclose(enc(x, level=2, blend=tf.constant(1.0)), enc(x, level=2), rtol=1e-5, atol=1e-5)


def test_r1_double_gradient_reaches_every_used_variable(enc):
    x = tf.constant(images(3))
    with tf.GradientTape() as outer:
        with tf.GradientTape() as inner:
            inner.watch(x)
            out = tf.reduce_sum(enc(x, level=3, blend=0.5))
        penalty = tf.reduce_sum(tf.square(inner.gradient(out, x)))
    grads = dict(zip((v.path for v in enc.trainable_variables), outer.gradient(penalty, enc.trainable_variables)))
    # Every kernel on the level-3 fade-in path (from_rgb 0 and 1, all blocks) gets a
    # finite second-order gradient; biases of the style read-outs cannot affect dw/dx.
    kernels = [p for p in grads if p.endswith("kernel") and "from_rgb_2" not in p and "from_rgb_3" not in p]
    assert len(kernels) == 2 + 4 * LAYERS
    for path in kernels:
        assert grads[path] is not None and np.all(np.isfinite(grads[path])), path


@pytest.mark.parametrize(
    "call,match",
    [
        (lambda e: e(images(1), level=2), r"expects images \[batch, 16, 16, 3\]"),
        (lambda e: e(images(0)[..., :1], level=0), "expects images"),
        (lambda e: e(images(0), level=-1), "level must be in"),
        (lambda e: e(images(0), level=0, blend=0.5), "level > 0"),
    ],
)
def test_shape_errors(enc, call, match):
    with pytest.raises(ValueError, match=match):
        call(enc)


def test_config_round_trip(enc):
    copy = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(enc))
    assert copy.get_config() == enc.get_config()
    assert [v.shape for v in copy.weights] == [v.shape for v in enc.weights]

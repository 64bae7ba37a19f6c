"""StyleGenerator: shapes per level, fade-in, noise handling, shape errors, config."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from alae_tf.layers import FusedUpsampleConv2D, upsample_nearest_2x
from alae_tf.networks import StyleGenerator

LATENT, LAYERS = 8, 4


@pytest.fixture(scope="module")
def gen():
    g = StyleGenerator(LATENT, LAYERS, start_channels=4, max_channels=8, fused_scale_resolution=16)
    # Non-zero noise weights so that noise handling is observable.
    for block in g.blocks:
        for noise in (block.noise_1, block.noise_2):
            noise.weight.assign(np.full(noise.weight.shape, 0.3, np.float32))
    return g


@pytest.fixture(scope="module")
def w():
    return np.random.default_rng(0).standard_normal((2, LATENT)).astype(np.float32)


def test_every_level_is_built_in_the_constructor(gen):
    before = len(gen.trainable_variables)
    assert before > 0 and gen.count_params() > 0
    gen(np.zeros((1, LATENT), np.float32), level=0, noise_seed=(0, 0))
    assert len(gen.trainable_variables) == before
    assert gen.block_channels == [8, 8, 8, 4]
    assert [isinstance(b.conv_1, FusedUpsampleConv2D) for b in gen.blocks[1:]] == [False, True, True]


@pytest.mark.parametrize("level", range(LAYERS))
def test_output_shape_per_level(gen, w, level):
    r = 4 * 2**level
    assert gen(w, level=level, noise_seed=(1, 2)).shape == (2, r, r, 3)
    styles = np.repeat(w[:, None], 2 * LAYERS, axis=1)
    np.testing.assert_allclose(
        gen(styles, level=level, noise_seed=(1, 2)), gen(w, level=level, noise_seed=(1, 2)), rtol=1e-6, atol=1e-7
    )


def test_noise_list_seed_and_shapes(gen, w):
    shapes = gen.noise_shapes(2, 2)
    assert shapes == [(1, 4, 4, 1), (2, 4, 4, 1), (2, 8, 8, 1), (2, 8, 8, 1), (2, 16, 16, 1), (2, 16, 16, 1)]
    noise = gen.draw_noise(2, 2, seed=(3, 4))
    assert [tuple(n.shape) for n in noise] == shapes
    a = gen(w, level=2, noise=noise)
    np.testing.assert_array_equal(a, gen(w, level=2, noise_seed=(3, 4)))
    assert not np.allclose(a, gen(w, level=2, noise_seed=(3, 5)))
    assert not np.allclose(gen(w, level=2), gen(w, level=2))  # no noise, no seed: fresh random draws


def test_zero_noise_weights_make_noise_irrelevant(w):
    g = StyleGenerator(LATENT, 2, start_channels=4, max_channels=8)
    np.testing.assert_allclose(g(w, level=1, noise_seed=(0, 1)), g(w, level=1, noise_seed=(5, 6)), rtol=1e-6)


def test_blend_zero_shows_the_upsampled_previous_level(gen, w):
    level = 2
    noise = gen.draw_noise(level, 2, seed=(7, 7))
    previous = gen(w, level=level - 1, noise=noise[: 2 * level])
    faded = gen(w, level=level, blend=0.0, noise=noise)
    np.testing.assert_allclose(faded, upsample_nearest_2x(previous), rtol=1e-5, atol=1e-6)
    full = gen(w, level=level, blend=1.0, noise=noise)
    half = gen(w, level=level, blend=0.5, noise=noise)
    np.testing.assert_allclose(half, (np.asarray(faded) + np.asarray(full)) / 2, rtol=1e-5, atol=1e-6)


def test_tensor_blend_traces_once_per_level(gen, w):
    blend = tf.Variable(1.0)
    noise = gen.draw_noise(1, 2, seed=(1, 1))
    traces = []

    @tf.function
    def run(styles):
        traces.append(1)
        return gen(styles, level=1, blend=blend, noise=noise)

    np.testing.assert_allclose(run(w), gen(w, level=1, blend=1.0, noise=noise), rtol=1e-5, atol=1e-6)
    blend.assign(0.25)
    np.testing.assert_allclose(run(w), gen(w, level=1, blend=0.25, noise=noise), rtol=1e-5, atol=1e-6)
    assert len(traces) == 1


@pytest.mark.parametrize(
    "call,match",
    [
        (lambda g, w: g(np.zeros((2, 5), np.float32), level=0, noise_seed=(0, 0)), "expected w"),
        (lambda g, w: g(np.zeros((2, 3, LATENT), np.float32), level=0, noise_seed=(0, 0)), "expected styles"),
        (lambda g, w: g(w, level=LAYERS, noise_seed=(0, 0)), "level must be in"),
        (lambda g, w: g(w, level=1.0, noise_seed=(0, 0)), "Python int"),
        (lambda g, w: g(w, level=0, blend=0.5, noise_seed=(0, 0)), "level > 0"),
        (lambda g, w: g(w, level=1, blend=1.5, noise_seed=(0, 0)), r"\[0, 1\]"),
        (lambda g, w: g(w, level=1, noise=g.draw_noise(0, 2)), "needs 4 noise maps"),
        (lambda g, w: g(w, level=1, noise=g.draw_noise(1, 2)[::-1]), r"noise map 0 must be \[batch or 1, 4, 4, 1\]"),
    ],
)
def test_shape_errors(gen, w, call, match):
    with pytest.raises(ValueError, match=match):
        call(gen, w)


def test_config_round_trip_rebuilds_the_same_variables(gen):
    copy = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(gen))
    assert copy.get_config() == gen.get_config()
    assert [v.shape for v in copy.weights] == [v.shape for v in gen.weights]
    assert [v.path.split("/", 1)[1] for v in copy.weights] == [v.path.split("/", 1)[1] for v in gen.weights]

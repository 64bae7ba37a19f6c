"""alae_tf.net_kinds and alae_tf.streams: the MLP / style seam ALAE runs its nets through, and its random keys."""

import numpy as np
import pytest
import tensorflow as tf

from alae_tf import net_kinds, networks
from alae_tf.streams import MIX_D, NOISE_D, StepStreams

LATENT = 8


@pytest.fixture(scope="module")
def style():
    generator = networks.StyleGenerator(
        latent_size=LATENT, layer_count=2, start_channels=4, max_channels=8, name="generator"
    )
    return net_kinds.for_generator(generator, tf.Variable(1.0), level=0)


@pytest.fixture(scope="module")
def mlp():
    generator = networks.MLPGenerator(LATENT, image_shape=(28, 28, 1), hidden_units=(16,), name="generator")
    return net_kinds.for_generator(generator, tf.Variable(1.0))


def test_the_generator_type_picks_the_kind(style, mlp):
    assert isinstance(style, net_kinds.StyleNets) and style.is_style and style.level == 0
    assert isinstance(mlp, net_kinds.MLPNets) and not mlp.is_style and mlp.level is None
    assert (style.resolution, mlp.resolution) == (4, 28)
    with pytest.raises(ValueError, match="style nets only"):
        net_kinds.for_generator(mlp.generator, tf.Variable(1.0), level=0)
    with pytest.raises(ValueError, match="no levels"):
        mlp.set_level(0)


def test_style_levels_report_changes_and_set_the_resolution():
    generator = networks.StyleGenerator(latent_size=LATENT, layer_count=2, start_channels=4, max_channels=8)
    kind = net_kinds.StyleNets(generator, tf.Variable(1.0))
    assert kind.level == 1  # default: the last
    assert kind.set_level(0) and not kind.set_level(0) and kind.resolution == 4
    images = tf.random.uniform((2, 8, 8, 3))
    assert kind.at_current_resolution(images).shape == (2, 4, 4, 3)
    with pytest.raises(ValueError, match="level"):
        kind.set_level(2)


def test_w_becomes_g_input_and_truncation_moves_only_the_first_layers(style, mlp):
    w = tf.random.normal((3, LATENT))
    np.testing.assert_array_equal(mlp.styles_from_w(w), w)
    styles = style.styles_from_w(w)
    assert styles.shape == (3, 4, LATENT)
    avg = tf.ones((LATENT,))
    np.testing.assert_allclose(mlp.truncate(w, avg, 0.5, cutoff=1), 1.0 + 0.5 * (w - 1.0), rtol=1e-6)
    cut = style.truncate(styles, avg, 0.5, cutoff=2).numpy()
    np.testing.assert_allclose(cut[:, :2], 1.0 + 0.5 * (styles[:, :2] - 1.0), rtol=1e-6)
    np.testing.assert_array_equal(cut[:, 2:], styles[:, 2:])
    np.testing.assert_allclose(style.truncate(styles, avg, 0.5, cutoff=None), 1.0 + 0.5 * (styles - 1.0), rtol=1e-6)


def test_real_images_fade_in_only_above_level_zero():
    generator = networks.StyleGenerator(latent_size=LATENT, layer_count=2, start_channels=4, max_channels=8)
    blend = tf.Variable(0.0)
    kind = net_kinds.StyleNets(generator, blend, level=1)
    x = tf.random.uniform((1, 8, 8, 3))
    faded = kind.prepare_real(x).numpy()  # blend 0: the level below, upsampled
    np.testing.assert_allclose(faded[:, ::2, ::2], tf.nn.avg_pool2d(x, 2, 2, "VALID").numpy(), rtol=1e-6)
    blend.assign(1.0)
    np.testing.assert_allclose(kind.prepare_real(x), x, rtol=1e-6)
    kind.set_level(0)
    np.testing.assert_array_equal(kind.prepare_real(x), x)


def test_style_mixing_is_keyed_and_the_mlp_has_nothing_to_mix(style, mlp):
    mapping = networks.MappingNetwork(LATENT, num_layers=2)
    z = tf.random.normal((3, LATENT))
    w = mapping(z)
    key = tf.constant([1, 2], tf.int64)
    np.testing.assert_array_equal(mlp.mix_styles(w, z, mapping, key, 1.0), w)
    styles = style.styles_from_w(w)
    mixed = style.mix_styles(styles, z, mapping, key, 1.0).numpy()
    np.testing.assert_array_equal(mixed, style.mix_styles(styles, z, mapping, key, 1.0).numpy())
    from_w = np.all(mixed == styles.numpy(), axis=(0, 2))
    assert from_w[0] and not from_w.all()  # level 0: the cutoff is 1 or 2, then the second w
    np.testing.assert_array_equal(style.mix_styles(styles, z, mapping, key, 0.0), styles)


def test_style_generator_noise_is_reproducible_from_a_seed(style, mlp):
    styles = style.styles_from_w(tf.random.normal((2, LATENT)))
    seed = tf.constant([3, 4])
    a = style.synthesize(style.generator, styles, noise_seed=seed)
    np.testing.assert_array_equal(a, style.synthesize(style.generator, styles, noise_seed=seed))
    assert a.shape == (2, 4, 4, 3)
    assert mlp.synthesize(mlp.generator, tf.zeros((2, LATENT)), noise_seed=seed).shape == (2, 28, 28, 1)


def test_streams_are_keyed_by_seed_step_and_purpose():
    step = tf.Variable(0, dtype=tf.int64)
    streams = StepStreams(7, step)
    key = streams.key(MIX_D).numpy()
    np.testing.assert_array_equal(key, streams.key(MIX_D).numpy())
    assert not np.array_equal(key, streams.key(NOISE_D).numpy())
    first = [z.numpy() for z in streams.latents(4, LATENT)]
    assert len(first) == 3 and first[0].shape == (4, LATENT) and not np.allclose(first[0], first[1])
    step.assign(1)
    assert not np.array_equal(key, streams.key(MIX_D).numpy())
    assert not np.allclose(first[0], streams.latents(4, LATENT)[0].numpy())
    assert not np.array_equal(key, StepStreams(8, tf.Variable(1, dtype=tf.int64)).key(MIX_D).numpy())

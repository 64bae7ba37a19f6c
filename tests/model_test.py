"""ALAE model behaviour: which variables each step moves, R1 by finite differences, z stream."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from alae_tf import builders, configs, losses
from alae_tf.model import ALAE

TINY = configs.PRESETS["mnist_mlp_tiny"]


def tiny_model(**changes):
    model = builders.build_model(TINY.replace(**changes), seed=3)
    model.compile(*builders.make_optimizers(0.01))
    return model


def snapshot(model):
    return {v.path: v.numpy().copy() for net in model.training_nets for v in net.trainable_variables}


def changed_nets(model, before):
    after = snapshot(model)
    moved = {path.split("/")[0] for path in after if not np.array_equal(after[path], before[path])}
    return moved


@pytest.fixture()
def batch():
    rng = np.random.default_rng(0)
    x = tf.constant(rng.uniform(size=(16, 28, 28, 1)).astype("float32"))
    z = tf.constant(rng.normal(size=(16, TINY.latent_size)).astype("float32"))
    return x, z


def test_step_one_moves_only_encoder_and_discriminator(batch):
    model = tiny_model()
    before = snapshot(model)
    model.discriminator_step(*batch)
    assert changed_nets(model, before) == {"encoder", "discriminator"}


def test_step_two_moves_only_mapping_and_generator(batch):
    model = tiny_model()
    before = snapshot(model)
    model.generator_step(batch[1])
    assert changed_nets(model, before) == {"mapping", "generator"}


@pytest.mark.parametrize(
    "mode, nets", [("official", {"encoder", "mapping", "generator"}), ("paper", {"encoder", "generator"})]
)
def test_step_three_moves_the_chosen_variables(batch, mode, nets):
    model = tiny_model(autoencoder_variables=mode)
    before = snapshot(model)
    model.autoencoder_step(batch[1])
    assert changed_nets(model, before) == nets


def test_ema_follows_trained_nets_with_the_halflife(batch):
    model = tiny_model(ema_halflife_images=16.0)  # one batch of 16 = one half-life: beta = 0.5
    ema_before = [v.numpy().copy() for net in model.ema_nets for v in net.weights]
    x, z = batch
    model.alternating_update(x, z, z, z)
    trained = [v.numpy() for net in model.training_nets for v in net.weights]
    ema_after = [v.numpy() for net in model.ema_nets for v in net.weights]
    for e0, t, e1 in zip(ema_before, trained, ema_after):
        np.testing.assert_allclose(e1, 0.5 * e0 + 0.5 * t, rtol=1e-5, atol=1e-6)
    assert int(model.step.numpy()) == 1 and int(model.images_seen.numpy()) == 16


@pytest.fixture()
def float64():
    keras.mixed_precision.set_global_policy("float64")
    yield
    keras.mixed_precision.set_global_policy("float32")


def test_r1_gradient_and_penalty_match_finite_differences(float64):
    keras.utils.set_random_seed(1)  # initial weights independent of the tests run before
    model = builders.build_model(TINY, seed=1)
    _, _, encoder, discriminator = model.training_nets
    rng = np.random.default_rng(1)
    x = tf.constant(rng.uniform(size=(2, 28, 28, 1)))

    def real_sum(images):
        return tf.reduce_sum(discriminator(encoder(images)))

    # d sum D(E(x)) / dx against central differences at a few pixels.
    with tf.GradientTape() as tape:
        tape.watch(x)
        s = real_sum(x)
    grad = tape.gradient(s, x).numpy()
    eps = 1e-6
    for idx in [(0, 3, 4, 0), (1, 14, 14, 0), (0, 27, 0, 0)]:
        bump = np.zeros(x.shape)
        bump[idx] = eps
        fd = (real_sum(x + bump) - real_sum(x - bump)).numpy() / (2 * eps)
        np.testing.assert_allclose(grad[idx], fd, rtol=1e-6, atol=1e-10)

    # d R1 / d theta (the double backprop step I trains with) against central differences.
    kernel = encoder.dense_layers[0].kernel

    def penalty():
        with tf.GradientTape(watch_accessed_variables=False) as inner:
            inner.watch(x)
            s = real_sum(x)
        return losses.r1_penalty(inner.gradient(s, x), 10.0)

    with tf.GradientTape() as outer:
        r1 = penalty()
    d_kernel = outer.gradient(r1, kernel).numpy()
    assert r1.numpy() > 0
    for idx in [(100, 3), (400, 7), (783, 0)]:
        original = kernel.numpy()
        values = []
        for sign in (+1, -1):
            bumped = original.copy()
            bumped[idx] += sign * eps
            kernel.assign(bumped)
            values.append(float(penalty()))
        kernel.assign(original)
        fd = (values[0] - values[1]) / (2 * eps)
        np.testing.assert_allclose(d_kernel[idx], fd, rtol=1e-5, atol=1e-9)


def test_z_stream_is_keyed_by_step():
    model = tiny_model()
    first = [z.numpy() for z in model.draw_latents(4)]
    again = [z.numpy() for z in model.draw_latents(4)]
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)
    assert not np.allclose(first[0], first[1])  # steps I, II, III draw different z
    model.step.assign(1)
    nxt = model.draw_latents(4)
    assert not np.allclose(first[0], nxt[0].numpy())


def test_fit_runs_the_alternating_updates(batch):
    model = tiny_model()
    x, _ = batch
    ds = tf.data.Dataset.from_tensors(x).repeat()
    history = model.fit(ds, epochs=1, steps_per_epoch=3, verbose=0)
    assert set(history.history) == {"loss_d", "r1", "loss_g", "loss_ae"}
    assert all(np.isfinite(v[-1]) for v in history.history.values())
    assert int(model.step.numpy()) == 3


def test_config_round_trip():
    model = tiny_model()
    clone = type(model).from_config(model.get_config())
    assert [v.shape for v in clone.weights] == [v.shape for v in model.weights]
    assert clone.get_config() == model.get_config()


def test_wrong_shapes_are_rejected_at_the_boundary():
    model = tiny_model()
    with pytest.raises(ValueError, match="expected last dimension"):
        model.mapping(np.zeros((2, TINY.latent_size + 1), np.float32))
    with pytest.raises(ValueError, match="expected images of shape"):
        model.encoder(np.zeros((2, 32, 32, 1), np.float32))


def test_pixel_reconstruction_term_adds_the_weighted_pixel_error(batch):
    x, z = batch
    weighted = tiny_model(pixel_reconstruction_weight=0.5)
    # Before the step: the latent term and the pixel term; the step's loss is their weighted sum.
    w = weighted.mapping(z)
    want_latent = losses.latent_reconstruction(weighted.encoder(weighted.generator(w)), w)
    want_pixels = losses.pixel_reconstruction(weighted.generator(weighted.encoder(x)), x)
    got = weighted.autoencoder_step(z, x)
    np.testing.assert_allclose(got["recon_pixels"].numpy(), want_pixels.numpy(), rtol=1e-5)
    np.testing.assert_allclose(got["loss_ae"].numpy(), want_latent.numpy() + 0.5 * want_pixels.numpy(), rtol=1e-5)
    with pytest.raises(ValueError, match="needs the real batch"):
        weighted.autoencoder_step(z)


def test_pixel_reconstruction_is_tracked_and_kept_in_the_config(batch):
    model = tiny_model(pixel_reconstruction_weight=2.0)
    history = model.fit(tf.data.Dataset.from_tensors(batch[0]).repeat(2), epochs=1, verbose=0)
    assert set(history.history) == {"loss_d", "r1", "loss_g", "loss_ae", "recon_pixels"}
    assert type(model).from_config(model.get_config()).pixel_reconstruction_weight == 2.0
    with pytest.raises(ValueError, match="pixel_reconstruction_weight"):
        tiny_model(pixel_reconstruction_weight=-1.0)


def test_lazy_r1_takes_the_penalty_every_k_steps_at_k_times_the_weight(batch):
    x, _ = batch
    keras.utils.set_random_seed(1)
    every = tiny_model()
    keras.utils.set_random_seed(1)  # the same initial weights
    lazy = tiny_model(r1_interval=4)
    z = every.draw_latents(x.shape[0])
    r1_every, r1_lazy = [], []
    for _ in range(5):
        r1_every.append(float(every.alternating_update(x, *z)["r1"]))
        r1_lazy.append(float(lazy.alternating_update(x, *z)["r1"]))
    # Step 0: same weights, same batch, the penalty at 4x the weight; steps 1-3 none; step 4 again.
    assert r1_lazy[0] == pytest.approx(4 * r1_every[0], rel=1e-5)
    assert r1_lazy[1:4] == [0.0, 0.0, 0.0] and r1_lazy[4] > 0.0
    # The steps without it still train E and D on the logistic loss.
    before = snapshot(lazy)
    lazy.discriminator_step(x, z[0])
    assert "encoder" in changed_nets(lazy, before) and "discriminator" in changed_nets(lazy, before)
    assert type(lazy).from_config(lazy.get_config()).r1_interval == 4


@pytest.mark.parametrize("interval", [0, -2, 1.5, True])
def test_bad_r1_interval_is_refused(interval):
    with pytest.raises(ValueError, match="r1_interval"):
        tiny_model(r1_interval=interval)


def refining_model(anchor_weight, anchor_samples=0):
    config = TINY.replace(refine_fraction=0.5, refine_anchor_weight=anchor_weight, refine_anchor_samples=anchor_samples)
    model = builders.build_model(config, seed=3)
    model.compile(*builders.make_optimizers(0.003))
    return model


def test_refinement_starts_from_the_ema_nets_and_moves_only_e_and_g(batch):
    model = refining_model(1.0)
    for _ in range(3):  # the trained nets and their EMA copies part
        model.train_on_batch(batch[0])
    model.start_refinement()
    for net, ema in zip(model.training_nets + (model.anchor_generator,), model.ema_nets + (model.ema_generator,)):
        for a, b in zip(net.weights, ema.weights):
            np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert all(not np.any(v.numpy()) for v in model.ed_optimizer.variables if v is not model.ed_optimizer.learning_rate)
    before = snapshot(model)
    anchor = [v.numpy().copy() for v in model.anchor_generator.weights]
    logs = model.train_on_batch(batch[0], return_dict=True)
    assert changed_nets(model, before) == {"encoder", "generator"}
    assert sorted(logs) == ["refine_anchor", "refine_pixels"]
    assert all(np.array_equal(a, v.numpy()) for a, v in zip(anchor, model.anchor_generator.weights))
    model.set_refining(False)  # back in the game, with the game's Adam
    assert model.ed_optimizer.beta_1 == 0.0 and sorted(model.train_on_batch(batch[0], return_dict=True))[0] == "loss_ae"


@pytest.mark.parametrize("anchor_samples", [0, 3], ids=["every_image", "three_samples"])
def test_refinement_learns_reconstructions_and_its_anchor_holds_the_samples(batch, anchor_samples):
    x, z = batch
    drift, pixels = {}, {}
    for weight in (0.0, 10.0):
        model = refining_model(weight, anchor_samples)
        assert int(model.anchor_rows(len(x))) == (anchor_samples or len(x))
        model.start_refinement()
        w = model.mapping(z)
        drawn = model.generator(w).numpy()
        first = float(losses.pixel_reconstruction(model.reconstruct(x, use_ema=False), x))
        for _ in range(40):
            model.train_on_batch(x)
        pixels[weight] = float(losses.pixel_reconstruction(model.reconstruct(x, use_ema=False), x)) / first
        drift[weight] = float(np.mean((model.generator(w).numpy() - drawn) ** 2))
    # Both learn to redraw the batch; only the anchored one keeps drawing what it drew from F's codes.
    assert pixels[0.0] < 0.5 and pixels[10.0] < 0.6
    assert drift[10.0] < 0.05 * drift[0.0]


def test_a_model_without_the_phase_refuses_it():
    with pytest.raises(ValueError, match="no refinement phase"):
        tiny_model().set_refining(True)
    with pytest.raises(ValueError, match="refine_anchor_weight"):
        builders.build_model(TINY.replace(refine_fraction=0.5, refine_anchor_weight=-1.0))
    with pytest.raises(ValueError, match="MLP nets"):
        builders.build_model(configs.PRESETS["faces_micro"].replace(refine_fraction=0.5))
    with pytest.raises(ValueError, match="refine_anchor_samples"):
        builders.build_model(TINY.replace(refine_fraction=0.5, refine_anchor_samples=TINY.batch_size + 1))
    with pytest.raises(ValueError, match="refine_batch_size"):
        builders.build_model(TINY.replace(refine_fraction=0.5, refine_batch_size=-1))


def test_the_refinement_edge_term_is_logged_kept_in_the_config_and_sharpens(batch):
    x, _ = batch
    strength = {}
    for weight in (0.0, 30.0):
        config = TINY.replace(refine_fraction=0.5, refine_edge_weight=weight, refine_edge_window=2)
        model = builders.build_model(config, seed=3)
        model.compile(*builders.make_optimizers(0.003))
        model.start_refinement()
        for _ in range(40):
            logs = model.train_on_batch(x, return_dict=True)
        assert ("refine_edges" in logs) == bool(weight)
        strength[weight] = float(tf.reduce_mean(losses.local_edge_strength(model.reconstruct(x, use_ema=False), 2)))
    # The batch is noise, sharp everywhere: the pixel term's reconstructions blur it, the edge term's keep more.
    assert strength[30.0] > 2 * strength[0.0]
    restored = type(model).from_config(model.get_config())
    assert (restored.refine_edge_weight, restored.refine_edge_window) == (30.0, 2)
    assert sorted(restored.refine_trackers) == ["refine_anchor", "refine_edges", "refine_pixels"]


@pytest.mark.parametrize(
    "changes",
    [dict(refine_fraction=0.5, refine_edge_weight=-1.0), dict(refine_fraction=0.5, refine_edge_window=0)],
    ids=["negative_weight", "empty_window"],
)
def test_a_bad_edge_term_is_refused(changes):
    with pytest.raises(ValueError, match="refine_edge"):
        builders.build_model(TINY.replace(**changes))


def test_the_edge_term_needs_the_phase():
    with pytest.raises(ValueError, match="refine_anchor_weight too"):
        ALAE(*tiny_model().training_nets, refine_edge_weight=1.0)

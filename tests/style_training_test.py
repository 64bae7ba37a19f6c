"""StyleALAE training with progressive growing: traces per level, exact resume mid-fade-in, grids, mixing."""

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from alae_tf import builders, configs, training
from tests.conftest import FACES, needs_faces

# 8 px = 2 levels (4, 8 px) of 32 images at batch 8: level 1 starts at 32 and fades in over 32-48.
TINY_STYLE = configs.PRESETS["faces_micro"].replace(
    name="faces_test", ema_halflife_images=100.0, dataset=f"folder:{FACES}"
)
END = 56  # 7 steps: level 1 past its fade-in
MID_FADE_IN = 40  # level 1, blend 0.5 for the next batch


def run(workdir, images):
    options = training.TrainOptions(
        workdir=str(workdir), train_images=images, seed=5, checkpoint_every_images=16, log_every_steps=1, verbose=0
    )
    return training.train(TINY_STYLE, options)


@pytest.fixture(scope="module")
def straight(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("straight")
    return workdir, run(workdir, END)


def logged_scalars(workdir):
    values = {}
    for path in (workdir / "logs").glob("events.out.tfevents.*"):
        for event in tf.compat.v1.train.summary_iterator(str(path)):
            for value in event.summary.value:
                if value.metadata.plugin_data.plugin_name == "scalars":
                    values.setdefault(value.tag, []).append(float(tf.make_ndarray(value.tensor)))
    return values


@needs_faces
def test_one_trace_per_level_finite_losses_and_grids_per_level(straight):
    workdir, model = straight
    assert (model.level, int(model.images_seen.numpy())) == (1, END)
    assert model.train_step_traces == 2  # levels 0 and 1: not one per step (7 steps) or per chunk (4)
    # Both optimizers were reset when level 1 started at image 32: E/D steps twice per batch (I, III).
    assert int(model.ed_optimizer.iterations.numpy()) == 2 * (END - 32) // 8
    scalars = logged_scalars(workdir)
    for name in ("loss_d", "r1", "loss_g", "loss_ae"):
        assert len(scalars[name]) == END // 8 and np.all(np.isfinite(scalars[name])), name
    # A grid at the end of every level, its tiles at that level's resolution.
    widths = []
    for end in (32, END):
        for name in ("samples", "reconstructions"):
            with Image.open(workdir / "grids" / f"{name}_{end:09d}.png") as grid:
                widths.append(grid.size[0])
    assert widths[0] < widths[2] and widths[1] < widths[3]


@needs_faces
def test_resume_in_the_middle_of_a_fade_in_is_exact(straight, tmp_path):
    _, uninterrupted = straight
    first = run(tmp_path, MID_FADE_IN)
    assert first.level == 1 and 0.0 < TINY_STYLE.growth_schedule().blend_at(MID_FADE_IN) < 1.0
    resumed = run(tmp_path, END)  # restores mid-fade-in and goes on
    assert int(resumed.step.numpy()) == int(uninterrupted.step.numpy())
    for a, b in zip(uninterrupted.weights, resumed.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=a.path)
    for name in ("ed_optimizer", "fg_optimizer"):
        for a, b in zip(getattr(uninterrupted, name).variables, getattr(resumed, name).variables):
            np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=a.path)


def tiny_style_model(**changes):
    model = builders.build_model(TINY_STYLE.replace(**changes), seed=1)
    model.compile(*builders.make_optimizers(0.002))
    return model


def test_set_level_drops_the_train_function_only_on_a_change_and_resets_optimizers():
    model = tiny_style_model()
    model.set_level(1)
    model.make_train_function()
    function = model.train_function
    assert function is not None
    model.set_level(1)
    assert model.train_function is function
    for optimizer in (model.ed_optimizer, model.fg_optimizer):  # as if it had trained
        for variable in optimizer.variables:
            if variable is not optimizer.learning_rate:
                variable.assign(tf.ones(variable.shape, variable.dtype))
    model.set_level(0)
    assert model.train_function is None
    assert model.ed_optimizer.variables[0].numpy() == 1  # no reset unless asked
    model.set_level(0, reset_optimizers=True)
    for optimizer in (model.ed_optimizer, model.fg_optimizer):
        for variable in optimizer.variables:
            if variable is optimizer.learning_rate:
                assert variable.numpy() == pytest.approx(0.002)
            else:
                assert not np.any(variable.numpy()), variable.path


@pytest.mark.parametrize("level", [0, 1])
def test_style_mixing_switches_to_a_second_w_at_a_cutoff_in_the_active_layers(level):
    model = tiny_style_model(style_mixing_prob=1.0)
    model.set_level(level)
    z = tf.random.normal((3, TINY_STYLE.latent_size))
    w = model.mapping(z).numpy()
    cutoffs = set()
    for step in range(12):
        model.step.assign(step)
        styles, w_out = (t.numpy() for t in model._fake_styles(z, mix_purpose=1))
        again = model._fake_styles(z, mix_purpose=1)[0].numpy()
        np.testing.assert_array_equal(styles, again)  # keyed by (seed, step)
        np.testing.assert_allclose(w_out, w, rtol=1e-6)
        from_w = np.all(np.isclose(styles, w[:, None], rtol=1e-6), axis=(0, 2))
        cutoff = int(np.argmin(from_w)) if not from_w.all() else len(from_w)
        assert from_w[:cutoff].all() and not from_w[cutoff:].any()  # one switch point, then all w2
        cutoffs.add(cutoff)
    assert cutoffs <= set(range(1, 2 * (level + 1) + 1)) and len(cutoffs) > 1
    plain = tiny_style_model(style_mixing_prob=0.0)
    styles, _ = plain._fake_styles(z, mix_purpose=1)
    np.testing.assert_array_equal(styles.numpy(), np.repeat(plain.mapping(z).numpy()[:, None], 4, axis=1))


def test_truncation_moves_only_the_first_style_layers_and_only_in_generate():
    model = tiny_style_model()
    model.dlatent_avg.assign(tf.ones((TINY_STYLE.latent_size,)))
    z = tf.random.normal((2, TINY_STYLE.latent_size))
    seed = (3, 4)
    plain = model.generate(z, noise_seed=seed).numpy()
    untruncated = model.generate(z, truncation_psi=1.0, truncation_cutoff=2, noise_seed=seed).numpy()
    np.testing.assert_allclose(untruncated, plain, rtol=1e-5, atol=1e-6)
    w = model.ema_mapping(z)
    styles = np.repeat(w.numpy()[:, None], 4, axis=1)
    styles[:, :2] = 1.0 + 0.5 * (styles[:, :2] - 1.0)
    want = model.synthesize(model.ema_generator, tf.constant(styles), noise_seed=seed).numpy()
    got = model.generate(z, truncation_psi=0.5, truncation_cutoff=2, noise_seed=seed).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    assert not np.allclose(got, plain)


def test_style_model_config_round_trip():
    model = tiny_style_model(style_mixing_prob=0.9, truncation_psi=0.7, truncation_cutoff=4)
    model.set_level(1)
    clone = type(model).from_config(model.get_config())
    assert clone.get_config() == model.get_config() and clone.level == 1 and clone.is_style
    assert [v.shape for v in clone.weights] == [v.shape for v in model.weights]


def test_ema_follows_only_the_weights_the_step_trained():
    # At level 0 the level-1 layers are not in the step at all. All EMA copies are moved away from
    # the nets first, so following every weight would move those back too.
    model = tiny_style_model(ema_halflife_images=8.0)  # one batch of 8 = one half-life: beta = 0.5
    model.set_level(0)
    for ema in model.ema_nets:
        for variable in ema.weights:
            variable.assign(variable + 1.0)
    # Copies: `numpy()` of a CPU variable can alias the buffer the in-place updates write.
    ema_before = [v.numpy().copy() for net in model.ema_nets for v in net.weights]
    trained_before = [v.numpy().copy() for net in model.training_nets for v in net.weights]
    x = tf.random.uniform((8, 4, 4, 3), -1.0, 1.0, seed=2)
    z = tf.random.normal((8, TINY_STYLE.latent_size), seed=3)
    model.alternating_update(x, z, z, z)
    trained = [v.numpy() for net in model.training_nets for v in net.weights]
    ema_after = [v.numpy() for net in model.ema_nets for v in net.weights]
    names = [v.path for net in model.training_nets for v in net.weights]
    followed = untouched = 0
    for name, t0, t, e0, e1 in zip(names, trained_before, trained, ema_before, ema_after):
        if np.array_equal(t0, t):  # no update this step
            np.testing.assert_array_equal(e1, e0, err_msg=name)
            untouched += 1
        else:
            np.testing.assert_allclose(e1, 0.5 * e0 + 0.5 * t, rtol=1e-5, atol=1e-6, err_msg=name)
            followed += 1
    assert followed > 0 and untouched > 0
    assert any("to_rgb_1" in name for name, t0, t in zip(names, trained_before, trained) if np.array_equal(t0, t))

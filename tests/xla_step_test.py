"""The ALAE training step XLA-compiles (`jit_compile=True`) and computes what the uncompiled step does.

A TPU runs only XLA-compiled programs, and no TPU is at hand: an op XLA cannot
compile (or differentiate: R1 differentiates the critic twice) fails here on CPU
just as on a TPU. Both nets are checked, the StyleALAE at level 1 mid-fade-in:
`fit` with `jit_compile=True` runs the real step, and the compiled update (three
steps, EMA, counters) on given z must match the uncompiled one.

Given z, because the step's own draws cannot match: XLA implements
`tf.random.stateless_normal` with other arithmetic than TF's CPU/GPU kernel (other
numbers for the same seed and algorithm, Philox included), so an XLA-compiled run
(a TPU's) trains on another z stream of the same distribution.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

from alae_tf import builders, configs

MLP = configs.PRESETS["mnist_mlp_tiny"]
# faces_micro without style mixing (its second z comes from the model's own stream);
# the generator's noise strengths start at 0, so its noise (also the model's stream) adds nothing
# before step II moves them.
STYLE = configs.PRESETS["faces_micro"].replace(style_mixing_prob=0.0)


def compiled_update_matches(config, images, level=None, rtol=1e-5, losses=("loss_d", "r1", "loss_g", "loss_ae")):
    """`alternating_update` on given z: XLA-compiled vs not, the `losses` it returns and (with all four) every
    weight after it."""
    rng = np.random.default_rng(7)
    z_values = [rng.normal(size=(len(images), config.latent_size)) for _ in range(3)]  # steps I, II, III
    results = {}
    for jit_compile in (False, True):
        model = builders.build_compiled_model(config, seed=3)
        if level is not None:
            model.set_level(level)
            model.blend.assign(0.5)
        x = model.at_current_resolution(tf.constant(images)) if level is not None else tf.constant(images)
        zs = [tf.constant(z, model.mapping.compute_dtype) for z in z_values]
        returned = tf.function(model.alternating_update, jit_compile=jit_compile)(x, *zs)
        results[jit_compile] = (returned, model)
    (plain, plain_model), (compiled, compiled_model) = results[False], results[True]
    for name in losses:
        np.testing.assert_allclose(float(compiled[name]), float(plain[name]), rtol=rtol, err_msg=name)
    if len(losses) < 4:
        return
    for a, b in zip(compiled_model.weights, plain_model.weights, strict=True):
        a_, b_ = a.numpy().astype(np.float64), b.numpy().astype(np.float64)
        np.testing.assert_allclose(a_, b_, rtol=rtol, atol=rtol * max(np.abs(b_).max(), 1e-30), err_msg=a.path)
    fresh = builders.build_compiled_model(config, seed=3)
    assert not np.allclose(fresh.encoder.weights[0].numpy(), compiled_model.encoder.weights[0].numpy())


def fit_compiled(config, images, batch, level=None):
    """`fit` with `jit_compile=True` (Keras compiles the whole train step): it runs, its losses are finite."""
    model = builders.build_compiled_model(config, seed=3, jit_compile=True)
    if level is not None:
        model.set_level(level)
        model.blend.assign(0.5)
    stream = tf.data.Dataset.from_tensor_slices(images).batch(batch, drop_remainder=True)
    if level is not None:
        stream = stream.map(model.at_current_resolution)
    history = model.fit(stream, epochs=1, verbose=0)
    assert model.jit_compile and model.train_step_traces == 1
    assert int(model.step.numpy()) == len(images) // batch
    assert all(np.isfinite(values[-1]) for values in history.history.values()), history.history


def test_mlp_step_xla_compiles_and_matches_the_uncompiled_step():
    images = np.random.default_rng(0).uniform(size=(16, 28, 28, 1)).astype("float32")
    compiled_update_matches(MLP, images)
    fit_compiled(MLP, images, batch=16)


@pytest.mark.slow  # XLA compiles the style step with R1's second order in 1-2 min on 2 cores
def test_style_step_mid_fade_in_xla_compiles_and_matches_the_uncompiled_step():
    images = np.random.default_rng(1).uniform(-1, 1, size=(8, 8, 8, 3)).astype("float32")
    fit_compiled(STYLE, images, batch=8, level=1)
    # float64: the official init's constant start leaves float32 rounding noise in block 0
    # (tests/distribute_test.py); in float64 both programs agree far below 1e-5.
    keras.mixed_precision.set_global_policy("float64")
    try:
        # Steps I (with R1's second order through the tap convolutions) and II. Step III draws G's
        # noise, whose strengths step II has moved off 0, and XLA's draws are other numbers.
        compiled_update_matches(STYLE, images, level=1, losses=("loss_d", "r1", "loss_g"))
    finally:
        keras.mixed_precision.set_global_policy("float32")

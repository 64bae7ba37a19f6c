"""Parity with the official PyTorch MLP ALAE (../shared/fixtures/official/mlp_mnist.npz).

Forward outputs, the three losses (with R1), and the parameters after one full
iteration (steps I, II, III with z fixed, then EMA) must match within the
manifest's tolerances.
"""

import numpy as np
import pytest
import tensorflow as tf

from alae_tf import builders, configs, losses
from alae_tf.convert import export_official, import_official, mlp_parameter_map
from tests.conftest import FIXTURES
from tests.convert.after_step import assert_step_close

FIXTURE = "mlp_mnist.npz"


def assert_close(got, want, key):
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    assert got.shape == want.shape, f"{key}: shape {got.shape} != {want.shape}"
    tol = 1e-4 * max(1e-3, np.max(np.abs(want)))
    err = np.max(np.abs(got - want))
    assert err <= tol, f"{key}: max |got - want| = {err:.3g} > {tol:.3g}"


@pytest.fixture(scope="module")
def fixture(official_manifest):
    entry = official_manifest["fixtures"][FIXTURE]
    data = dict(np.load(FIXTURES / FIXTURE))
    return entry, data


@pytest.fixture()
def model(fixture):
    entry, data = fixture
    # The official code's step III (E, F and G), which the fixtures record.
    model = builders.build_model(configs.PRESETS["mnist_mlp"].replace(autoencoder_variables="official"))
    pmap = mlp_parameter_map(*model.training_nets, logit_index=0)
    import_official(pmap, {k: data[k] for k in entry["params"]})
    for net, ema in zip(model.training_nets, model.ema_nets):
        for source, target in zip(net.weights, ema.weights):
            target.assign(source)
    return model, pmap


def test_every_official_parameter_is_imported(fixture, model):
    entry, _ = fixture
    _, pmap = model
    assert sorted(p.name for p in pmap) == sorted(entry["params"])
    assert len(pmap) == len(model[0].ed_variables) + len(model[0].fg_variables)


def test_forward_outputs(fixture, model):
    _, data = fixture
    model, _ = model
    x = data["x"].reshape(-1, 28, 28, 1)
    F, G, E, D = model.training_nets
    w = F(data["z"])
    x_gen = G(w)
    assert_close(w, data["w_from_z"][:, 0], "w_from_z")
    assert_close(np.transpose(x_gen, (0, 3, 1, 2)), data["x_gen"], "x_gen")
    assert_close(E(x), data["w_from_x"], "w_from_x")
    assert_close(D(E(x)), data["d_real"], "d_real")
    assert_close(E(x_gen), data["w_from_x_gen"], "w_from_x_gen")
    assert_close(D(E(x_gen)), data["d_fake"], "d_fake")


def test_losses_and_r1(fixture, model):
    _, data = fixture
    model, _ = model
    F, G, E, D = model.training_nets
    x = tf.constant(data["x"].reshape(-1, 28, 28, 1))
    with tf.GradientTape() as tape:
        tape.watch(x)
        d_real = D(E(x))
        real_sum = tf.reduce_sum(d_real)
    r1_grad = tape.gradient(real_sum, x)
    x_gen = G(F(data["z"]))
    d_fake = D(E(x_gen))
    r1 = losses.r1_penalty(r1_grad, 10.0)
    assert_close(np.transpose(r1_grad, (0, 3, 1, 2)), data["r1_grad"], "r1_grad")
    assert_close(r1, data["r1"], "r1")
    assert_close(losses.discriminator_logistic(d_real, d_fake) + r1, data["loss_d"], "loss_d")
    assert_close(losses.generator_nonsaturating(d_fake), data["loss_g"], "loss_g")
    assert_close(losses.latent_reconstruction(E(x_gen), F(data["z"])), data["loss_ae"], "loss_ae")


def _official_after(data, name, value):
    if f"sample_index/{name}" in data:
        return value.reshape(-1)[data[f"sample_index/{name}"]], data[f"after_step_sampled/{name}"]
    return value, data[f"after_step/{name}"]


def test_one_training_iteration(fixture, model):
    entry, data = fixture
    model, pmap = model
    lr = float(data["train_step/lr"])
    model.compile(*builders.make_optimizers(lr))
    z = tf.constant(data["z"])
    results = model.alternating_update(data["x"].reshape(-1, 28, 28, 1), z, z, z)
    for key in ("loss_d", "loss_g", "loss_ae"):
        assert_close(results[key], data[f"train_step/{key}"], f"train_step/{key}")

    after = export_official(pmap)
    coefs = {k: v["lr_equalization_coef"] or 1.0 for k, v in entry["params"].items()}
    for p in pmap:
        got, want = _official_after(data, p.name, after[p.name])
        if p.rows is not None:  # D's last layer: only the logit row exists here
            want = want[p.rows]
        u = lr * coefs[p.name]
        assert_step_close(p.name, got, want, u)


def test_ema_after_one_iteration(fixture, model):
    _, data = fixture
    model, _ = model
    model.ema_halflife_images = 10000.0
    model.compile(*builders.make_optimizers(float(data["train_step/lr"])))
    z = tf.constant(data["z"])
    model.alternating_update(data["x"].reshape(-1, 28, 28, 1), z, z, z)
    ema_map = mlp_parameter_map(*model.ema_nets, logit_index=0)
    ema = export_official(ema_map)
    for p in ema_map:
        got = ema[p.name]
        key = f"ema_after_step/{p.name}"
        if key in data:
            want = data[key][p.rows] if p.rows is not None else data[key]
        else:
            got = got.reshape(-1)[data[f"sample_index/{p.name}"]]
            want = data[f"ema_after_step_sampled/{p.name}"]
        np.testing.assert_allclose(got, want, atol=1e-6, rtol=0, err_msg=p.name)
    np.testing.assert_allclose(model.dlatent_avg.numpy(), data["after_step/dlatent_avg/buff"][0], atol=1e-6)

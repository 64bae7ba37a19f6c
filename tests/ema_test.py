"""alae_tf.ema: frozen copies named for checkpoints, and the half-life update against a hand computation."""

import numpy as np
import pytest

from alae_tf import networks
from alae_tf.ema import ExponentialMovingAverage, ema_copy


def mapping(name="mapping"):
    return networks.MappingNetwork(4, num_layers=2, name=name)


def shift(net, rng):
    for v in net.weights:
        v.assign(v.numpy() + rng.normal(size=v.shape).astype(v.dtype))


def test_copy_is_frozen_equal_and_named_for_checkpoints():
    net = mapping()
    copy = ema_copy(net)
    assert copy is not net and copy.name == "ema_mapping" and not copy.trainable
    assert [v.path for v in copy.weights] == ["ema_" + v.path for v in net.weights]
    for a, b in zip(copy.weights, net.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


@pytest.mark.parametrize("batch, halflife", [(16, 16.0), (8, 100.0)])
def test_update_moves_each_copy_by_one_minus_beta_towards_its_net(batch, halflife):
    rng = np.random.default_rng(0)
    nets = (mapping("mapping"), mapping("other"))
    ema = ExponentialMovingAverage(nets)
    assert [c.name for c in ema.copies] == ["ema_mapping", "ema_other"]
    before = [v.numpy().copy() for c in ema.copies for v in c.weights]
    for net in nets:
        shift(net, rng)
    ema.update(batch, halflife)
    beta = 0.5 ** (batch / halflife)
    assert float(ema.beta(batch, halflife)) == pytest.approx(beta, rel=1e-6)
    trained = [v.numpy() for net in nets for v in net.weights]
    after = [v.numpy() for c in ema.copies for v in c.weights]
    for e0, t, e1 in zip(before, trained, after, strict=True):
        np.testing.assert_allclose(e1, beta * e0 + (1 - beta) * t, rtol=1e-5, atol=1e-6)


def test_update_follows_only_the_given_variables():
    rng = np.random.default_rng(1)
    net = mapping()
    ema = ExponentialMovingAverage([net])
    shift(net, rng)
    before = [v.numpy().copy() for v in ema.copies[0].weights]
    followed = net.weights[0]
    ema.update(4, 4.0, variables=[followed])  # one batch of 4 is one half-life: beta = 0.5
    after = [v.numpy() for v in ema.copies[0].weights]
    np.testing.assert_allclose(after[0], 0.5 * before[0] + 0.5 * followed.numpy(), rtol=1e-5, atol=1e-6)
    for b, a in zip(before[1:], after[1:]):
        np.testing.assert_array_equal(a, b)

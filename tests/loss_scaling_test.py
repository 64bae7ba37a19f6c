"""alae_tf.loss_scaling: one backward pass for two loss scales, unscaled updates, skipped non-finite steps."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from alae_tf import loss_scaling


def scaled_sgd(scale, variables=()):
    optimizer = keras.optimizers.LossScaleOptimizer(keras.optimizers.SGD(learning_rate=1.0), initial_scale=scale)
    optimizer.build(list(variables))  # the scale is a variable made by build
    return optimizer


def variables():
    return (tf.Variable([1.0, -2.0], name="a"), tf.Variable([[0.5], [3.0]], name="b"))


def true_gradients(a, b, x):
    # loss = sum(a * x) + sum(b^2): d/da = x, d/db = 2b
    return x, 2.0 * b.numpy()


def test_loss_scale_and_wrapping():
    plain = keras.optimizers.SGD()
    assert loss_scaling.loss_scale(plain) is None and loss_scaling.input_gradient_scale(plain) is None
    wrapped = loss_scaling.with_loss_scaling(plain)
    assert loss_scaling.with_loss_scaling(wrapped) is wrapped
    assert loss_scaling.inner_optimizer(wrapped) is plain and loss_scaling.inner_optimizer(plain) is plain
    assert float(loss_scaling.loss_scale(scaled_sgd(64.0))) == 64.0
    assert float(loss_scaling.input_gradient_scale(scaled_sgd(64.0))) == 8.0  # sqrt: R1's input gradient


def test_one_pass_gives_each_group_its_own_scale_and_apply_unscales():
    a, b = variables()
    x = np.array([0.25, 4.0], np.float32)
    want_a, want_b = true_gradients(a, b, x)
    opt_a, opt_b = scaled_sgd(8.0, [a]), scaled_sgd(32.0, [b])
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(a * x) + tf.reduce_sum(b * b)
    (grad_a,), (grad_b,) = loss_scaling.gradients(tape, loss, [(opt_a, [a]), (opt_b, [b])], tf.constant(2))
    np.testing.assert_allclose(grad_a.numpy(), 8.0 * want_a, rtol=1e-6)
    np.testing.assert_allclose(grad_b.numpy(), 32.0 * want_b, rtol=1e-6)
    a0, b0 = a.numpy(), b.numpy()
    taken, updated = loss_scaling.apply_gradients(opt_a, [grad_a], [a])
    assert bool(taken) and updated == [a]
    loss_scaling.apply_gradients(opt_b, [grad_b], [b])
    np.testing.assert_allclose(a.numpy(), a0 - want_a, rtol=1e-6)  # SGD at lr 1 steps by the unscaled gradient
    np.testing.assert_allclose(b.numpy(), b0 - want_b, rtol=1e-6)
    assert float(opt_a.dynamic_scale.numpy()) == 8.0


def test_without_loss_scaling_gradients_are_plain_and_none_is_left_out():
    a, b = variables()
    unused = tf.Variable([7.0], name="unused")
    opt = keras.optimizers.SGD(learning_rate=0.5)
    opt.build([a, b, unused])
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(a * 3.0) + tf.reduce_sum(b)
    (grads,) = loss_scaling.gradients(tape, loss, [(opt, [a, b, unused])], tf.constant(4))
    assert grads[2] is None
    np.testing.assert_allclose(grads[0].numpy(), [3.0, 3.0])
    taken, updated = loss_scaling.apply_gradients(opt, grads, [a, b, unused])
    assert bool(taken) and updated == [a, b]
    np.testing.assert_allclose(a.numpy(), [1.0 - 1.5, -2.0 - 1.5])
    assert unused.numpy()[0] == 7.0


@pytest.fixture()
def float16():
    keras.mixed_precision.set_global_policy("mixed_float16")
    yield
    keras.mixed_precision.set_global_policy("float32")


def test_mixed_float16_step_unscales_then_skips_a_non_finite_one_and_halves_the_scale(float16):
    layer = keras.layers.Dense(2, name="dense")
    layer.build((None, 3))
    opt = scaled_sgd(1024.0, layer.trainable_variables)

    def step(x):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(tf.cast(layer(x), tf.float32)))
        groups = [(opt, layer.trainable_variables)]
        return loss_scaling.minimize(tape, loss, groups, tf.shape(x)[0])

    x = tf.constant([[0.5, -1.0, 2.0]], tf.float16)
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(tf.square(tf.cast(layer(x), tf.float32)))
    want = [
        v.numpy() - g.numpy() for v, g in zip(layer.trainable_variables, tape.gradient(loss, layer.trainable_variables))
    ]
    taken, updated = step(x)
    assert bool(taken) and len(updated) == 2
    for v, w in zip(layer.trainable_variables, want):
        np.testing.assert_allclose(v.numpy(), w, rtol=2e-3, atol=2e-3)  # float16 forward pass
    assert float(opt.dynamic_scale.numpy()) == 1024.0

    before = [v.numpy().copy() for v in layer.trainable_variables]
    taken, _ = step(tf.constant([[np.inf, 0.0, 1.0]], tf.float16))
    assert not bool(taken)
    for v, b in zip(layer.trainable_variables, before):
        np.testing.assert_array_equal(v.numpy(), b)
    assert float(opt.dynamic_scale.numpy()) == 512.0


def test_minimize_is_taken_only_if_every_group_is():
    a, b = variables()
    opt_a, opt_b = scaled_sgd(4.0, [a]), scaled_sgd(16.0, [b])
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(a * np.float32(np.inf)) + tf.reduce_sum(b)
    taken, updated = loss_scaling.minimize(tape, loss, [(opt_a, [a]), (opt_b, [b])], tf.constant(1))
    assert not bool(taken) and updated == [a, b]
    np.testing.assert_array_equal(a.numpy(), [1.0, -2.0])
    np.testing.assert_array_equal(b.numpy(), [[-0.5], [2.0]])  # finite: applied, unscaled
    assert float(opt_a.dynamic_scale.numpy()) == 2.0 and float(opt_b.dynamic_scale.numpy()) == 16.0


def test_reset_slots_zeroes_everything_but_the_learning_rate_and_scale():
    a, _ = variables()
    opt = keras.optimizers.LossScaleOptimizer(keras.optimizers.Adam(learning_rate=0.1), initial_scale=16.0)
    opt.build([a])
    opt.apply([tf.constant([1.0, 1.0]) * 16.0], [a])
    inner = loss_scaling.inner_optimizer(opt)
    assert int(inner.iterations.numpy()) == 1
    loss_scaling.reset_slots(opt)
    for variable in inner.variables:
        if variable is inner.learning_rate:
            assert variable.numpy() == pytest.approx(0.1)
        else:
            assert not np.any(variable.numpy()), variable.path
    assert float(opt.dynamic_scale.numpy()) == 16.0

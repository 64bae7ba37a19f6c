"""EqualizedAdam: Keras Adam's step with epsilon scaled per variable, run as the fused kernel."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from alae_tf.optimizers import EqualizedAdam, set_equalized_lr_scale


def reference_adam(weights, gradients, epsilons, learning_rate, beta_1, beta_2):
    """Adam by hand in float64 (no bias correction shortcuts): the official LREQAdam's step."""
    m = [np.zeros_like(w) for w in weights]
    v = [np.zeros_like(w) for w in weights]
    weights = [w.copy() for w in weights]
    for t, grads in enumerate(gradients, start=1):
        alpha = learning_rate * np.sqrt(1 - beta_2**t) / (1 - beta_1**t)
        for i, g in enumerate(grads):
            m[i] += (g - m[i]) * (1 - beta_1)
            v[i] += (g * g - v[i]) * (1 - beta_2)
            weights[i] -= alpha * m[i] / (np.sqrt(v[i]) + epsilons[i])
    return weights


@pytest.mark.parametrize("beta_1", [0.0, 0.9])
@pytest.mark.parametrize("graph", [False, True])
def test_steps_equal_adam_with_epsilon_scaled_by_the_equalized_lr_multiplier(beta_1, graph):
    rng = np.random.default_rng(0)
    shapes, scales = [(3, 4), (5,), (2, 2, 3)], [0.01, None, 0.25]
    initial = [rng.standard_normal(s) for s in shapes]
    variables = [keras.Variable(w.astype(np.float32)) for w in initial]
    for variable, scale in zip(variables, scales):
        if scale is not None:
            set_equalized_lr_scale(variable, scale)
    # Gradients near epsilon so a wrong (unscaled) epsilon shows.
    gradients = [[(rng.standard_normal(s) * 1e-7).astype(np.float32) for s in shapes] for _ in range(3)]
    optimizer = EqualizedAdam(learning_rate=0.01, beta_1=beta_1, beta_2=0.99, epsilon=1e-6)
    optimizer.build(variables)
    apply = lambda grads: optimizer.apply(grads, variables)  # noqa: E731
    apply = tf.function(apply) if graph else apply
    for grads in gradients:
        apply([tf.constant(g) for g in grads])
    epsilons = [1e-6 * (1.0 if s is None else s) for s in scales]
    want = reference_adam(
        initial, [[g.astype(np.float64) for g in grads] for grads in gradients], epsilons, 0.01, beta_1, 0.99
    )
    for variable, expected in zip(variables, want):
        np.testing.assert_allclose(variable.numpy(), expected, rtol=1e-5, atol=1e-6)
    assert int(optimizer.iterations.numpy()) == 3
    # Plain epsilon on the scaled variables would give a different step: the check above can fail.
    plain = reference_adam(
        initial, [[g.astype(np.float64) for g in grads] for grads in gradients], [1e-6] * 3, 0.01, beta_1, 0.99
    )
    assert np.abs(plain[0] - want[0]).max() > 1e-3


def test_amsgrad_falls_back_to_keras_adam_with_the_scaled_epsilon():
    variable = keras.Variable(np.ones((4,), np.float32))
    set_equalized_lr_scale(variable, 0.1)
    optimizer = EqualizedAdam(learning_rate=0.1, beta_1=0.0, epsilon=1e-3, amsgrad=True)
    optimizer.build([variable])
    optimizer.apply([tf.fill((4,), 1e-4)], [variable])
    # t = 1: alpha = lr * sqrt(1 - b2) / (1 - b1); m = g; v = (1 - b2) g^2.
    g, b2 = 1e-4, optimizer.beta_2
    step = 0.1 * np.sqrt(1 - b2) * g / (np.sqrt((1 - b2) * g * g) + 1e-4)
    np.testing.assert_allclose(variable.numpy(), 1.0 - step, rtol=1e-5)


def test_each_variable_is_one_fused_adam_kernel():
    variables = [keras.Variable(np.ones((3, 3), np.float32)), keras.Variable(np.ones((2,), np.float32))]
    optimizer = EqualizedAdam(learning_rate=0.1)
    optimizer.build(variables)
    apply = tf.function(lambda grads: optimizer.apply(grads, variables))
    graph = apply.get_concrete_function([tf.TensorSpec(v.shape) for v in variables]).graph
    types = [op.type for op in graph.get_operations()]
    assert types.count("ResourceApplyAdam") == 2 and "Sqrt" not in types

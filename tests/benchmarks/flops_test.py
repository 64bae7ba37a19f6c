"""The roofline's FLOP counter: matmuls and convs by their textbook counts, dead ops left out."""

import numpy as np
import pytest
import tensorflow as tf

from benchmarks import flops


def test_counts_live_matmuls_and_convs():
    w = tf.Variable(tf.ones([16, 32]))

    def fn(x, images):
        y = tf.matmul(x, w)  # 2 * 8 * 16 * 32
        unused = tf.matmul(x, tf.ones([16, 64]))  # nothing depends on it: pruned, not counted
        del unused
        kernel = tf.ones([3, 3, 4, 5])
        z = tf.nn.conv2d(images, kernel, 1, "SAME")  # 2 * (2 * 6 * 6 * 5) * (3 * 3 * 4)
        w.assign_add(tf.ones([16, 32]))  # stateful: kept (no FLOP statistic of its own)
        return tf.reduce_sum(y), z

    count = flops.function_flops(fn, tf.TensorSpec([8, 16]), tf.TensorSpec([2, 6, 6, 4]))
    matmul, conv = 2 * 8 * 16 * 32, 2 * (2 * 6 * 6 * 5) * (3 * 3 * 4)
    # Elementwise ops (the sum) add a few per element on top.
    assert matmul + conv <= count <= matmul + conv + 2 * 8 * 32 + 2 * 6 * 6 * 5 * 2


def test_gradient_counts_only_what_the_update_needs():
    x = tf.ones([8, 16])
    w1, w2 = tf.Variable(tf.ones([16, 32])), tf.Variable(tf.ones([32, 4]))

    def train_w2_only(x):
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(tf.matmul(tf.matmul(x, w1), w2))
        w2.assign_sub(tape.gradient(loss, w2))  # w1's gradient is never asked for
        return loss  # else the second matmul's output is dead too (a sum's gradient needs no input)

    forward = 2 * 8 * 16 * 32 + 2 * 8 * 32 * 4
    w2_gradient = 2 * 32 * 8 * 4
    count = flops.function_flops(train_w2_only, tf.TensorSpec.from_tensor(x))
    np.testing.assert_allclose(count, forward + w2_gradient, rtol=0.05)


def test_nested_functions_are_refused():
    inner = tf.function(lambda x: tf.matmul(x, x))

    def fn(x):
        return tf.cond(tf.reduce_sum(x) > 0, lambda: inner(x), lambda: x)

    with pytest.raises(NotImplementedError, match="nested"):
        flops.function_flops(fn, tf.TensorSpec([4, 4]))

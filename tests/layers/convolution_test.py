"""alae_tf.layers.convolution: the resampling convs equal their two-op definitions, and the
matmul filter gradient equals TF's native one to first and second order (R1's path)."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from alae_tf.layers import EqualizedConv2D, convolution, downsample_avg_2x, upsample_nearest_2x

RNG = np.random.default_rng(0)


def tensor(*shape, dtype=tf.float64):
    return tf.constant(RNG.standard_normal(shape), dtype)


def relative(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.abs(a - b).max() / np.abs(b).max())


# name -> (op(x, kernel, path), input shape, kernel shape)
CASES = {
    "3x3": (lambda x, k, fg: convolution.conv2d(x, k, 1, fg), (2, 6, 5, 3), (3, 3, 3, 4)),
    "1x1": (lambda x, k, fg: convolution.conv2d(x, k, 1, fg), (2, 4, 4, 3), (1, 1, 3, 4)),
    "5x5": (lambda x, k, fg: convolution.conv2d(x, k, 1, fg), (2, 3, 7, 2), (5, 5, 2, 3)),
    "conv3x3_avgpool": (lambda x, k, fg: convolution.conv3x3_avgpool(x, k, fg), (2, 8, 6, 3), (3, 3, 3, 4)),
    "upsample_conv3x3": (lambda x, k, fg: convolution.upsample_conv3x3(x, k, path=fg), (2, 3, 4, 3), (3, 3, 3, 4)),
    "upsample_conv3x3 unrotated": (
        lambda x, k, fg: convolution.upsample_conv3x3(x, k, rotate=False, path=fg),
        (2, 3, 4, 3),
        (3, 3, 3, 4),
    ),
}


def test_resampling_convs_equal_their_two_op_definitions_borders_included():
    x, k = tensor(2, 6, 8, 3), tensor(3, 3, 3, 4)
    same = lambda v: tf.nn.conv2d(v, k, 1, "SAME")  # noqa: E731
    np.testing.assert_allclose(convolution.conv3x3_avgpool(x, k), downsample_avg_2x(same(x)), rtol=0, atol=1e-12)
    np.testing.assert_allclose(convolution.upsample_conv3x3(x, k), same(upsample_nearest_2x(x)), rtol=0, atol=1e-12)
    rotated = tf.nn.conv2d(upsample_nearest_2x(x), k[::-1, ::-1], 1, "SAME")
    np.testing.assert_allclose(convolution.upsample_conv3x3(x, k, rotate=False), rotated, rtol=0, atol=1e-12)


def r1_like(op, x, kernel, path):
    """The first-order input gradient, then the gradients of a penalty on it (as R1 takes)."""
    with tf.GradientTape() as outer:
        outer.watch([x, kernel])
        with tf.GradientTape() as inner:
            inner.watch(x)
            y = op(x, kernel, path)
            value = tf.reduce_sum(tf.sin(y) * y)
        dx = inner.gradient(value, x)
        penalty = tf.reduce_sum(tf.square(dx)) + tf.reduce_sum(tf.cos(y))
    return [dx] + outer.gradient(penalty, [x, kernel])


@pytest.mark.parametrize("name", sorted(CASES))
def test_matmul_filter_gradient_equals_native_to_second_order(name):
    op, x_shape, k_shape = CASES[name]
    x, kernel = tensor(*x_shape), tensor(*k_shape)
    with tf.GradientTape() as tape:
        tape.watch(kernel)
        y = op(x, kernel, "matmul")
    dy = tensor(*y.shape)
    native = (
        tf.raw_ops.Conv2DBackpropFilter(input=x, filter_sizes=k_shape, out_backprop=dy, strides=[1] * 4, padding="SAME")
        if name in ("3x3", "1x1", "5x5")
        else None
    )
    if native is not None:
        np.testing.assert_allclose(tape.gradient(y, kernel, output_gradients=dy), native, rtol=1e-12, atol=1e-12)
    want = r1_like(op, x, kernel, "native")
    for graph in (False, True):
        run = (
            tf.function(lambda: r1_like(op, x, kernel, "matmul"))
            if graph
            else (lambda: r1_like(op, x, kernel, "matmul"))
        )
        for got, ref, what in zip(run(), want, ("dx", "d penalty / dx", "d penalty / dkernel")):
            assert relative(got, ref) < 1e-12, (name, what, graph)


def op_types(fn, *args):
    return {op.type for op in tf.function(fn).get_concrete_function(*args).graph.get_operations()}


def kernel_gradient(x, kernel):
    with tf.GradientTape() as tape:
        tape.watch(kernel)
        loss = tf.reduce_sum(tf.square(convolution.conv3x3_avgpool(x, kernel)))
    return tape.gradient(loss, kernel)


def test_auto_takes_the_matmul_path_for_bfloat16_and_small_float32_maps_and_stays_accurate():
    x32, k32 = tensor(4, 16, 16, 16, dtype=tf.float32), tensor(3, 3, 16, 8, dtype=tf.float32)
    bf16 = (tf.cast(x32, tf.bfloat16), tf.cast(k32, tf.bfloat16))

    def matmul_path(*args):
        types = op_types(kernel_gradient, *args)
        assert ("Conv2DBackpropFilter" in types) != ("MatMul" in types), types
        return "MatMul" in types

    assert matmul_path(*bf16)
    assert not matmul_path(x32, k32)  # 8x8 output
    assert matmul_path(x32[:, :8, :8], k32)  # 4x4 output
    assert not matmul_path(tf.cast(x32[:, :8, :8], tf.float64), tf.cast(k32, tf.float64))
    # bfloat16 against float32 on the same (rounded) inputs: within bfloat16 rounding.
    want = kernel_gradient(tf.cast(bf16[0], tf.float32), tf.cast(bf16[1], tf.float32))
    assert relative(tf.cast(kernel_gradient(*bf16), tf.float32), want) < 2e-2


def test_unsupported_geometries_and_modes_are_refused():
    x = tensor(1, 5, 5, 2)
    with pytest.raises(ValueError, match="no matmul filter gradient"):
        convolution.conv2d(x, tensor(2, 2, 2, 3), 1, "matmul")
    with pytest.raises(ValueError, match="no matmul filter gradient"):
        convolution.conv3x3_avgpool(x, tensor(3, 3, 2, 3), "matmul")  # odd size
    with pytest.raises(ValueError, match="path"):
        convolution.conv2d(x, tensor(3, 3, 2, 3), 1, "fast")


@pytest.mark.parametrize("resample,want_hw", [("up", (12, 10)), ("down", (3, 2.5))])
def test_equalized_conv2d_resample_is_the_conv_with_upsampling_or_pooling(resample, want_hw):
    x = tensor(2, 6, 5, 3, dtype=tf.float32) if resample == "up" else tensor(2, 6, 4, 3, dtype=tf.float32)
    layer = EqualizedConv2D(4, 3, use_bias=False, resample=resample)
    plain = EqualizedConv2D(4, 3, use_bias=False)
    y = layer(x)
    plain.build(x.shape)
    plain.kernel.assign(layer.kernel)
    want = plain(upsample_nearest_2x(x)) if resample == "up" else downsample_avg_2x(plain(x))
    np.testing.assert_allclose(y, want, rtol=1e-5, atol=1e-5)
    assert layer.compute_output_shape(tuple(x.shape)) == tuple(want.shape)
    assert EqualizedConv2D.from_config(layer.get_config()).resample == resample


def test_equalized_conv2d_resample_arguments_are_checked():
    with pytest.raises(ValueError, match="resample"):
        EqualizedConv2D(4, 3, resample="sideways")
    with pytest.raises(ValueError, match="3x3"):
        EqualizedConv2D(4, 1, resample="down")
    with pytest.raises(ValueError, match="even"):
        EqualizedConv2D(4, 3, resample="down")(np.zeros((1, 5, 6, 2), np.float32))


@pytest.mark.parametrize("name", ["3x3", "upsample_conv3x3"])
def test_matmul_path_takes_a_keras_variable_kernel_in_eager_mode(name):
    op, x_shape, k_shape = CASES[name]
    x, kernel = tensor(*x_shape), keras.Variable(tensor(*k_shape))  # as the layers hold it
    grads = {}
    for path in ("matmul", "native"):
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(tf.square(op(x, kernel, path)))
        grads[path] = tape.gradient(loss, kernel)
    assert relative(grads["matmul"], grads["native"]) < 1e-12


def native_transpose(x, kernel):
    shape = [x.shape[0], 2 * x.shape[1], 2 * x.shape[2], kernel.shape[2]]
    return tf.raw_ops.Conv2DBackpropInput(
        input_sizes=shape, filter=kernel, out_backprop=x, strides=[1, 2, 2, 1], padding="SAME"
    )


# name -> (tap op, native op, input shape, kernel shape)
TAP_CASES = {
    "3x3 on 4x4": (convolution.tap_conv2d, lambda v, k: tf.nn.conv2d(v, k, 1, "SAME"), (2, 4, 4, 3), (3, 3, 3, 4)),
    "3x3 on 3x5": (convolution.tap_conv2d, lambda v, k: tf.nn.conv2d(v, k, 1, "SAME"), (2, 3, 5, 2), (3, 3, 2, 3)),
    "1x1": (convolution.tap_conv2d, lambda v, k: tf.nn.conv2d(v, k, 1, "SAME"), (2, 4, 4, 3), (1, 1, 3, 2)),
    "5x5 on 3x7": (convolution.tap_conv2d, lambda v, k: tf.nn.conv2d(v, k, 1, "SAME"), (1, 3, 7, 2), (5, 5, 2, 2)),
    "4x4 stride 2": (
        lambda v, k: convolution.tap_conv2d(v, k, 2),
        lambda v, k: tf.nn.conv2d(v, k, 2, "SAME"),
        (2, 4, 6, 3),
        (4, 4, 3, 4),
    ),
    "4x4 stride 2 transposed": (convolution.tap_conv2d_transpose, native_transpose, (2, 2, 3, 4), (4, 4, 3, 4)),
}


@pytest.mark.parametrize("name", sorted(TAP_CASES))
def test_tap_convolutions_equal_the_native_ones_to_second_order(name):
    tap, native, x_shape, k_shape = TAP_CASES[name]
    x, kernel = tensor(*x_shape), tensor(*k_shape)
    np.testing.assert_allclose(tap(x, kernel), native(x, kernel), rtol=1e-12, atol=1e-12)
    got = r1_like(lambda v, k, _: tap(v, k), x, kernel, None)
    want = r1_like(lambda v, k, _: native(v, k), x, kernel, None)
    for g, w, what in zip(got, want, ("dx", "d penalty / dx", "d penalty / dkernel")):
        assert relative(g, w) < 1e-12, what


def test_auto_runs_small_float32_maps_as_matmuls():
    x, kernel = tensor(2, 4, 4, 8, dtype=tf.float32), tensor(3, 3, 8, 8, dtype=tf.float32)
    ops = {
        "conv": lambda v, k: convolution.conv2d(v, k),
        "down": lambda v, k: convolution.conv3x3_avgpool(v, k),
        "up": lambda v, k: convolution.upsample_conv3x3(v, k),
    }
    # Small side (output of conv / down, input of up) of 4x4 / 8x8: matmuls up to 4x4, then native.
    for name, op in ops.items():
        for tiles, matmuls in ((1, True), (2, False)):
            size = 2 * tiles if name == "down" else tiles  # down's output is half its input
            types = op_types(op, tf.tile(x, (1, size, size, 1)), kernel)
            native = {"Conv2D", "Conv2DBackpropInput"} & types
            assert (not native and "MatMul" in types) == matmuls, (name, tiles, types)
            assert (bool(native) and "MatMul" not in types) == (not matmuls), (name, tiles, types)


def test_layers_take_the_matmul_paths_only_while_training_and_keras_passes_training_down():
    # FromRGB holds an EqualizedConv2D and calls it without `training`: Keras's call context passes it.
    from alae_tf.layers import FromRGB

    inner = EqualizedConv2D(8, 3)
    outer = FromRGB(8)
    x = tf.zeros((2, 4, 4, 8))
    inner(x), outer(x)  # build
    for layer in (inner, outer):
        for training, taps in ((True, True), (False, False), (None, False)):
            types = op_types(lambda v, layer=layer, training=training: layer(v, training=training), x)
            assert ("Conv2D" not in types) == taps, (layer.name, training, types)

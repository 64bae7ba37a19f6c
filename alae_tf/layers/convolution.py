"""The StyleALAE convolutions as functions, with matmul paths that run fast on CPUs.

Three things here make the StyleALAE step faster without changing its math:

1. **Resampling convolutions as one stride-2 4x4 convolution.** A 3x3
   convolution followed by 2x2 average pooling equals a stride-2 convolution
   with the 4x4 kernel `box_sum_3x3_to_4x4(k) / 4` (`conv3x3_avgpool`), and
   nearest 2x upsampling followed by a 3x3 convolution equals a stride-2
   transposed convolution with the box-summed, 180-degree rotated kernel
   (`upsample_conv3x3`). Borders included: TF "same" padding of a 4x4
   stride-2 kernel on an even size is one pixel each side, the zero padding
   of the 3x3 convolution. A 4x4 tap per low-resolution pixel instead of 9
   taps per high-resolution pixel is 2.25x fewer multiply-adds, forward and
   backward. The 3x3 kernel stays the variable (checkpoints and official
   weights are unchanged).

2. **Filter gradients as matrix multiplies.** oneDNN runs bfloat16 forward
   and input-gradient convolutions at about twice the float32 speed on AMD
   AVX512-BF16 CPUs, but its filter gradient no faster than float32
   (stride-2 ones slower still). `matmul_filter_gradient` computes
   `dk[i, j] = sum over pixels of x_shifted(i, j)^T dy` as one matmul per tap
   (stride 2: per tap of the space-to-depth input, so no strided slices):
   faster there (measured in `benchmarks/README.md`). `conv2d` and
   `conv2d_transpose` carry it as their custom gradient, each calling the
   other for the input gradient, so R1's gradient of a gradient stays on the
   fast path at every order.

3. **Small float32 maps as matmuls** (`tap_conv2d`, `tap_conv2d_transpose`):
   the whole convolution, forward included. Stride 1 skips the zero padding
   that the native kernels multiply (a third of the work of a 3x3 conv at
   4x4); stride 2 runs as four matmuls over the space-to-depth input.

`path="auto"` (the layers' choice of convolution path while training) keeps the native ops when a GPU
or TPU is visible (cuDNN, XLA). On CPUs it takes the matmul filter gradient
for bfloat16. float32 convolutions run wholly as matmuls (3.) where the
small side (the output of a convolution, the input of a transposed one) is
at most 4x4 (`FLOAT32_MATMUL_MAX_PIXELS`; on larger maps the native float32
ops are as fast or faster). float64 stays native. "native" and "matmul" force the
path (tests compare the two).
"""

import functools

import tensorflow as tf

CONV_PATHS = ("auto", "native", "matmul")


def conv_path_for(training):
    """The layers' `path`: "auto" while training, else "native".

    Inference and export graphs (SavedModel, TFLite, ONNX) keep plain
    convolutions, which their runtimes fuse and quantize as such; the matmul
    paths only pay where gradients are taken.
    """
    return "auto" if training else "native"


@functools.cache
def _accelerator_visible():
    return bool(tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("TPU"))


# float32 on CPUs runs convolutions as matmuls (`tap_conv2d`, `tap_conv2d_transpose`)
# up to this many pixels on the small side: 4x4 (on 8x8 maps the two paths are level;
# benchmarks/README.md has the measurement).
FLOAT32_MATMUL_MAX_PIXELS = 16


def _matmul_path(path, dtype, small_side):
    """Whether to use the matmul filter gradient; `small_side` is the (H, W) of the smaller map."""
    if path not in CONV_PATHS:
        raise ValueError(f"path must be one of {CONV_PATHS}, got {path!r}")
    if path != "auto":
        return path == "matmul"
    if _accelerator_visible():
        return False
    dtype = tf.as_dtype(dtype)
    if dtype == tf.bfloat16:
        return True
    height, width = small_side
    return dtype == tf.float32 and None not in (height, width) and height * width <= FLOAT32_MATMUL_MAX_PIXELS


def _check_geometry(kernel_shape, strides, spatial):
    """The geometries the matmul filter gradient covers ("same" padding)."""
    size = kernel_shape[0]
    if kernel_shape[1] != size:
        raise ValueError(f"square kernels only, got {kernel_shape}")
    if strides == 1 and size % 2 == 1:
        return
    if strides == 2 and size == 4 and all(s is not None and s % 2 == 0 for s in spatial):
        return
    raise ValueError(f"no matmul filter gradient for a {size}x{size} kernel with stride {strides} on {spatial}")


def matmul_filter_gradient(x, dy, kernel_shape, strides):
    """`d sum(conv2d(x, k) * dy) / dk` for a "same" convolution, as matmuls.

    Args:
        x: the convolution's input `[B, H, W, in]`.
        dy: the gradient at its output `[B, H / strides, W / strides, out]`.
        kernel_shape: `(size, size, in, out)`; odd size with stride 1, or
            4 with stride 2 on even H and W.
        strides: 1 or 2.

    Returns: `[size, size, in, out]` in x's dtype (each matmul accumulates in
    float32 inside oneDNN, as the native op does).
    """
    size, _, channels_in, channels_out = kernel_shape
    _check_geometry(kernel_shape, strides, x.shape[1:3])
    out_h, out_w = dy.shape[1], dy.shape[2]
    # tf.slice, not x[...], throughout: its gradient (R1 differentiates this
    # again) is a pad, where StridedSliceGrad is slow in bfloat16.
    if strides == 1:
        # Tap (i, j) pairs output pixel (h, w) with input (h + i - pad, w + j - pad):
        # only the pixels where that is inside the image contribute, so both
        # sides are cut to them instead of multiplying zero padding (a third
        # of the work for 3x3 on 4x4 maps).
        taps = []
        for _i, _j, (window_start, out_start, extent) in _valid_taps(size, out_h, out_w):
            window = tf.slice(x, (0, *window_start, 0), (-1, *extent, -1))
            grads = tf.slice(dy, (0, *out_start, 0), (-1, *extent, -1))
            taps.append(
                tf.matmul(
                    tf.reshape(window, (-1, channels_in)), tf.reshape(grads, (-1, channels_out)), transpose_a=True
                )
            )
        return tf.reshape(tf.stack(taps), kernel_shape)
    # Stride 2, 4x4, padding 1: tap (2a + di, 2b + dj) reads phase (di, dj) of
    # the padded input at offset (a, b). Space-to-depth puts the four phases
    # side by side in the channels, so each (a, b) is one contiguous slice
    # and one matmul with 4x the depth.
    rows = tf.reshape(dy, (-1, channels_out))
    blocks = {
        offset: tf.split(tf.matmul(window, rows, transpose_a=True), 4)  # (di, dj)
        for offset, window in zip(PHASE_OFFSETS, _phase_windows(x))
    }
    # Tap (p, q) = (2a + di, 2b + dj), stacked in kernel order (a split + stack, not a 6-D transpose).
    return tf.reshape(
        tf.stack([blocks[p // 2, q // 2][2 * (p % 2) + q % 2] for p in range(4) for q in range(4)]), kernel_shape
    )


def _valid_taps(size, height, width):
    """Per tap (i, j) of an odd `size` "same" stride-1 kernel on a height x width map:
    `(i, j, (input start, output start, extent))`, the rectangle of output pixels whose
    input pixel under that tap is inside the image (starts and extent as (row, column))."""
    pad = size // 2

    def valid(offset, extent):
        return max(0, -offset), min(extent, extent - offset)

    for i in range(size):
        h0, h1 = valid(i - pad, height)
        for j in range(size):
            w0, w1 = valid(j - pad, width)
            yield i, j, ((h0 + i - pad, w0 + j - pad), (h0, w0), (h1 - h0, w1 - w0))


PHASE_OFFSETS = ((0, 0), (0, 1), (1, 0), (1, 1))


def _phase_windows(x):
    """The stride-2 4x4 "same" convolution's inputs per offset (a, b) (`PHASE_OFFSETS`):
    four `[B * H/2 * W/2, 4 * in]` matrices of the one-pixel padded, space-to-depth input."""
    out_h, out_w = x.shape[1] // 2, x.shape[2] // 2
    phases = tf.nn.space_to_depth(tf.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0))), 2)
    return [
        tf.reshape(tf.slice(phases, (0, a, b, 0), (-1, out_h, out_w, -1)), (-1, 4 * x.shape[3]))
        for a, b in PHASE_OFFSETS
    ]


def _phase_kernels(kernel):
    """`[4, 4, in, out]` -> four `[4 * in, out]` blocks, one per offset (a, b) of
    the space-to-depth input: tap (2a + di, 2b + dj) sits at rows (di, dj) of block
    (a, b), in `tf.nn.space_to_depth`'s channel order."""
    # Unstack + concat, not a 6-D transpose: faster with its gradient (benchmarks/README.md).
    taps = tf.unstack(tf.reshape(kernel, (16, kernel.shape[2], kernel.shape[3])))  # tap (p, q) at 4p + q
    return [
        tf.concat([taps[4 * (2 * a + di) + 2 * b + dj] for di in range(2) for dj in range(2)], 0)
        for a, b in PHASE_OFFSETS
    ]


def _static_size(x, what):
    height, width = x.shape[1], x.shape[2]
    if height is None or width is None:
        raise ValueError(f"{what} needs a static height and width, got {tuple(x.shape)}")
    return height, width


def tap_conv2d(x, kernel, strides=1):
    """ "Same" convolution as one matmul per kernel tap on the pixels it reaches.

    `[B, H, W, in] x [k, k, in, out] -> [B, H/s, W/s, out]`: k odd with
    stride 1, or 4x4 with stride 2 on even sizes. Stride 1: each tap
    multiplies only the input pixels it pairs with an output pixel inside
    the image, so none of the zero padding is multiplied (a third of a 3x3
    convolution's work on 4x4 maps, which the native kernel does not skip).
    Stride 2: four matmuls over the space-to-depth input, as
    `matmul_filter_gradient` does. Plain slices, matmuls and pads: autodiff
    gives the input and filter gradients (and R1's second order) as matmuls
    too. Against the native float32 ops it wins on 4x4 maps, is level on 8x8
    and loses on 16x16, and gains nothing in bfloat16 (benchmarks/README.md).
    """
    size, _, channels_in, channels_out = kernel.shape
    _check_geometry(kernel.shape, strides, x.shape[1:3])
    height, width = _static_size(x, "tap_conv2d")
    if strides == 2:
        outputs = [tf.matmul(window, block) for window, block in zip(_phase_windows(x), _phase_kernels(kernel))]
        return tf.reshape(tf.add_n(outputs), (-1, height // 2, width // 2, channels_out))
    # Unstacked once: the gradient is one stack, not a strided-slice gradient per tap.
    tap_kernels = tf.unstack(tf.reshape(kernel, (size * size, channels_in, channels_out)))
    outputs = []
    for i, j, (window_start, out_start, extent) in _valid_taps(size, height, width):
        window = tf.slice(x, (0, *window_start, 0), (-1, *extent, -1))
        y = tf.matmul(tf.reshape(window, (-1, channels_in)), tap_kernels[i * size + j])
        y = tf.reshape(y, (-1, *extent, channels_out))
        outputs.append(
            tf.pad(
                y,
                (
                    (0, 0),
                    (out_start[0], height - out_start[0] - extent[0]),
                    (out_start[1], width - out_start[1] - extent[1]),
                    (0, 0),
                ),
            )
        )
    return tf.add_n(outputs)


def tap_conv2d_transpose(x, kernel):
    """The transpose of `tap_conv2d` with stride 2: `[B, h, w, out] -> [B, 2h, 2w, in]`, as matmuls.

    Each (a, b) block of the kernel maps x to the space-to-depth phases it
    read from, shifted by (a, b); depth-to-space and cutting the one-pixel
    padding give the image. Autodiff again gives matmuls for every gradient.
    """
    if tuple(kernel.shape[:2]) != (4, 4):
        raise ValueError(f"tap_conv2d_transpose: 4x4 kernels only, got {kernel.shape}")
    height, width = _static_size(x, "tap_conv2d_transpose")
    channels_in, channels_out = kernel.shape[2], kernel.shape[3]
    rows = tf.reshape(x, (-1, channels_out))
    phases = tf.add_n(
        [
            tf.pad(
                tf.reshape(tf.matmul(rows, block, transpose_b=True), (-1, height, width, 4 * channels_in)),
                ((0, 0), (a, 1 - a), (b, 1 - b), (0, 0)),
            )
            for (a, b), block in zip(PHASE_OFFSETS, _phase_kernels(kernel))
        ]
    )
    return tf.slice(tf.nn.depth_to_space(phases, 2), (0, 1, 1, 0), (-1, 2 * height, 2 * width, -1))


def _conv2d_transpose_op(x, kernel, output_shape, strides):
    return tf.raw_ops.Conv2DBackpropInput(
        input_sizes=output_shape, filter=kernel, out_backprop=x, strides=(1, strides, strides, 1), padding="SAME"
    )


def conv2d(x, kernel, strides=1, path="auto"):
    """ "Same" 2-D cross-correlation `[B, H, W, in] x [k, k, in, out] -> [B, H/s, W/s, out]` (NHWC).

    Paths (see the module docstring): native `tf.nn.conv2d`; on the matmul
    path, `tf.nn.conv2d` with `conv2d_transpose` as the input gradient and
    `matmul_filter_gradient` as the kernel's, both differentiable again; or,
    for small float32 maps under "auto", `tap_conv2d` (forward included).
    """
    small_side = [None if size is None else size // strides for size in x.shape[1:3]]
    if not _matmul_path(path, x.dtype, small_side):
        return tf.nn.conv2d(x, kernel, strides, "SAME")
    _check_geometry(kernel.shape, strides, x.shape[1:3])
    if path == "auto" and tf.as_dtype(x.dtype) == tf.float32:
        return tap_conv2d(x, kernel, strides)  # small float32 maps: forward and input gradient gain too
    kernel = tf.convert_to_tensor(kernel)  # a variable read here, outside: custom_gradient refuses variables

    @tf.custom_gradient
    def forward(x, kernel):
        def backward(dy):
            dx = conv2d_transpose(dy, kernel, tf.shape(x), strides, path="matmul")
            return dx, matmul_filter_gradient(x, dy, kernel.shape, strides)

        return tf.nn.conv2d(x, kernel, strides, "SAME"), backward

    return forward(x, kernel)


def conv2d_transpose(x, kernel, output_shape, strides=2, path="auto"):
    """The transpose (input gradient) of `conv2d`: `[B, h, w, out] -> output_shape [B, H, W, in]`.

    `kernel` is `conv2d`'s `[k, k, in, out]`. Its gradient is `conv2d` for
    the input and `matmul_filter_gradient(dz, x)` for the kernel on the matmul
    path; small float32 inputs under "auto" run as `tap_conv2d_transpose`
    (stride 2, whose output is always twice x's size: what `output_shape`
    gives for "same" padding on even sizes).
    """
    if not _matmul_path(path, x.dtype, x.shape[1:3]):
        return _conv2d_transpose_op(x, kernel, output_shape, strides)
    if path == "auto" and tf.as_dtype(x.dtype) == tf.float32 and strides == 2:
        return tap_conv2d_transpose(x, kernel)
    kernel = tf.convert_to_tensor(kernel)

    @tf.custom_gradient
    def forward(x, kernel):
        result = _conv2d_transpose_op(x, kernel, output_shape, strides)

        def backward(dz):
            dx = conv2d(dz, kernel, strides, path="matmul")
            return dx, matmul_filter_gradient(dz, x, kernel.shape, strides)

        return result, backward

    return forward(x, kernel)


def box_sum_3x3_to_4x4(kernel, rotate=False):
    """`(3, 3, a, b)` -> `(4, 4, a, b)`: the kernel summed at the four offsets of a 2x2 box.

    A stride-2 convolution with the result / 4 equals a 3x3 convolution
    followed by 2x2 average pooling (the StyleGAN/ALAE "fused scale" trick).
    `rotate` box-sums the 180-degree rotated kernel. Built from pads and
    adds, whose gradients are contiguous slices: cheap in R1's second-order
    pass, where strided slices of the kernel (StridedSliceGrad) or an einsum
    cost more than the convolution they feed in bfloat16.
    """
    if rotate:
        kernel = tf.reverse(kernel, (0, 1))
    rows = tf.pad(kernel, ((1, 0), (0, 0), (0, 0), (0, 0))) + tf.pad(kernel, ((0, 1), (0, 0), (0, 0), (0, 0)))
    return tf.pad(rows, ((0, 0), (1, 0), (0, 0), (0, 0))) + tf.pad(rows, ((0, 0), (0, 1), (0, 0), (0, 0)))


def conv3x3_avgpool(x, kernel, path="auto"):
    """3x3 "same" convolution then 2x2 average pooling, as one stride-2 4x4 convolution.

    Shapes: `[B, H, W, in] x [3, 3, in, out]` -> `[B, H/2, W/2, out]`, H and W even.
    """
    kernel_4x4 = box_sum_3x3_to_4x4(kernel) * tf.constant(0.25, kernel.dtype)
    return conv2d(x, kernel_4x4, strides=2, path=path)


def upsample_conv3x3(x, kernel, rotate=True, path="auto"):
    """Nearest 2x upsampling then a 3x3 "same" convolution, as one stride-2 transposed convolution.

    Upsampled pixel `2i + a` sees input rows `i - 1 + a .. i + a` through
    sums of the 3x3 taps: the 180-degree rotated kernel, box-summed to 4x4,
    is the kernel of the stride-2 convolution whose transpose this is.
    `rotate=False` box-sums the kernel as it is, as the official fused
    upsampling conv does: nearest 2x then a conv with the rotated kernel.

    Shapes: `[B, H, W, in] x [3, 3, in, out]` -> `[B, 2H, 2W, out]`.
    """
    transposed = tf.transpose(box_sum_3x3_to_4x4(kernel, rotate=rotate), (0, 1, 3, 2))
    shape = tf.shape(x)
    output_shape = tf.stack([shape[0], 2 * shape[1], 2 * shape[2], kernel.shape[-1]])
    return conv2d_transpose(x, transposed, output_shape, strides=2, path=path)

"""Stateless tensor helpers shared by the StyleALAE layers and nets (NHWC).

They are plain functions of tensors (no variables), written with ops that
TFLite lowers to builtins and that TF can differentiate twice (R1 takes a
gradient of a gradient through the encoder):

- nearest 2x upsampling is a reshape + tile, not `UpSampling2D` (which breaks
  TFLite conversion when chained) and not `tf.image.resize` (whose gradient
  is missing or wrong for second-order use);
- 2x downsampling is 2x2 average pooling (== the official `avg_pool2d(x, 2)`).
"""

from keras import ops


def at_least_float32(x):
    """Half-precision values widened to float32; float32/float64 pass unchanged.

    Used where mixed-precision values leave the fast path: net outputs, loss
    terms, statistics. Wider types pass so float64 parity checks stay float64.
    """
    x = ops.convert_to_tensor(x)
    return ops.cast(x, "float32") if x.dtype in ("bfloat16", "float16") else x


def upsample_nearest_2x(x):
    """Nearest-neighbour 2x upsampling: `[B, H, W, C]` -> `[B, 2H, 2W, C]`.

    Every pixel becomes a 2x2 block, exactly like nearest `interpolate` to
    twice the size.
    """
    shape = ops.shape(x)
    height, width, channels = shape[1], shape[2], shape[3]
    x = ops.reshape(x, (-1, height, 1, width, 1, channels))
    x = ops.tile(x, (1, 1, 2, 1, 2, 1))
    return ops.reshape(x, (-1, height * 2, width * 2, channels))


def downsample_avg_2x(x):
    """2x2 average pooling with stride 2: `[B, H, W, C]` -> `[B, H/2, W/2, C]`."""
    return ops.average_pool(x, pool_size=2, strides=2, padding="valid")


def spatial_moments(x):
    """Per-sample, per-channel mean and (biased) variance over H and W.

    The variance is the mean of squared deviations (not `E[x^2] - E[x]^2`,
    which loses precision when the mean is large), and both means are taken
    over H and then over W (see `_spatial_mean`).

    Half-precision input is widened first: a float16 variance underflows (and the
    1e-8 epsilons added to it round to 0 in float16), so a flat channel gives inf.

    Returns:
        `(mean, variance)`, both `[B, 1, 1, C]`, float32 for half-precision `x`.
    """
    x = at_least_float32(x)
    mean = _spatial_mean(x)
    variance = _spatial_mean(ops.square(x - mean))
    return mean, variance


def _spatial_mean(x):
    # Two short reductions (over H, then over W) instead of one over H*W:
    # TF sums a non-innermost axis sequentially, so one reduction over the
    # 16k pixels of a 128 px map loses about 1e-5 relative in float32 (10x
    # the official code's error on the parity fixtures); two 128-long sums
    # lose about 1e-7. Same result in exact arithmetic.
    return ops.mean(ops.mean(x, axis=1, keepdims=True), axis=2, keepdims=True)


def instance_norm(x, epsilon):
    """Instance normalisation without affine parameters (torch `InstanceNorm2d`).

    `(x - mean) / sqrt(var + epsilon)` per sample and channel over H, W, with
    the biased variance. The official generator uses epsilon 1e-8, the
    encoder torch's default 1e-5.

    Computed in float32 for half-precision `x` (as Keras' normalization layers
    do): in float16 the generator's epsilon 1e-8 is 0, and the constant input
    of block 0 (all ones at initialisation) has variance 0, so rsqrt gives inf
    and every step's loss is NaN. The result has `x`'s dtype.

    Shapes: `[B, H, W, C]` -> `[B, H, W, C]`.
    """
    dtype = ops.convert_to_tensor(x).dtype
    x = at_least_float32(x)
    mean, variance = spatial_moments(x)
    return ops.cast((x - mean) * ops.rsqrt(variance + epsilon), dtype)


def lerp(start, end, weight):
    """`start + weight * (end - start)` (torch.lerp): `weight` 1 gives `end`."""
    return start + (end - start) * weight


def downsample_avg_to(x, resolution):
    """Halve `[B, H, W, C]` by 2x2 average pooling until it is `resolution` px high.

    Repeated 2x2 pooling (not one big pool, not a resize op) keeps every level
    equal to the 2x2 average of the level above, as the official per-level
    datasets are, and stays differentiable twice. `H` must be `resolution`
    times a power of two.
    """
    height = x.shape[1]
    if height is None or height % resolution or (height // resolution) & (height // resolution - 1):
        raise ValueError(f"cannot pool images of height {height} to {resolution} px by halving")
    while height > resolution:
        x = downsample_avg_2x(x)
        height //= 2
    return x


def fade_in_real_images(x, blend):
    """Real images during a fade-in: `x * blend + up(avgpool(x)) * (1 - blend)`.

    What the encoder sees of a real batch while a new level fades in: the
    new resolution mixed with the previous one (2x2 average pool, then
    nearest 2x repeat, both fine under R1's second-order gradient).
    `blend`: a Python float (1.0 returns `x` itself) or a scalar tensor.
    """
    if isinstance(blend, float) and blend == 1.0:
        return x
    lower = upsample_nearest_2x(downsample_avg_2x(x))
    return x * blend + lower * (1.0 - blend)

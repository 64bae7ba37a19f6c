"""Editing real images with an `ALAE`: encode, move in w, decode; batched TensorFlow, both kinds of nets.

Images are float `[B, H, W, C]` at the model's current resolution, in its training pixel range
(`alae_tf.data.to_pixel_range(uint8, config.pixel_range)`; `Run.load_split` already pools a
dataset to the nets' level). Codes w are `[B, latent]`. G's input ("styles") is w itself for
MLP nets and `[B, 2 * layer_count, latent]` (one w per style layer) for style nets; per-layer
edits and style mixing change rows of that tensor, so they need style nets.

Every operation uses the EMA nets unless `use_ema=False`. The style generator adds per-pixel
noise: operations draw it from `noise_seed` (default `DEFAULT_NOISE_SEED`), so an edit at
strength 0 is exactly the reconstruction and every frame of a traversal or interpolation shares
one noise; `noise_seed=None` draws fresh noise. MLP nets have no noise.

Shapes and layer choices are checked in Python from static shapes, and everything else is
TensorFlow ops, so `move`, `edited_styles`, `mixed_styles`, `decode_styles`, `edit`, `style_mix`,
`interpolate` and `traversal` can be traced into a `tf.function` (with Python `layers`, `cutoff`
and `steps`). `refine` runs eagerly.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import tensorflow as tf

from alae_tf import image_grids
from alae_tf.editing.checks import check_int
from alae_tf.editing.directions import Direction, direction_matrix
from alae_tf.editing.errors import EditingError
from alae_tf.editing.style_layers import num_style_layers, style_layer_range

DEFAULT_NOISE_SEED = (0, 0)

Directions = Direction | Sequence[Direction] | np.ndarray | tf.Tensor
Layers = str | tuple[int, int] | None


def image_shape(model) -> tuple[int, int, int]:
    """`(r, r, C)`: the images the model reads and draws at its level."""
    generator = model.generator
    channels = generator.channels if model.is_style else generator.image_shape[2]
    return (int(model.resolution), int(model.resolution), int(channels))


def _images(model, images, what: str) -> tf.Tensor:
    x = tf.convert_to_tensor(images)
    if x.dtype == tf.uint8:
        raise EditingError(
            f"{what}: images must be floats in the model's pixel range; convert uint8 images with "
            "alae_tf.data.to_pixel_range(images, config.pixel_range)"
        )
    if not x.dtype.is_floating:
        raise EditingError(f"{what}: images must be floats [B, H, W, C], got {x.dtype.name}")
    want = image_shape(model)
    if x.shape.rank != 4 or any(got is not None and got != w for got, w in zip(x.shape[1:], want)):
        raise EditingError(
            f"{what}: images must be [B, {want[0]}, {want[1]}, {want[2]}] (the model at level {model.level}), "
            f"got {tuple(x.shape)}; pool full-size images with model.at_current_resolution"
        )
    return tf.cast(x, tf.float32)


def _codes(model, w, what: str) -> tf.Tensor:
    w = tf.cast(tf.convert_to_tensor(w), tf.float32)
    latent = int(model.dlatent_size)
    if w.shape.rank != 2 or w.shape[1] not in (None, latent):
        raise EditingError(f"{what}: codes must be [B, {latent}], got {tuple(w.shape)}")
    return w


def _directions(directions: Directions, latent: int | None, what: str) -> tf.Tensor:
    """`[K, latent]` float32 (`latent` None: any size)."""
    if tf.is_tensor(directions):
        matrix = tf.cast(directions, tf.float32)
        if matrix.shape.rank == 1:
            matrix = matrix[None]
    else:
        matrix = tf.constant(direction_matrix(directions))
    if matrix.shape.rank != 2 or (latent is not None and matrix.shape[1] not in (None, latent)):
        raise EditingError(f"{what}: directions must be [K, {latent}] (this model's w), got {tuple(matrix.shape)}")
    return matrix


def _strengths(strengths, count: tf.Tensor, batch: int | None, what: str) -> tf.Tensor:
    """`[1 or B, K]` float32 from a scalar, `[K]` or `[B, K]`."""
    s = tf.cast(tf.convert_to_tensor(strengths), tf.float32)
    rank = s.shape.rank
    if rank == 0:
        return tf.broadcast_to(s, tf.stack([1, count]))
    if rank == 1:
        s = s[None]
    elif rank != 2:
        raise EditingError(f"{what}: strengths must be a number, [K] or [B, K], got shape {tuple(s.shape)}")
    if batch is not None and s.shape[0] not in (None, 1, batch):
        raise EditingError(f"{what}: strengths have {s.shape[0]} rows for a batch of {batch}")
    return s


def move(w, directions: Directions, strengths) -> tf.Tensor:
    """`w + strengths @ directions`: codes moved along K directions.

    Args:
        w: codes `[B, latent]`.
        directions: a `Direction`, a sequence of them, or an array `[latent]` / `[K, latent]`.
        strengths: a number (every direction, every code), `[K]` (per direction, every code) or `[B, K]`.
    Returns:
        `[B, latent]` float32; strength 0 returns w unchanged.
    """
    w = tf.cast(tf.convert_to_tensor(w), tf.float32)
    if w.shape.rank != 2:
        raise EditingError(f"move: codes must be [B, latent], got {tuple(w.shape)}")
    matrix = _directions(directions, w.shape[1], "move")
    s = _strengths(strengths, tf.shape(matrix)[0], w.shape[0], "move")
    if s.shape[1] is not None and matrix.shape[0] is not None and s.shape[1] != matrix.shape[0]:
        raise EditingError(f"move: {s.shape[1]} strengths per code for {matrix.shape[0]} directions")
    return w + tf.matmul(s, matrix)


def styles_from_w(model, w) -> tf.Tensor:
    """G's input from w `[B, latent]`: w itself (MLP nets) or w repeated per style layer `[B, 2L, latent]`."""
    w = _codes(model, w, "styles_from_w")
    if not model.is_style:
        return w
    return tf.repeat(w[:, None], num_style_layers(model), axis=1)


def edited_styles(model, w, directions: Directions, strengths, layers: Layers = None) -> tf.Tensor:
    """G's input for codes w moved along `directions` (see `move`), over `layers` only.

    Args:
        model: an `ALAE`.
        w: codes `[B, latent]`.
        directions, strengths: as in `move`.
        layers: None (every layer: w itself moves), or, for style nets, "coarse", "middle", "fine" or a
            range `(start, end)` of style inputs (`style_layers.style_layer_range`): only those styles
            move, the others stay w.
    Returns:
        `[B, latent]` (MLP nets) or `[B, 2 * layer_count, latent]` (style nets).
    Raises:
        EditingError: `layers` for MLP nets, an empty group or a range out of bounds, bad shapes.
    """
    span = style_layer_range(model, layers, "edit")
    w = _codes(model, w, "edit")
    if span is None:
        return styles_from_w(model, move(w, directions, strengths))
    delta = move(tf.zeros_like(w), directions, strengths)
    inside = np.zeros(num_style_layers(model), np.float32)
    inside[span[0] : span[1]] = 1.0
    return styles_from_w(model, w) + tf.constant(inside)[None, :, None] * delta[:, None, :]


def mixed_styles(model, w_a, w_b, cutoff: int) -> tf.Tensor:
    """Styles `[B, 2L, latent]`: w_a for style inputs below `cutoff`, w_b from `cutoff` on (style nets only).

    Raises:
        EditingError: MLP nets, or `cutoff` not an int in `[0, 2 * layer_count]`.
    """
    total = num_style_layers(model)  # raises for MLP nets
    check_int(cutoff, "style_mix: cutoff", 0, total, "(style inputs)")
    first = tf.range(total)[None, :, None] < int(cutoff)
    return tf.where(first, styles_from_w(model, w_a), styles_from_w(model, w_b))


def _seed(noise_seed):
    return None if noise_seed is None else tf.convert_to_tensor(noise_seed)


def decode_styles(model, styles, use_ema: bool = True, noise_seed=DEFAULT_NOISE_SEED) -> tf.Tensor:
    """Images `[B, H, W, C]` from G's input (`styles_from_w`, `edited_styles`, `mixed_styles`)."""
    return model.synthesize(model.nets(use_ema)[1], styles, noise_seed=_seed(noise_seed))


def encode(model, images, use_ema: bool = True) -> tf.Tensor:
    """Codes w `[B, latent]` float32 of images `[B, H, W, C]` (float, model's pixel range and resolution)."""
    return model.encode(_images(model, images, "encode"), use_ema=use_ema)


def edit(
    model,
    images,
    directions: Directions,
    strengths,
    layers: Layers = None,
    use_ema: bool = True,
    noise_seed=DEFAULT_NOISE_SEED,
) -> tf.Tensor:
    """Images moved along directions: `G(E(x) + strengths @ directions)`, over `layers` for style nets.

    Args:
        model: an `ALAE`.
        images: float `[B, H, W, C]`.
        directions, strengths: as in `move` (`[latent]` / `[K, latent]`; a number, `[K]` or `[B, K]`).
        layers: as in `edited_styles` (None: every layer; MLP nets take only None).
        use_ema, noise_seed: see the module docstring.
    Returns:
        Edited images `[B, H, W, C]`; at strength 0, the reconstructions `G(E(x))` with the same noise.
    """
    w = encode(model, images, use_ema)
    return decode_styles(model, edited_styles(model, w, directions, strengths, layers), use_ema, noise_seed)


def style_mix(model, images_a, images_b, cutoff: int, use_ema: bool = True, noise_seed=DEFAULT_NOISE_SEED) -> tf.Tensor:
    """Images `[B, H, W, C]` with A's styles below `cutoff` and B's from `cutoff` on (style nets only).

    Cutoff 0 gives B's reconstructions, `2 * layer_count` (all layers) A's; cutoff 4 takes the coarse
    styles (4-8 px: pose, shape) from A and the rest from B. `images_a` and `images_b` pair row by row.

    Raises:
        EditingError: MLP nets, a bad cutoff, or batches of different sizes.
    """
    num_style_layers(model)  # MLP nets: an error before any encoding
    a, b = _images(model, images_a, "style_mix"), _images(model, images_b, "style_mix")
    if None not in (a.shape[0], b.shape[0]) and a.shape[0] != b.shape[0]:
        raise EditingError(f"style_mix: {a.shape[0]} images A but {b.shape[0]} images B; they pair row by row")
    styles = mixed_styles(model, encode(model, a, use_ema), encode(model, b, use_ema), cutoff)
    return decode_styles(model, styles, use_ema, noise_seed)


def interpolate(
    model, images_a, images_b, steps: int, use_ema: bool = True, noise_seed=DEFAULT_NOISE_SEED
) -> tf.Tensor:
    """Frames `[B, steps, H, W, C]` decoded from `(1 - t) w_a + t w_b`, t evenly from 0 to 1.

    The first frame is A's reconstruction, the last B's; every frame of a row shares its noise.
    """
    steps = check_int(steps, "interpolate: steps", 2)
    a, b = _images(model, images_a, "interpolate"), _images(model, images_b, "interpolate")
    if None not in (a.shape[0], b.shape[0]) and a.shape[0] != b.shape[0]:
        raise EditingError(f"interpolate: {a.shape[0]} images A but {b.shape[0]} images B; they pair row by row")
    w_a, w_b = encode(model, a, use_ema), encode(model, b, use_ema)
    # (1 - t) a + t b, not a + t (b - a): only this form gives b exactly at t = 1.
    frames = [
        decode_styles(model, styles_from_w(model, (1.0 - t) * w_a + t * w_b), use_ema, noise_seed)
        for t in np.linspace(0.0, 1.0, steps).tolist()
    ]
    return tf.stack(frames, axis=1)


def traversal(
    model,
    images,
    direction: Direction | np.ndarray | tf.Tensor,
    strengths,
    layers: Layers = None,
    use_ema: bool = True,
    noise_seed=DEFAULT_NOISE_SEED,
) -> tf.Tensor:
    """Frames `[B, S, H, W, C]`: each image edited along one direction at each of `strengths` `[S]`.

    Args:
        direction: one `Direction` or vector `[latent]`.
        strengths: `[S]` numbers (S known when traced), e.g. `np.linspace(-2, 2, 5)`.
        layers, use_ema, noise_seed: as in `edit`.
    """
    matrix = _directions(direction, int(model.dlatent_size), "traversal")
    if matrix.shape[0] != 1:
        raise EditingError(f"traversal: takes one direction, got {matrix.shape[0]}")
    strengths = tf.cast(tf.convert_to_tensor(strengths), tf.float32)
    if strengths.shape.rank != 1 or strengths.shape[0] in (None, 0):
        raise EditingError(f"traversal: strengths must be [S] with S >= 1 known, got shape {tuple(strengths.shape)}")
    style_layer_range(model, layers, "traversal")  # a bad range fails before the encoder runs
    w = encode(model, images, use_ema)
    frames = [
        decode_styles(model, edited_styles(model, w, matrix, strengths[k], layers), use_ema, noise_seed)
        for k in range(strengths.shape[0])
    ]
    return tf.stack(frames, axis=1)


def refine(
    model,
    images,
    w_init=None,
    steps: int = 20,
    learning_rate: float = 0.01,
    use_ema: bool = True,
    noise_seed=DEFAULT_NOISE_SEED,
) -> tuple[tf.Tensor, np.ndarray]:
    """Codes fitted to the images: minimize `mean((G(w) - x)^2)` per image with Adam, from `E(x)`.

    ALAE's encoder gives w in one pass; a few optimizer steps on the pixel error can make the
    reconstruction closer, at the price of codes that may leave the region E maps to (edits found on
    E's codes may then act less cleanly). Off unless asked for. Each image's code moves on its own
    error only (Adam per coordinate, beta1 0.9, beta2 0.999), with the noise fixed by `noise_seed`.

    Args:
        images: float `[B, H, W, C]`.
        w_init: codes `[B, latent]` to start from (default `E(x)`).
        steps: Adam steps (0 returns `w_init` and its loss).
        learning_rate: Adam's step size in w.
    Returns:
        `(w [B, latent], losses [steps + 1, B])`: the refined codes and each image's pixel MSE before
        step 1 (row 0) and after every step.
    """
    steps = check_int(steps, "refine: steps", 0)
    if not float(learning_rate) > 0:
        raise EditingError(f"refine: learning_rate must be > 0, got {learning_rate}")
    x = _images(model, images, "refine")
    w = encode(model, x, use_ema) if w_init is None else _codes(model, w_init, "refine: w_init")
    if None not in (w.shape[0], x.shape[0]) and w.shape[0] != x.shape[0]:
        raise EditingError(f"refine: {w.shape[0]} codes for {x.shape[0]} images")

    def per_image_loss(w):
        images = decode_styles(model, styles_from_w(model, w), use_ema, noise_seed)
        return tf.reduce_mean(tf.square(images - x), axis=[1, 2, 3])

    # Adam by hand, stateless: no optimizer variables to create, reset or checkpoint.
    beta_1, beta_2, epsilon = 0.9, 0.999, 1e-8
    m, v = tf.zeros_like(w), tf.zeros_like(w)
    losses = []
    for step in range(1, steps + 1):
        with tf.GradientTape() as tape:
            tape.watch(w)
            loss = per_image_loss(w)
            total = tf.reduce_sum(loss)  # a sum, so each code's gradient is its own image's
        losses.append(loss.numpy())
        gradient = tape.gradient(total, w)
        m = beta_1 * m + (1.0 - beta_1) * gradient
        v = beta_2 * v + (1.0 - beta_2) * tf.square(gradient)
        m_hat, v_hat = m / (1.0 - beta_1**step), v / (1.0 - beta_2**step)
        w = w - learning_rate * m_hat / (tf.sqrt(v_hat) + epsilon)
    losses.append(per_image_loss(w).numpy())
    return w, np.stack(losses).astype(np.float32)


def grid(images, pixel_range: Sequence[float] | None = None, pad: int = 1, zoom: int = 1) -> np.ndarray:
    """One uint8 picture `[R*(H+pad)+pad, C*(W+pad)+pad, ch]` (times `zoom`) of images `[R, C, H, W, ch]`.

    Args:
        images: uint8, or floats in `pixel_range` (clipped), e.g. `traversal`'s `[B, S, ...]` output.
        pixel_range: needed for float images (the run's `config.pixel_range`).
        pad: white pixels between images.
        zoom: nearest-neighbour enlargement of the whole picture (`images.tile_zoom(H)` makes
            small tiles visible).
    """
    images = np.asarray(images)
    if images.ndim != 5:
        raise EditingError(f"grid: images must be [rows, columns, H, W, C], got shape {images.shape}")
    if images.dtype != np.uint8:
        if pixel_range is None:
            raise EditingError("grid: float images need their pixel_range (the run's config.pixel_range)")
        images = image_grids.to_uint8(images, pixel_range)
    rows, columns = images.shape[:2]
    picture = image_grids.grid(images.reshape((rows * columns,) + images.shape[2:]), columns=columns, pad=pad)
    return image_grids.zoom(picture, int(zoom))

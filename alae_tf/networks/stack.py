"""Helpers shared by the nets: shape checks at boundaries (fail at trace time
with a message, not deep inside a matmul) and eager building."""


def check_last_dim(x, expected, what):
    """Raise ValueError if the static last dimension of `x` is known and differs."""
    got = x.shape[-1]
    if got is not None and int(got) != int(expected):
        raise ValueError(f"{what}: expected last dimension {expected}, got shape {tuple(x.shape)}")


def check_image(x, image_shape, what):
    """Raise ValueError unless `x` is [batch, *image_shape] (static dims only)."""
    got = tuple(x.shape[1:])
    if len(x.shape) != 1 + len(image_shape) or any(
        g is not None and int(g) != int(e) for g, e in zip(got, image_shape)
    ):
        raise ValueError(
            f"{what}: expected images of shape [batch, {', '.join(map(str, image_shape))}], got {tuple(x.shape)}"
        )


def build_stack(layers, input_shape):
    """Build `layers` in sequence from `input_shape`; returns the output shape.

    The nets build eagerly in their constructors so that optimizers, EMA
    copies and checkpoints see every variable before the first step.
    """
    shape = tuple(input_shape)
    for layer in layers:
        layer.build(shape)
        shape = tuple(layer.compute_output_shape(shape))
    return shape


def apply_stack(layers, x):
    """Run `x` through `layers` in order."""
    for layer in layers:
        x = layer(x)
    return x

"""What every feature network shares: the error users see, and the scale images are read on."""


class FeatureError(ValueError):
    """A user-facing problem with a feature network file; the message says how to fix it."""


def to_unit(images, pixel_range):
    """Float images in `pixel_range` -> [0, 1], clipped (generated images may overshoot)."""
    import tensorflow as tf

    lo, hi = (float(v) for v in pixel_range)
    return tf.clip_by_value((tf.cast(images, tf.float32) - lo) / (hi - lo), 0.0, 1.0)

"""TensorBoard event files written the way `alae_tf.monitor` writes them, for the report's tests."""

import numpy as np
import tensorflow as tf


def write_scalars(logdir, points):
    """Log `points` (`[(step, {tag: value})]`) as scalars into `logdir`, then one image summary (not a curve)."""
    writer = tf.summary.create_file_writer(str(logdir))
    with writer.as_default():
        for step, values in points:
            for tag, value in values.items():
                tf.summary.scalar(tag, value, step=step)
        tf.summary.image("samples", np.zeros((1, 4, 4, 1), np.uint8), step=points[-1][0])
    writer.close()

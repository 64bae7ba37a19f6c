"""The encoder's style read-out: per-channel mean and standard deviation."""

import keras
from keras import ops

from alae_tf.layers.functional import spatial_moments


@keras.saving.register_keras_serializable(package="alae_tf")
class StyleStatistics(keras.layers.Layer):
    """`concat([mean, std], -1)` over H and W, per sample and channel.

    These are exactly the statistics an instance norm removes; the ALAE
    encoder maps them to its style vectors. The order (all means, then all
    stds) matches the official `torch.cat((m, std), dim=1)`. The official std
    has no epsilon, whose gradient is infinite for a constant channel; this
    one is `sqrt(var + epsilon)`, which changes the fixtures' values by less
    than 1e-7 relative.

    Args:
        epsilon: added to the variance under the square root.

    Shapes: `[B, H, W, C]` -> `[B, 2C]`, NHWC.
    """

    def __init__(self, epsilon=1e-8, **kwargs):
        super().__init__(**kwargs)
        self.epsilon = float(epsilon)

    def call(self, x):
        # float32 statistics for half-precision x (spatial_moments): in float16 the epsilon is 0
        # and a flat channel's std would have an infinite gradient.
        mean, variance = spatial_moments(x)
        std = ops.sqrt(variance + self.epsilon)
        styles = ops.concatenate([ops.squeeze(mean, axis=(1, 2)), ops.squeeze(std, axis=(1, 2))], axis=-1)
        return ops.cast(styles, x.dtype)

    def compute_output_shape(self, input_shape):
        channels = input_shape[-1]
        return (input_shape[0], None if channels is None else 2 * channels)

    def get_config(self):
        config = super().get_config()
        config.update(epsilon=self.epsilon)
        return config

"""The generator's learned constant input."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="alae_tf")
class LearnedConstant(keras.layers.Layer):
    """A learned `[1, size, size, channels]` tensor (init ones), repeated over the batch.

    The input is used only for its batch size (the generator passes its
    styles). The constant is a plain parameter (no equalized lr).

    Args:
        channels: feature channels.
        size: spatial size (4).

    Shapes: `[B, ...]` -> `[B, size, size, channels]`, NHWC.
    """

    def __init__(self, channels, size=4, **kwargs):
        super().__init__(**kwargs)
        self.channels = int(channels)
        self.size = int(size)

    def build(self, input_shape=None):
        self.const = self.add_weight(name="const", shape=(1, self.size, self.size, self.channels), initializer="ones")

    def call(self, inputs):
        batch = ops.shape(inputs)[0]
        return ops.tile(self.const, (batch, 1, 1, 1))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.size, self.size, self.channels)

    def get_config(self):
        config = super().get_config()
        config.update(channels=self.channels, size=self.size)
        return config

"""Inception-v3 pool features, when the user supplies its ImageNet weights (nothing is downloaded)."""

import pathlib

import numpy as np

from alae_tf.features.base import FeatureError, to_unit

INCEPTION_SIZE = 299


class InceptionFeatures:
    """Inception-v3 pool features (`[N, 2048]`) from a user-supplied ImageNet weights file.

    Images are mapped to [0, 1], grey ones repeated to RGB, resized (bilinear) to 299x299
    and scaled to [-1, 1] as `keras.applications.inception_v3.preprocess_input` does.

    Args:
        weights_path: an Inception-v3 `include_top=False` weights file (.h5), e.g. Keras'
            `inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5`.
    Raises:
        FeatureError: the file is missing or is not such a weights file.
    """

    name = "inception"

    def __init__(self, weights_path):
        import keras

        path = pathlib.Path(weights_path)
        self.source = str(path)
        if not path.is_file():
            raise FeatureError(
                f"Inception-v3 weights file {path} not found; pass the notop .h5 file "
                f"(inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5)"
            )
        try:
            self._model = keras.applications.InceptionV3(
                weights=str(path), include_top=False, pooling="avg", input_shape=(INCEPTION_SIZE, INCEPTION_SIZE, 3)
            )
        except Exception as e:  # h5py/ValueError on a file that is not these weights.
            raise FeatureError(
                f"cannot load Inception-v3 weights from {path} ({type(e).__name__}: {e}); it must "
                f"be the include_top=False .h5 file"
            ) from e

    def __call__(self, images, pixel_range):
        """`[N, H, W, C]` float images in `pixel_range`, C in {1, 3} -> `[N, 2048]` float32 numpy."""
        import tensorflow as tf

        x = to_unit(images, pixel_range)
        if x.shape[-1] == 1:
            x = tf.repeat(x, 3, axis=-1)
        x = tf.image.resize(x, (INCEPTION_SIZE, INCEPTION_SIZE), method="bilinear")
        return np.asarray(self._model(2.0 * x - 1.0, training=False), np.float32)

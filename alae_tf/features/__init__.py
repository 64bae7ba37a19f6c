r"""Feature networks for the distribution metrics (FD, KID) and perceptual path length.

Two kinds, one interface: a callable `extractor(images, pixel_range) -> features [N, d]`
taking float images `[N, H, W, C]` in `pixel_range`, with a `name` that the metrics put in
their result keys (`fd_fmnist_classifier`, `fd_inception`) so nobody mistakes one for the
other.

- `ClassifierFeatures`: the penultimate layer of a small conv classifier the project trains
  on the dataset itself (Inception weights cannot be downloaded here):

      python -m alae_tf.features --dataset=fashion_mnist --output=fmnist_classifier.keras

  `load_feature_extractor(path)` loads it back. The binary that trains one is `__main__.py`.
- `InceptionFeatures`: the 2048-d pool features of Inception-v3, when the user supplies its
  ImageNet weights file (`include_top=False` .h5).
"""

import pathlib
import re
import tempfile

import numpy as np

from alae_tf import atomic

FEATURE_LAYER = "features"
LOGITS_LAYER = "logits"
INCEPTION_SIZE = 299


class FeatureError(ValueError):
    """A user-facing problem with a feature network file; the message says how to fix it."""


def feature_name(dataset):
    """The features' name for a classifier trained on `dataset` (a `--dataset` spec).

    "fashion_mnist" -> "fmnist_classifier"; otherwise `<dataset>_classifier`, where the
    dataset is the spec's last path part ("tfds:mnist" -> "mnist", "folder:/d/faces" ->
    "faces"), lower-cased to [a-z0-9_] so it is a valid metric key and Keras model name.
    """
    if dataset == "fashion_mnist":
        return "fmnist_classifier"
    kind, _, arg = dataset.partition(":")
    base = pathlib.PurePath(arg.replace("{split}", "")).name if arg else kind
    base = re.sub(r"[^a-z0-9]+", "_", (base or kind).lower()).strip("_") or "dataset"
    return f"{base}_classifier"


def build_classifier(input_shape, num_classes, name):
    """A small conv classifier: images `[B, H, W, C]` in [0, 1] -> logits `[B, num_classes]`.

    Two conv/pool stages and a 128-unit dense layer named "features" (the feature space):
    small enough to train to ~0.90 on Fashion-MNIST in two epochs on two CPU cores.
    """
    import keras

    inputs = keras.Input(tuple(input_shape), name="images")
    x = keras.layers.Conv2D(32, 3, padding="same", activation="relu")(inputs)
    x = keras.layers.MaxPooling2D()(x)
    x = keras.layers.Conv2D(64, 3, padding="same", activation="relu")(x)
    x = keras.layers.MaxPooling2D()(x)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dense(128, activation="relu", name=FEATURE_LAYER)(x)
    outputs = keras.layers.Dense(num_classes, name=LOGITS_LAYER)(x)
    return keras.Model(inputs, outputs, name=name)


def train_classifier(train_set, test_set, name, epochs=2, batch_size=128, seed=0, verbose=1):
    """Train `build_classifier` on an `ImageSet`'s labels; returns `(model, test_accuracy)`.

    Args:
        train_set, test_set: `alae_tf.data.ImageSet`s with labels (uint8 `[N, H, W, C]`).
        name: the features' name (see `feature_name`), stored as the model's name.
    """
    import keras

    for s in (train_set, test_set):
        if s.labels is None:
            raise FeatureError(f"{s.name} has no labels: a feature classifier needs a labelled dataset")
    keras.utils.set_random_seed(seed)
    num_classes = int(max(train_set.labels.max(), test_set.labels.max())) + 1
    model = build_classifier(train_set.images.shape[1:], num_classes, name)
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    model.fit(
        _unit_scale(train_set.images),
        train_set.labels,
        batch_size=batch_size,
        epochs=epochs,
        shuffle=True,
        verbose=verbose,
    )
    _, accuracy = model.evaluate(_unit_scale(test_set.images), test_set.labels, batch_size=500, verbose=0)
    return model, float(accuracy)


def save_classifier(model, path):
    """Save `model` to `path` (.keras) atomically: a reader never sees a half-written file."""
    path = pathlib.Path(path)
    if path.suffix != ".keras":
        raise FeatureError(f"the classifier is saved as a .keras file; got {path}")
    # Keras writes only to a path ending in .keras; write it in a private folder, then move
    # its bytes into place through atomic.write_bytes (temp file in the target folder + rename).
    with tempfile.TemporaryDirectory() as tmp:
        staged = pathlib.Path(tmp) / path.name
        model.save(staged)
        atomic.write_bytes(path, staged.read_bytes())


def _unit_scale(images_uint8):
    return images_uint8.astype(np.float32) / 255.0


def _to_unit(images, pixel_range):
    """Float images in `pixel_range` -> [0, 1], clipped (generated images may overshoot)."""
    import tensorflow as tf

    lo, hi = (float(v) for v in pixel_range)
    return tf.clip_by_value((tf.cast(images, tf.float32) - lo) / (hi - lo), 0.0, 1.0)


class ClassifierFeatures:
    """The "features" layer of a trained classifier: images -> `[N, 128]` float32.

    The classifier's own head stays available: `logits(features)` turns features into
    class scores, so a metric that judges images by class (`alae_tf.metrics.judge`) reuses
    the features already computed instead of running the network again.

    Args:
        model: a Keras model from `build_classifier` (its name is the features' name).
        source: where the model came from (a file path), for reports; None if built in memory.
    """

    def __init__(self, model, source=None):
        import keras

        try:
            layer = model.get_layer(FEATURE_LAYER)
        except ValueError as e:
            raise FeatureError(
                f"model {model.name!r} has no {FEATURE_LAYER!r} layer; train a feature "
                f"classifier with `python -m alae_tf.features`"
            ) from e
        self.name = model.name
        self.source = None if source is None else str(source)
        self.input_shape = tuple(model.input_shape[1:])
        self._features = keras.Model(model.inputs, layer.output)
        head = [lay for lay in model.layers if lay.name == LOGITS_LAYER]
        # The head is a Dense on the features: its kernel and bias map features to class scores.
        self._head = None
        if head and head[0].input.name == layer.output.name:
            kernel, bias = (np.asarray(v, np.float64) for v in head[0].get_weights())
            self._head = (kernel, bias)

    @property
    def num_classes(self):
        """Classes of the classifier's head (None when the model has none)."""
        return None if self._head is None else int(self._head[1].shape[0])

    def logits(self, features):
        """Class scores `[N, classes]` (float64 numpy) of features `[N, d]` from `__call__`.

        Raises:
            FeatureError: the model has no "logits" head on its feature layer.
        """
        if self._head is None:
            raise FeatureError(
                f"{self.name} has no {LOGITS_LAYER!r} head on its {FEATURE_LAYER!r} layer: it cannot "
                f"judge classes; train one with `python -m alae_tf.features`"
            )
        kernel, bias = self._head
        return np.asarray(features, np.float64) @ kernel + bias

    def __call__(self, images, pixel_range):
        """`[N, H, W, C]` float images in `pixel_range` -> `[N, d]` float32 numpy."""
        if tuple(images.shape[1:]) != self.input_shape:
            raise FeatureError(
                f"{self.name} reads images of shape {self.input_shape}, got "
                f"{tuple(images.shape[1:])}: train a classifier at the model's resolution "
                f"and channels (python -m alae_tf.features --resolution= --channels=)"
            )
        return np.asarray(self._features(_to_unit(images, pixel_range), training=False), np.float32)


def load_feature_extractor(path: str | pathlib.Path) -> "ClassifierFeatures":
    """A `ClassifierFeatures` from a .keras file saved by `python -m alae_tf.features`.

    Raises:
        FeatureError: the file is missing, unreadable, or not a feature classifier.
    """
    import keras

    path = pathlib.Path(path)
    if not path.is_file():
        raise FeatureError(
            f"feature network {path} not found; train one with "
            f"`python -m alae_tf.features --dataset=... --output={path}`"
        )
    try:
        model = keras.models.load_model(path, compile=False)
    except Exception as e:  # Keras raises many types (zipfile, OSError, ValueError) for bad files.
        raise FeatureError(
            f"cannot read feature network {path} ({type(e).__name__}: {e}); retrain it with "
            f"`python -m alae_tf.features`"
        ) from e
    return ClassifierFeatures(model, source=path)


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

        x = _to_unit(images, pixel_range)
        if x.shape[-1] == 1:
            x = tf.repeat(x, 3, axis=-1)
        x = tf.image.resize(x, (INCEPTION_SIZE, INCEPTION_SIZE), method="bilinear")
        return np.asarray(self._model(2.0 * x - 1.0, training=False), np.float32)

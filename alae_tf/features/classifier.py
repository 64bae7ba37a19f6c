r"""The judge: a small conv classifier of the dataset, whose features and class head score the model.

The project trains it on the dataset itself (Inception weights cannot be downloaded here):

    alae-train-judge --dataset=fashion_mnist --output=fmnist_classifier.keras

Its penultimate layer ("features") is the feature space of FD, KID and PPL; its head ("logits")
judges classes: whether reconstructions keep theirs, which classes samples fall in, whether a
class edit reaches its target (`alae_tf.metrics.judge`, `alae_tf.metrics.editing`). The judge only
scores images; no direction is ever built from it.

A judge is any feature network with a class head: `num_classes` and `logits(features)` beside
`__call__(images, pixel_range)` (`ClassifierFeatures` is the project's; tests pass stand-ins).
`require_judge` says whether one can judge, `classes_from_features` / `classes_of_images` are its
verdicts.
"""

import pathlib
import re
import tempfile

import numpy as np

from alae_tf import atomic
from alae_tf.features.base import FeatureError, to_unit

FEATURE_LAYER = "features"
LOGITS_LAYER = "logits"


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


def _unit_scale(images_uint8):
    # uint8 pixels -> [0, 1] float32 by the data pipeline's one conversion, as numpy for Keras' fit.
    # Imported here, as keras is: importing this package should not load TensorFlow.
    from alae_tf import data

    return np.asarray(data.to_pixel_range(images_uint8, (0.0, 1.0)))


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
                f"classifier with `alae-train-judge`"
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
                f"judge classes; train one with `alae-train-judge`"
            )
        kernel, bias = self._head
        return np.asarray(features, np.float64) @ kernel + bias

    def __call__(self, images, pixel_range):
        """`[N, H, W, C]` float images in `pixel_range` -> `[N, d]` float32 numpy."""
        if tuple(images.shape[1:]) != self.input_shape:
            raise FeatureError(
                f"{self.name} reads images of shape {self.input_shape}, got "
                f"{tuple(images.shape[1:])}: train a classifier at the model's resolution "
                f"and channels (alae-train-judge --resolution= --channels=)"
            )
        return np.asarray(self._features(to_unit(images, pixel_range), training=False), np.float32)


def load_feature_extractor(path: str | pathlib.Path) -> "ClassifierFeatures":
    """A `ClassifierFeatures` from a .keras file saved by `alae-train-judge`.

    Raises:
        FeatureError: the file is missing, unreadable, or not a feature classifier.
    """
    import keras

    path = pathlib.Path(path)
    if not path.is_file():
        raise FeatureError(
            f"feature network {path} not found; train one with `alae-train-judge --dataset=... --output={path}`"
        )
    try:
        model = keras.models.load_model(path, compile=False)
    except Exception as e:  # Keras raises many types (zipfile, OSError, ValueError) for bad files.
        raise FeatureError(
            f"cannot read feature network {path} ({type(e).__name__}: {e}); retrain it with `alae-train-judge`"
        ) from e
    return ClassifierFeatures(model, source=path)


def require_judge(extractor):
    """`extractor` if it can judge classes (it has a class head), else a ValueError saying why.

    A ValueError, not a `FeatureError`: the metrics report it as any other metric they cannot run.
    """
    if getattr(extractor, "num_classes", None) is None:
        raise ValueError(
            f"this metric needs a classifier to judge classes; the feature network "
            f"{extractor.name!r} has no class head (use the project's classifier: "
            f"`alae-train-judge`)"
        )
    return extractor


def classes_from_features(judge, features):
    """The judge's classes `[N]` (int64) of features `[N, d]` it computed: the best score of its head."""
    return np.argmax(judge.logits(features), axis=1).astype(np.int64)


def classes_of_images(judge, images, pixel_range):
    """The judge's classes `[N]` (int64) of float images `[N, H, W, C]` in `pixel_range`."""
    return classes_from_features(judge, judge(images, pixel_range))

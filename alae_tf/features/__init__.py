r"""Feature networks for the distribution metrics (FD, KID), perceptual path length and the class checks.

Two kinds, one interface: a callable `extractor(images, pixel_range) -> features [N, d]`
taking float images `[N, H, W, C]` in `pixel_range`, with a `name` that the metrics put in
their result keys (`fd_fmnist_classifier`, `fd_inception`) so nobody mistakes one for the
other.

- `classifier`: the judge. `ClassifierFeatures` is the penultimate layer of a small conv
  classifier the project trains on the dataset itself (`alae-train-judge`, the command in
  `alae_tf.commands.train_judge`; `load_feature_extractor(path)` loads it back), and its class head
  judges classes (`require_judge`, `classes_from_features`, `classes_of_images`).
- `inception`: `InceptionFeatures`, the 2048-d pool features of Inception-v3, when the user
  supplies its ImageNet weights file (`include_top=False` .h5).
- `base`: `FeatureError` and the [0, 1] scale both read images on.
"""

from alae_tf.features.base import FeatureError
from alae_tf.features.classifier import (
    FEATURE_LAYER,
    LOGITS_LAYER,
    ClassifierFeatures,
    build_classifier,
    classes_from_features,
    classes_of_images,
    feature_name,
    load_feature_extractor,
    require_judge,
    save_classifier,
    train_classifier,
)
from alae_tf.features.inception import INCEPTION_SIZE, InceptionFeatures

__all__ = [
    "FEATURE_LAYER",
    "INCEPTION_SIZE",
    "LOGITS_LAYER",
    "ClassifierFeatures",
    "FeatureError",
    "InceptionFeatures",
    "build_classifier",
    "classes_from_features",
    "classes_of_images",
    "feature_name",
    "load_feature_extractor",
    "require_judge",
    "save_classifier",
    "train_classifier",
]

"""The feature classifier: train, save, reload; clear errors for bad files."""

import numpy as np
import pytest

from alae_tf import features
from alae_tf.data import ImageSet


def _toy_set(n, seed, name):
    # Class 1 is bright in the top half, class 0 in the bottom half.
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, n)
    images = rng.integers(0, 60, size=(n, 12, 12, 1))
    for i, label in enumerate(labels):
        images[i, :6] += 150 * label
        images[i, 6:] += 150 * (1 - label)
    return ImageSet(images.astype(np.uint8), labels.astype(np.int64), name)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    model, accuracy = features.train_classifier(
        _toy_set(256, 0, "toy/train"), _toy_set(64, 1, "toy/test"), "toy_classifier", epochs=2, batch_size=32, verbose=0
    )
    path = tmp_path_factory.mktemp("features") / "toy.keras"
    features.save_classifier(model, path)
    return model, accuracy, path


def test_saved_classifier_reloads_with_the_same_features(trained):
    model, accuracy, path = trained
    assert accuracy > 0.9  # a trivially separable toy task
    images = np.random.default_rng(2).uniform(-1, 1, size=(5, 12, 12, 1)).astype(np.float32)
    before = features.ClassifierFeatures(model)(images, (-1.0, 1.0))
    loaded = features.load_feature_extractor(path)
    assert loaded.name == "toy_classifier" and loaded.input_shape == (12, 12, 1)
    assert before.shape == (5, 128)
    np.testing.assert_allclose(loaded(images, (-1.0, 1.0)), before, rtol=1e-6, atol=1e-6)
    # The pixel range is honoured: the same pictures on a [0, 1] scale give the same features.
    np.testing.assert_allclose(loaded((images + 1.0) / 2.0, (0.0, 1.0)), before, rtol=1e-5, atol=1e-5)
    assert not [p for p in path.parent.iterdir() if p != path]  # no temp file left behind


def test_wrong_input_shape_is_refused(trained):
    extractor = features.load_feature_extractor(trained[2])
    with pytest.raises(features.FeatureError, match=r"\(12, 12, 1\).*\(28, 28, 1\)"):
        extractor(np.zeros((1, 28, 28, 1), np.float32), (0.0, 1.0))


def test_missing_and_corrupt_files_are_reported(tmp_path):
    with pytest.raises(features.FeatureError, match="not found.*alae-train-judge"):
        features.load_feature_extractor(tmp_path / "absent.keras")
    corrupt = tmp_path / "corrupt.keras"
    corrupt.write_bytes(b"not a keras archive")
    with pytest.raises(features.FeatureError, match="cannot read feature network"):
        features.load_feature_extractor(corrupt)


def test_missing_and_unreadable_inception_weights_are_reported(tmp_path):
    with pytest.raises(features.FeatureError, match="Inception-v3 weights file .* not found"):
        features.InceptionFeatures(tmp_path / "absent.h5")
    bad = tmp_path / "bad.h5"
    bad.write_bytes(b"not an h5 file")
    with pytest.raises(features.FeatureError, match="cannot load Inception-v3 weights"):
        features.InceptionFeatures(bad)


@pytest.mark.parametrize(
    "dataset, name",
    [
        ("fashion_mnist", "fmnist_classifier"),
        ("tfds:mnist", "mnist_classifier"),
        ("folder:/data/Faces-HQ/", "faces_hq_classifier"),
        ("tfrecord:/d/celeba-{split}-*.tfrecord", "celeba_tfrecord_classifier"),
    ],
)
def test_feature_names(dataset, name):
    assert features.feature_name(dataset) == name

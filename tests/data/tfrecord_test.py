"""TFRecord writing and reading: exact PNG round trip, shards, {split}, errors."""

import numpy as np
import pytest
import tensorflow as tf

from alae_tf.data import DatasetError, load_images, write_tfrecords


def random_images(n, h=7, w=7, c=3, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (n, h, w, c), dtype=np.uint8)


@pytest.mark.parametrize("channels", [1, 3])
def test_round_trip_is_exact(tmp_path, channels):
    images, labels = random_images(9, c=channels), np.arange(9) * 11 - 20
    paths = write_tfrecords(str(tmp_path / "set.tfrecord"), images, labels)
    assert paths == [str(tmp_path / "set.tfrecord")]
    loaded = load_images(f"tfrecord:{tmp_path}/set.tfrecord", channels=channels)
    np.testing.assert_array_equal(loaded.images, images)
    np.testing.assert_array_equal(loaded.labels, labels)
    assert loaded.labels.dtype == np.int64


def test_shards_keep_order_and_no_labels(tmp_path):
    images = random_images(10)
    paths = write_tfrecords(str(tmp_path / "s.tfrecord"), images, shards=3)
    assert [p.rsplit("/", 1)[1] for p in paths] == [f"s.tfrecord-{i:05d}-of-00003" for i in range(3)]
    loaded = load_images(f"tfrecord:{tmp_path}/s.tfrecord-*", channels=3)
    np.testing.assert_array_equal(loaded.images, images)
    assert loaded.labels is None
    assert not list(tmp_path.glob("*.incomplete"))


def test_split_substitution_and_resize(tmp_path):
    for split, seed in [("train", 1), ("test", 2)]:
        write_tfrecords(str(tmp_path / f"{split}.tfrecord"), random_images(3 + seed, seed=seed))
    spec = f"tfrecord:{tmp_path}/{{split}}.tfrecord"
    test = load_images(spec, "test", channels=3)
    np.testing.assert_array_equal(test.images, random_images(5, seed=2))
    train = load_images(spec, "train", resolution=4, channels=1)
    assert train.images.shape == (4, 4, 4, 1)


def test_no_match_and_corrupt_files(tmp_path):
    with pytest.raises(DatasetError, match=r"no TFRecord files match .*test\.tfrecord"):
        load_images(f"tfrecord:{tmp_path}/{{split}}.tfrecord", "test")
    (tmp_path / "junk.tfrecord").write_bytes(b"definitely not a record file at all")
    with pytest.raises(DatasetError, match="junk.tfrecord"):
        load_images(f"tfrecord:{tmp_path}/junk.tfrecord")


def write_examples(path, features):
    with tf.io.TFRecordWriter(path) as writer:
        for feature in features:
            example = tf.train.Example(
                features=tf.train.Features(
                    feature={
                        key: tf.train.Feature(bytes_list=tf.train.BytesList(value=[value]))
                        for key, value in feature.items()
                    }
                )
            )
            writer.write(example.SerializeToString())


def test_records_without_image_feature_or_with_bad_bytes(tmp_path):
    path = str(tmp_path / "other.tfrecord")
    write_examples(path, [{"pixels": b"x"}])
    with pytest.raises(DatasetError, match=r"record 0 has no bytes feature 'image'.*pixels"):
        load_images(f"tfrecord:{path}")
    write_examples(path, [{"image": b"\x89PNG junk"}])
    with pytest.raises(DatasetError, match="record 0 is not a readable PNG/JPEG"):
        load_images(f"tfrecord:{path}")


def test_write_rejects_bad_input(tmp_path):
    with pytest.raises(DatasetError, match="uint8"):
        write_tfrecords(str(tmp_path / "x"), np.zeros((2, 4, 4, 3), np.float32))
    with pytest.raises(DatasetError, match="labels"):
        write_tfrecords(str(tmp_path / "x"), random_images(2), labels=[1, 2, 3])

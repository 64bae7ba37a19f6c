"""TFRecord files of tf.train.Example (`--dataset=tfrecord:GLOB`), and a writer for them.

Each record has a bytes feature `image` (an encoded PNG or JPEG) and optionally an int64
feature `label` (all records or none). GLOB may contain `{split}`, replaced by the split
name (`data/{split}-*.tfrecord`); without it the same files serve every split. Matching
files are read in sorted name order, which `write_tfrecords` shards keep. Images go through
the same crop, resize and channel conversion as image folders (`image_ops`). GLOB may be any
path tf.io.gfile understands (local, gs://); a relative one is resolved by `paths.resolve`
(against `data_dir` when given) before it gets here.

A record whose image bytes do not decode is bad: by default (`bad_images="skip"`) it is left
out with its label, one warning counts and names the bad records, and the set's `skipped`
lists them; more than `max_bad_fraction` (default 1 %) bad is an error, and `bad_images="fail"`
stops at the first. A file that is not a TFRecord file, or a record that is not a
tf.train.Example with an `image` feature, is always an error: those come from a wrong path or
writer, not from a few bad images.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

import numpy as np
import tensorflow as tf
from PIL import Image

from alae_tf.data import image_ops
from alae_tf.data.base import DatasetError, ImageSet


def write_tfrecords(
    path: str, images_uint8: np.ndarray, labels: Sequence[int] | None = None, shards: int = 1
) -> list[str]:
    """Writes images (PNG-encoded, lossless) and optional labels as tf.train.Example records.

    Args:
      path: output file; with shards > 1, files are `{path}-00000-of-0000S` and so on, read
        back in order by `tfrecord:{path}*`.
      images_uint8: uint8 [N, H, W] or [N, H, W, C] with C in 1, 3, 4.
      labels: optional integers [N].
      shards: number of files; images are split into contiguous runs.
    Returns:
      The paths written.
    """
    images = np.asarray(images_uint8)
    if (
        images.dtype != np.uint8
        or images.ndim not in (3, 4)
        or (images.ndim == 4 and images.shape[-1] not in (1, 3, 4))
    ):
        raise DatasetError(f"write_tfrecords needs uint8 images [N, H, W(, C)], got {images.dtype} {images.shape}.")
    if labels is not None:
        labels = np.asarray(labels)
        if labels.shape != (len(images),) or labels.dtype.kind not in "iu":
            raise DatasetError(f"labels must be {len(images)} integers, got {labels.dtype} {labels.shape}.")
    if not isinstance(shards, int) or shards < 1:
        raise DatasetError(f"shards must be a positive int, got {shards!r}.")
    if images.ndim == 4 and images.shape[-1] == 1:
        images = images[..., 0]
    parent = path.rpartition("/")[0]
    if parent:
        tf.io.gfile.makedirs(parent)
    paths = [path] if shards == 1 else [f"{path}-{i:05d}-of-{shards:05d}" for i in range(shards)]
    bounds = np.linspace(0, len(images), shards + 1).round().astype(int)
    for shard, (begin, end) in zip(paths, zip(bounds[:-1], bounds[1:])):
        # Write under a temporary name so an interrupted run never leaves a short file
        # that a later glob would silently read.
        with tf.io.TFRecordWriter(shard + ".incomplete") as writer:
            for i in range(begin, end):
                png = io.BytesIO()
                Image.fromarray(images[i]).save(png, format="PNG")
                feature = {"image": tf.train.Feature(bytes_list=tf.train.BytesList(value=[png.getvalue()]))}
                if labels is not None:
                    feature["label"] = tf.train.Feature(int64_list=tf.train.Int64List(value=[int(labels[i])]))
                writer.write(tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString())
        tf.io.gfile.rename(shard + ".incomplete", shard, overwrite=True)
    return paths


def _records(files: list[str]):
    """Yields (where, image bytes, label or None) for every record, in file order."""
    for path in files:
        try:
            for i, record in enumerate(tf.data.TFRecordDataset(path).as_numpy_iterator()):
                where = f"{path} record {i}"
                try:
                    feature = tf.train.Example.FromString(record).features.feature
                except Exception as e:  # protobuf's DecodeError moves between versions
                    raise DatasetError(f"{where} is not a tf.train.Example ({e}).") from e
                if "image" not in feature or not feature["image"].bytes_list.value:
                    raise DatasetError(
                        f"{where} has no bytes feature 'image' (features: {sorted(feature)}). "
                        "Write the files with alae_tf.data.tfrecord.write_tfrecords."
                    )
                label = feature["label"].int64_list.value if "label" in feature else None
                yield where, feature["image"].bytes_list.value[0], (label[0] if label else None)
        except tf.errors.OpError as e:
            raise DatasetError(
                f"cannot read {path} ({e.message.strip()}); it is corrupt or not a TFRecord file: rewrite it."
            ) from e


def load(
    pattern: str,
    split: str,
    *,
    resolution: int | None,
    channels: int,
    name: str,
    bad_images: str = "skip",
    max_bad_fraction: float = image_ops.DEFAULT_MAX_BAD_FRACTION,
) -> ImageSet:
    """Loads the records matching `pattern` (`{split}` substituted) into memory.

    Returns uint8 images [N, H, W, channels] (resized to `resolution` if given) and int64
    labels [N] if every record has one, else None. `bad_images` ("skip" or "fail") and
    `max_bad_fraction` say what to do with records whose image does not decode (see the
    module docstring); the labels are those of the kept images.
    """
    image_ops.check_bad_image_options(bad_images, max_bad_fraction)
    pattern = pattern.replace("{split}", split)
    files = sorted(tf.io.gfile.glob(pattern))
    if not files:
        raise DatasetError(
            f"no TFRecord files match {pattern}. Check the path, or write them with"
            " alae_tf.data.tfrecord.write_tfrecords; use {split} in the pattern "
            "for per-split files."
        )
    wheres, labels = [], []

    def note(record):  # keeps names and labels in step with the images, in read order
        where, data, label = record
        wheres.append(where)
        labels.append(label)
        return data, where

    images, kept, skipped = image_ops.parallel_map_images(
        lambda item: image_ops.fit(image_ops.decode(*item), resolution, channels),
        map(note, _records(files)),
        names=wheres,
        source=f"the records of {pattern}",
        bad_images=bad_images,
        max_bad_fraction=max_bad_fraction,
    )
    # Checked over every record, skipped ones too: a mix means the writer is wrong, not one image.
    if None in labels and any(label is not None for label in labels):
        raise DatasetError(
            f"records under {pattern} mix labelled and unlabelled images ("
            f"{wheres[labels.index(None)]} has no label): label all or none."
        )
    labels = None if None in labels else np.asarray(labels, np.int64)[kept]
    return ImageSet(images, labels, name, skipped=skipped)

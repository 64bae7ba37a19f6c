"""An already prepared TensorFlow Datasets dataset (`--dataset=tfds:NAME`, e.g. tfds:mnist).

Reading never touches the network: the dataset must already be in `data_dir` (default
$TFDS_DATA_DIR or ~/tensorflow_datasets), prepared with `tfds build NAME --data_dir=DIR` on a
machine with network and copied over. Without that, downloading would hang for minutes on DNS
retries, so it is never attempted (download=False) and the folder is checked first.
NAME may carry a config and a version (`celeb_a:2.1.0`, `cifar10/plain`); community names
(`namespace:name`) are refused because resolving them needs the network.

The `image` feature (and `label` if it is an integer scalar) is read into memory in the
split's stored order. Split "test" falls back to "validation" when the dataset has no test
split (celeb_a has both; some datasets only ship validation). Images go through the same
crop, resize and channel conversion as the other sources (`image_ops`), one batch at a time,
so a large dataset of big images is never held in memory at its native size.
"""

from __future__ import annotations

import os

import numpy as np

from alae_tf.data import image_ops
from alae_tf.data.base import DatasetError, ImageSet


def load(
    name: str, split: str, *, resolution: int | None, channels: int, data_dir: str | None, spec_name: str
) -> ImageSet:
    """Loads a prepared TFDS split: uint8 images [N, H, W, channels], int64 labels [N] or None."""
    import tensorflow as tf
    import tensorflow_datasets as tfds
    from tensorflow_datasets.core import constants, naming

    data_dir = os.path.expanduser(data_dir or constants.get_default_data_dir())
    prepare = (
        f"On a machine with network run `tfds build {name} --data_dir={data_dir}` and "
        "copy the folder here, or pass the data_dir that holds it."
    )
    try:
        dataset_name, _ = naming.parse_builder_name_kwargs(name)
    except ValueError as e:
        raise DatasetError(
            f"{name!r} is not a TFDS dataset name ({e}); use tfds:NAME, tfds:NAME/CONFIG or tfds:NAME:VERSION."
        ) from e
    if dataset_name.namespace:
        raise DatasetError(f"tfds:{name} is a community dataset, which needs the network to resolve. {prepare}")
    folder = os.path.join(data_dir, dataset_name.name)
    if not os.path.isdir(folder):
        raise DatasetError(f"TFDS dataset {name} is not prepared in {data_dir} (no folder {folder}). {prepare}")

    tfds_errors = (AssertionError, ValueError, KeyError, OSError, tf.errors.OpError)
    splits: list[str] = []
    try:
        builder = tfds.builder(name, data_dir=data_dir)
        splits = list(builder.info.splits.keys())
        if split == "test" and "test" not in splits and "validation" in splits:
            split = "validation"
        ds = builder.as_dataset(split=split, shuffle_files=False)  # never downloads
    except tfds_errors as e:
        raise DatasetError(
            f"cannot read TFDS dataset {name} split {split!r} from {data_dir} "
            f"({type(e).__name__}: {e}); prepared splits: {splits or 'none'}. "
            f"{prepare}"
        ) from e

    features = builder.info.features
    if "image" not in features.keys():
        raise DatasetError(
            f"TFDS dataset {name} has no 'image' feature (it has {sorted(features.keys())}); use a dataset of images."
        )
    label = features["label"] if "label" in features.keys() else None
    has_label = label is not None and label.shape == () and np.dtype(label.np_dtype).kind in "iu"
    ds = ds.map(lambda ex: (ex["image"], ex["label"] if has_label else tf.zeros([], tf.int64)))

    source = f"TFDS {name} split {split}"
    labels = []
    try:
        if None not in features["image"].shape:
            # Fixed-size images: convert whole batches (a no-op for MNIST at native size).
            chunks = []
            for images, batch_labels in ds.batch(1024).as_numpy_iterator():
                chunks.append(image_ops.fit_array(images, resolution, channels))
                labels.append(batch_labels)
            if not chunks:
                raise DatasetError(f"no images found in {source}.")
            images = np.concatenate(chunks)
            labels = np.concatenate(labels)
        else:

            def note(example):  # keeps labels in step with the images, in read order
                labels.append(example[1])
                return example[0]

            images = image_ops.parallel_map(
                lambda image: image_ops.fit(image, resolution, channels),
                map(note, ds.as_numpy_iterator()),
                source=source,
            )
            labels = np.asarray(labels)
    except tf.errors.OpError as e:
        raise DatasetError(
            f"cannot read {source} from {data_dir} ({e.message.strip()}); the files are damaged. {prepare}"
        ) from e
    return ImageSet(images, labels.astype(np.int64) if has_label else None, spec_name)

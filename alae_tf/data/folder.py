"""A folder of PNG/JPEG images (`--dataset=folder:PATH`), e.g. aligned face crops.

* Files ending in .png, .jpg or .jpeg (any case) are read recursively, in sorted path order,
  so the image order (and so every shuffle) is the same on every machine. Other files are
  ignored, and so are hidden files and folders (names starting with "."), which skips macOS
  `._x.png` resource forks.
* A file with an image suffix that does not decode, or cannot be opened (permissions), is
  bad. By default (`bad_images="skip"`) bad files are left out, one warning counts and names
  them, and the set's `skipped` lists them all; more than `max_bad_fraction` of the files
  (default 1 %) bad is an error, and so is a split where none decodes. `bad_images="fail"`
  stops at the first bad file.
* Splits: if PATH has a subfolder named after the split (`PATH/train`, `PATH/test`), that
  subfolder is the split. If PATH has no split subfolders at all (none of train, test,
  validation), every split reads all the images: train and test are then the same set.
* Images may have any size and mode; see `image_ops` for the crop, resize and channel
  conversions. A resolution is needed unless all images already share one size.
* The whole split is decoded once into memory (PNG decoding is the slow part: 1-3k images/s
  on two cores, so it must not happen every epoch).
* Labels follow the ImageFolder convention: when every image of the split lies inside a
  first-level subfolder (`ROOT/<class>/...`, ROOT the split's folder) and there are at least
  two of them, an image's label is its subfolder's index in sorted name order, and the names
  are the set's `class_names`. Images directly in ROOT (or a single subfolder) mean no labels.
A relative PATH is resolved by `paths.resolve` (against `data_dir` when given) before it gets here.
"""

from __future__ import annotations

import os

from alae_tf.data import image_ops
from alae_tf.data.base import BadImageError, DatasetError, ImageSet

_SPLIT_DIRS = ("train", "test", "validation")


def list_images(root: str) -> list[str]:
    """All PNG/JPEG paths under `root`, recursively, sorted; hidden files and folders skipped."""
    paths = []
    for folder, subfolders, files in os.walk(root):
        subfolders[:] = [d for d in subfolders if not d.startswith(".")]
        paths += [
            os.path.join(folder, f)
            for f in files
            if not f.startswith(".") and f.lower().endswith(image_ops.IMAGE_SUFFIXES)
        ]
    return sorted(paths)


def read_image(path: str):
    """The PNG/JPEG file at `path`, decoded as this source decodes it: a PIL image of any size and mode.

    Raises:
      BadImageError: the file cannot be opened (permissions) or does not decode (a `DatasetError`).
    """
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        # An unreadable file is as lost as an undecodable one: the bad-image policy decides for both.
        raise BadImageError(f"cannot read {path} ({e}); check its permissions.", path, e.strerror or str(e)) from e
    return image_ops.decode(data, path)


def _read(path: str, resolution: int | None, channels: int):
    return image_ops.fit(read_image(path), resolution, channels)


def load(
    path: str,
    split: str,
    *,
    resolution: int | None,
    channels: int,
    name: str,
    bad_images: str = "skip",
    max_bad_fraction: float = image_ops.DEFAULT_MAX_BAD_FRACTION,
) -> ImageSet:
    """Loads the images of `split` under `path`: uint8 [N, resolution, resolution, channels].

    `bad_images` ("skip" or "fail") and `max_bad_fraction` say what to do with files that
    do not decode; see the module docstring. The labels are those of the kept images.
    """
    image_ops.check_bad_image_options(bad_images, max_bad_fraction)
    if not os.path.isdir(path):
        problem = "is not a folder" if os.path.exists(path) else "does not exist"
        raise DatasetError(
            f"image folder {path} {problem}. Pass --dataset=folder:PATH with PATH "
            "a folder of PNG/JPEG files (optionally in train/ and test/)."
        )
    root = os.path.join(path, split)
    if not os.path.isdir(root):
        present = [d for d in _SPLIT_DIRS if os.path.isdir(os.path.join(path, d))]
        if present:
            raise DatasetError(
                f"{path} has split folders ({', '.join(present)}) but no {split}/"
                f" folder. Add {os.path.join(path, split)} or use another split."
            )
        root = path
    files = list_images(root)
    if not files:
        raise DatasetError(
            f"no PNG/JPEG images found under {root} (searched recursively). Put "
            "the images there or point --dataset=folder:PATH at the right folder."
        )
    images, kept, skipped = image_ops.parallel_map_images(
        lambda p: _read(p, resolution, channels),
        files,
        names=files,
        source=root,
        bad_images=bad_images,
        max_bad_fraction=max_bad_fraction,
    )
    # Labels come from all the files, so the class list does not depend on which ones decode;
    # then they are cut to the kept images, which stay in step with them.
    labels, class_names = subfolder_labels(root, files)
    if labels is not None:
        labels = labels[kept]
    return ImageSet(images, labels, name, class_names, skipped=skipped)


def subfolder_labels(root: str, files: list[str]):
    """`(labels int64 [N], class names)` from the first-level subfolders of `root`, or `(None, None)`."""
    import numpy as np

    parts = [os.path.relpath(f, root).split(os.sep) for f in files]
    if any(len(p) < 2 for p in parts):
        return None, None
    class_names = sorted({p[0] for p in parts})
    if len(class_names) < 2:
        return None, None
    index = {c: i for i, c in enumerate(class_names)}
    return np.array([index[p[0]] for p in parts], np.int64), tuple(class_names)

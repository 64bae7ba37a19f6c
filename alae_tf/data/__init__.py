"""Training data for ALAE: one `--dataset` spec picks the source, loaded whole into memory.

`load_images(spec, split)` returns an `ImageSet` of uint8 [N, H, W, C] images; the tf.data
pipelines in `pipeline` turn it into float batches. Sources, one module each:
`fashion_mnist`, `idx`, `tfds_source`, `folder`, `tfrecord`; `image_ops` holds the resize and
channel conversion they share; `paths` says where a relative PATH of a spec points (`--data_dir`, else
the current folder, else the checkout). Every user-facing failure is a `DatasetError`.

Images that do not decode (folder and TFRecord sources): `bad_images="skip"` (the default)
leaves them out, logs one warning that counts and names them, and lists them in
`ImageSet.skipped`, unless more than `max_bad_fraction` (default 1 %) of the files are bad,
which is an error; `bad_images="fail"` makes the first one an error.
"""

from __future__ import annotations

from alae_tf.data import fashion_mnist, folder, idx, image_ops, paths, tfds_source, tfrecord
from alae_tf.data.base import BadImageError, DatasetError, ImageSet
from alae_tf.data.image_ops import BAD_IMAGE_POLICIES, DEFAULT_MAX_BAD_FRACTION
from alae_tf.data.pipeline import eval_batches, from_pixel_range, to_pixel_range, training_batches
from alae_tf.data.tfrecord import write_tfrecords

__all__ = [
    "BAD_IMAGE_POLICIES",
    "BadImageError",
    "DEFAULT_MAX_BAD_FRACTION",
    "DatasetError",
    "ImageSet",
    "SPEC_HELP",
    "eval_batches",
    "from_pixel_range",
    "is_valid_spec",
    "load_images",
    "load_split",
    "to_pixel_range",
    "training_batches",
    "write_tfrecords",
]

SPEC_HELP = (
    "Image source, one of: "
    "'fashion_mnist' (Debian's dataset-fashion-mnist IDX files in "
    f"{fashion_mnist.DEFAULT_DIR}, or in --data_dir); "
    "'idx:DIR' (MNIST-style train-/t10k-images-idx3-ubyte[.gz] and -labels-idx1-ubyte[.gz] "
    "files in DIR); "
    "'tfds:NAME' (a TensorFlow Datasets dataset already prepared in --data_dir with "
    "`tfds build NAME`; never downloaded), e.g. tfds:mnist or tfds:celeb_a; "
    "'folder:PATH' (PNG/JPEG files under PATH, recursively, split by PATH/train and PATH/test "
    "if present); "
    "'tfrecord:GLOB' (tf.train.Example files with an encoded 'image' and optional 'label'; "
    "'{split}' in GLOB is replaced by the split name). "
    "A relative PATH, DIR or GLOB is taken from --data_dir when given, else from the current folder, else from "
    "the checkout the package runs from. "
    "Images are center-cropped to square, resized to the model's resolution and converted to "
    "its channels (1 or 3)."
)

_PREFIXED = ("idx", "tfds", "folder", "tfrecord")


def load_images(
    spec: str,
    split: str = "train",
    *,
    resolution: int | None = None,
    channels: int = 1,
    data_dir: str | None = None,
    bad_images: str = "skip",
    max_bad_fraction: float = DEFAULT_MAX_BAD_FRACTION,
) -> ImageSet:
    """Loads one split of the dataset named by `spec` (see SPEC_HELP) into memory.

    Args:
      spec: "fashion_mnist", "idx:DIR", "tfds:NAME", "folder:PATH" or "tfrecord:GLOB".
      split: "train" or "test" (other names are passed to the source).
      resolution: output side in pixels (square), or None for the native size.
      channels: 1 (grey) or 3 (RGB).
      data_dir: folder of the Fashion-MNIST files or TFDS data_dir; for idx, folder and tfrecord, the
        folder a relative path of the spec is in (`paths.resolve`: without it, the current folder,
        else the checkout).
      bad_images: what the folder and TFRecord sources do with an image that does not
        decode (or a file that cannot be opened): "skip" leaves it out, with a warning and
        an entry in `ImageSet.skipped`; "fail" raises a DatasetError naming it. The other
        sources decode no files and ignore it (it is still checked).
      max_bad_fraction: with "skip", the largest fraction of bad files, 0 to 1, that is
        skipped; above it loading fails, naming them.
    Returns:
      ImageSet with uint8 images [N, H, W, channels], int64 labels [N] or None, and the
      `(name, reason)` of each skipped file in `skipped`.
    Raises:
      DatasetError: with what is wrong and how to fix it.
    """
    image_ops.check_options(resolution, channels)
    image_ops.check_bad_image_options(bad_images, max_bad_fraction)
    if not isinstance(split, str) or not split:
        raise DatasetError(f"split must be a non-empty string such as 'train' or 'test', got {split!r}.")
    kind, colon, arg = (spec or "").partition(":")
    name = f"{spec}/{split}"
    options = dict(resolution=resolution, channels=channels)
    if kind == "fashion_mnist" and not colon:
        return fashion_mnist.load(split, data_dir=data_dir, **options)
    if kind in _PREFIXED and colon:
        if not arg:
            raise DatasetError(f"--dataset={spec} needs something after the colon. {SPEC_HELP}")
        if kind == "idx":
            return idx.load_dir(paths.resolve(arg, data_dir), split, name=name, **options)
        if kind == "tfds":
            return tfds_source.load(arg, split, data_dir=data_dir, spec_name=name, **options)
        # Only these two decode image files, so only they take the bad-image options.
        bad = dict(bad_images=bad_images, max_bad_fraction=max_bad_fraction)
        if kind == "folder":
            return folder.load(paths.resolve(arg, data_dir), split, name=name, **options, **bad)
        return tfrecord.load(paths.resolve(arg, data_dir), split, name=name, **options, **bad)
    raise DatasetError(f"unknown dataset {spec!r}. {SPEC_HELP}")


def load_split(
    spec: str,
    split: str,
    image_shape: tuple[int, int, int],
    *,
    data_dir: str | None = None,
    bad_images: str = "skip",
    max_bad_fraction: float = DEFAULT_MAX_BAD_FRACTION,
) -> ImageSet:
    """`load_images` at a model's `image_shape` `(H, W, C)`, checked: what a run trains and is judged on.

    `bad_images` and `max_bad_fraction` are passed to `load_images`.

    Raises:
      DatasetError: as `load_images`, or the source gives images of another shape.
    """
    height, _, channels = image_shape
    image_set = load_images(
        spec,
        split,
        resolution=height,
        channels=channels,
        data_dir=data_dir,
        bad_images=bad_images,
        max_bad_fraction=max_bad_fraction,
    )
    if tuple(image_set.images.shape[1:]) != tuple(image_shape):
        raise DatasetError(
            f"{spec} gives images of shape {tuple(image_set.images.shape[1:])}, the model wants {tuple(image_shape)}"
        )
    return image_set


def is_valid_spec(spec: str) -> bool:
    """True if `spec` has one of the SPEC_HELP forms (cheap: touches no files), for flag validators."""
    kind, colon, arg = (spec or "").partition(":")
    return (kind == "fashion_mnist" and not colon) or (kind in _PREFIXED and bool(colon) and bool(arg))

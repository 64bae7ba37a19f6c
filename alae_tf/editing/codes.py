"""Codes of a whole image set, the first images of a run's split, and the provenance that says where codes came from."""

from __future__ import annotations

import numpy as np

from alae_tf.data import to_pixel_range
from alae_tf.editing.checks import check_int
from alae_tf.editing.errors import EditingError
from alae_tf.editing.inputs import load_run_split
from alae_tf.editing.operations import encode, image_shape

# Where class labels come from, for the message that says a split has none.
LABEL_SOURCES = (
    "Fashion-MNIST, idx:, tfds: and tfrecord: sources with a 'label' have them; a folder: source when its images "
    "sit in one subfolder per class"
)


def encode_dataset(model, images_uint8, pixel_range, batch_size: int = 256, use_ema: bool = True) -> np.ndarray:
    """Codes `[N, latent]` float32 of uint8 images `[N, H, W, C]` at the model's resolution, in batches.

    Args:
        model: an `ALAE`.
        images_uint8: e.g. `Run.load_split(split).images` (already pooled to the nets' level).
        pixel_range: the run's `config.pixel_range`.
        batch_size: images per encoder call.
        use_ema: the EMA encoder (default) or the trained one.
    """
    images = np.asarray(images_uint8)
    if images.dtype != np.uint8 or images.ndim != 4 or tuple(images.shape[1:]) != image_shape(model):
        raise EditingError(
            f"encode_dataset: expected uint8 images [N, {', '.join(map(str, image_shape(model)))}], got "
            f"{images.dtype} {images.shape}"
        )
    check_int(batch_size, "encode_dataset: batch_size", 1)
    parts = [
        encode(model, to_pixel_range(images[start : start + batch_size], pixel_range), use_ema).numpy()
        for start in range(0, len(images), int(batch_size))
    ]
    return np.concatenate(parts).astype(np.float32) if parts else np.zeros((0, int(model.dlatent_size)), np.float32)


def run_provenance(run, split: str, use_ema: bool = True) -> dict:
    """Where codes of `run` (an `alae_tf.workdir.Run`) on `split` come from, for a direction's provenance.

    Returns:
        `{"workdir", "preset", "source" ("<dataset>/<split>"), "nets" ("ema" or "trained"),
        "images_seen", "step", "level", "resolution"}`.
    """
    model = run.model
    return {
        "workdir": str(run.path),
        "preset": run.config.name,
        "source": f"{run.config.dataset}/{split}",
        "nets": "ema" if use_ema else "trained",
        "images_seen": int(run.meta.get("images_seen", int(model.images_seen.numpy()))),
        "step": int(run.meta.get("step", int(model.step.numpy()))),
        "level": model.level,
        "resolution": int(model.resolution),
    }


def first_of_split(run, spec: str, split: str, max_images: int, data_dir=None, needs_labels=None, instead=""):
    """`(image_set, images uint8 [N, ...], labels [N] or None)`: the first `max_images` of a split at the nets' level.

    `needs_labels` names who needs class labels (e.g. "--method=linear"): a split without them is then an
    `EditingError` saying where labels come from, then `instead` (what to do without them).
    """
    image_set = load_run_split(run, spec, split, data_dir)
    labels = None if image_set.labels is None else image_set.labels[:max_images]
    if needs_labels and labels is None:
        raise EditingError(f"{needs_labels} needs class labels, and {spec}/{split} has none ({LABEL_SOURCES}){instead}")
    return image_set, image_set.images[:max_images], labels


def split_provenance(run, spec: str, split: str, use_ema: bool, max_images: int) -> dict:
    """`run_provenance` of codes of `spec`'s `split` (any dataset spec), with how many images were encoded."""
    return {**run_provenance(run, split, use_ema), "source": f"{spec}/{split}", "max_images": max_images}

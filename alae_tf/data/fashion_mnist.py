"""Fashion-MNIST from Debian's `dataset-fashion-mnist` package (`--dataset=fashion_mnist`).

The package puts the four IDX .gz files in /usr/share/datasets/fashion-mnist; `data_dir`
points elsewhere. Read locally with the IDX reader: `tfds.load("fashion_mnist")` would try the
network, and tfds' manual_dir rejects these files (Debian re-gzipped them, the checksums
differ). Splits: "train" (60000 images) and "test" (10000), 28x28 grey, labels 0..9.
"""

from __future__ import annotations

from alae_tf.data import idx
from alae_tf.data.base import ImageSet

DEFAULT_DIR = "/usr/share/datasets/fashion-mnist"


def load(split: str, *, resolution: int | None, channels: int, data_dir: str | None = None) -> ImageSet:
    """Loads a Fashion-MNIST split: uint8 [N, 28, 28, channels] (or resized), int64 labels [N]."""
    directory = data_dir or DEFAULT_DIR
    return idx.load_dir(
        directory,
        split,
        resolution=resolution,
        channels=channels,
        name=f"fashion_mnist/{split}",
        what="Fashion-MNIST",
        fix="Install it with `apt-get install dataset-fashion-mnist`, pass its folder as "
        "data_dir, or pass --dataset=idx:DIR.",
    )

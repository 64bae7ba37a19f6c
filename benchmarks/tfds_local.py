"""A TFDS dataset built offline from local IDX files, so the tfds: source can be benchmarked.

`tfds.load("fashion_mnist")` would download (and hangs ~200 s without network), and tfds'
manual_dir rejects Debian's re-gzipped files. This builder reads the IDX files with the
library's own reader instead. TFDS wants builders in an importable module (not __main__),
hence this file; `prepare` builds it into a data_dir that `tfds:alae_bench_fashion_mnist`
then reads like any prepared dataset.
"""

import contextlib
import socket

import tensorflow_datasets as tfds

from alae_tf import data

NAME = "alae_bench_fashion_mnist"


class AlaeBenchFashionMnist(tfds.core.GeneratorBasedBuilder):
    """The train split of an MNIST-style IDX folder (28x28 grey images, labels 0..9)."""

    VERSION = tfds.core.Version("1.0.0")

    def __init__(self, *, source_dir=None, limit=None, **kwargs):
        # Only needed to prepare; reading a prepared copy constructs the builder without them.
        self._source_dir = source_dir
        self._limit = limit
        super().__init__(**kwargs)

    def _info(self):
        return self.dataset_info_from_configs(
            disable_shuffling=True,  # keep the IDX order
            features=tfds.features.FeaturesDict(
                {
                    "image": tfds.features.Image(shape=(28, 28, 1)),
                    "label": tfds.features.ClassLabel(num_classes=10),
                }
            ),
        )

    def _split_generators(self, dl_manager):
        return {"train": self._generate_examples()}

    def _generate_examples(self):
        image_set = data.load_images(f"idx:{self._source_dir}", "train", channels=1)
        count = len(image_set) if self._limit is None else min(self._limit, len(image_set))
        for i in range(count):
            yield i, {"image": image_set.images[i], "label": int(image_set.labels[i])}


class NetworkUsed(BaseException):
    """BaseException, so that no `except Exception` inside tfds can swallow it."""


@contextlib.contextmanager
def no_network():
    """Any DNS lookup or connection raises at once instead of hanging on retries."""

    def refuse(*args, **kwargs):
        raise NetworkUsed(f"network access attempted: {args[:2]}")

    saved = socket.getaddrinfo, socket.socket.connect
    socket.getaddrinfo, socket.socket.connect = refuse, refuse
    try:
        yield
    finally:
        socket.getaddrinfo, socket.socket.connect = saved


def prepare(data_dir, source_dir, limit=None):
    """Build the dataset from `source_dir`'s IDX files into `data_dir` (offline)."""
    tfds.disable_progress_bar()
    with no_network():
        AlaeBenchFashionMnist(data_dir=str(data_dir), source_dir=source_dir, limit=limit).download_and_prepare()

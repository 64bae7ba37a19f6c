"""Two tiny TFDS datasets generated from in-memory arrays, to test the tfds source offline.

tfds needs builders to be defined in an importable package module (not a test's __main__),
hence this file. `alae_tiny_images` has fixed-size 10x12 RGB images with labels and splits
train/validation (no test, to exercise the fallback); `alae_tiny_varsize` has unlabelled grey
images of varying size, which the loader must read one at a time.
"""

import numpy as np
import tensorflow_datasets as tfds

SIZES = {"train": 6, "validation": 3}


def arrays(split: str) -> tuple[np.ndarray, np.ndarray]:
    """The exact images [n, 10, 12, 3] uint8 and labels [n] stored for `split`."""
    rng = np.random.default_rng(list(SIZES).index(split))
    n = SIZES[split]
    return rng.integers(0, 256, (n, 10, 12, 3), dtype=np.uint8), rng.integers(0, 5, n)


def varsize_images() -> list[np.ndarray]:
    """The grey images [h, w, 1] of `alae_tiny_varsize`'s train split, sizes all different."""
    rng = np.random.default_rng(7)
    return [rng.integers(0, 256, (h, w, 1), dtype=np.uint8) for h, w in [(8, 8), (9, 15), (20, 6)]]


class AlaeTinyImages(tfds.core.GeneratorBasedBuilder):
    VERSION = tfds.core.Version("1.0.0")

    def _info(self):
        # disable_shuffling keeps generation order, so tests can compare arrays exactly.
        return self.dataset_info_from_configs(
            disable_shuffling=True,
            features=tfds.features.FeaturesDict(
                {
                    "image": tfds.features.Image(shape=(10, 12, 3)),
                    "label": tfds.features.ClassLabel(num_classes=5),
                }
            ),
        )

    def _split_generators(self, dl_manager):
        return {split: self._generate_examples(split) for split in SIZES}

    def _generate_examples(self, split):
        images, labels = arrays(split)
        for i, (image, label) in enumerate(zip(images, labels)):
            yield i, {"image": image, "label": int(label)}


class AlaeTinyVarsize(tfds.core.GeneratorBasedBuilder):
    VERSION = tfds.core.Version("1.0.0")

    def _info(self):
        return self.dataset_info_from_configs(
            disable_shuffling=True,
            features=tfds.features.FeaturesDict(
                {
                    "image": tfds.features.Image(shape=(None, None, 1)),
                }
            ),
        )

    def _split_generators(self, dl_manager):
        return {"train": self._generate_examples()}

    def _generate_examples(self):
        for i, image in enumerate(varsize_images()):
            yield i, {"image": image}

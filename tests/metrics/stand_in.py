"""Stand-ins for an ALAE and a feature network, built from plain functions."""

import numpy as np

from alae_tf import metrics


class StandIn:
    """A stand-in ALAE made of plain functions: F, G, E on tensors (D unused)."""

    def __init__(self, mapping=None, generator=None, encoder=None, latent_size=4):
        identity = lambda x, training=False: x  # noqa: E731
        self.mapping = mapping or identity
        self.generator = generator or identity
        self.encoder = encoder or identity
        self.latent_size = latent_size

    def nets(self, use_ema=True):
        return self.mapping, self.generator, self.encoder, None

    def encode(self, x, use_ema=True):
        return self.encoder(x)

    def decode(self, w, use_ema=True, noise_seed=None):
        return self.generator(w)

    def generate(self, z, use_ema=True):
        return self.generator(self.mapping(z))


class FlatFeatures:
    """A feature network that returns the pixels: `[N, H, W, C]` -> `[N, H*W*C]`."""

    name = "flat"

    def __call__(self, images, pixel_range):
        images = np.asarray(images, np.float32)
        return images.reshape(len(images), -1)


def context(model, test_images, train_images=None, pixel_range=(0.0, 1.0), **options):
    """An EvalContext without labels; `options` are its optional fields."""
    train_images = test_images if train_images is None else train_images
    return metrics.EvalContext(
        model=model,
        train_images=train_images,
        train_labels=None,
        test_images=test_images,
        test_labels=None,
        pixel_range=pixel_range,
        **options,
    )

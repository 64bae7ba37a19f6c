"""The metric registry and the context every metric receives."""

import dataclasses
import functools

import numpy as np

METRICS = {}


def register(name):
    """Decorator: `@register("knn5")` makes a function `fn(ctx) -> dict[str, float]` a metric."""

    def wrap(fn):
        if name in METRICS:
            raise ValueError(f"metric {name!r} registered twice")
        METRICS[name] = fn
        return fn

    return wrap


@dataclasses.dataclass
class EvalContext:
    """What a metric may use; encodings are computed once and shared.

    Attributes:
        model: a restored `ALAE`.
        train_images, train_labels: uint8 `[N, H, W, C]`, int64 `[N]` (labels may be None).
        test_images, test_labels: the same for the evaluation split.
        pixel_range: the model's pixel range.
        batch_size: inference batch size.
        use_ema: evaluate the EMA nets (default) or the trained ones.
    """

    model: object
    train_images: np.ndarray
    train_labels: np.ndarray | None
    test_images: np.ndarray
    test_labels: np.ndarray | None
    pixel_range: tuple
    batch_size: int = 500
    use_ema: bool = True

    def batches(self, images):
        from alae_tf import data

        return data.eval_batches(images, batch_size=self.batch_size, pixel_range=self.pixel_range)

    def encode(self, images):
        """E(x) for uint8 images, as float32 numpy `[N, dlatent]`."""
        encode = self._encode_fn
        return np.concatenate([encode(batch).numpy() for batch in self.batches(images)]).astype(np.float32)

    @functools.cached_property
    def train_codes(self):
        return self.encode(self.train_images)

    @functools.cached_property
    def test_codes(self):
        return self.encode(self.test_images)

    @functools.cached_property
    def _encode_fn(self):
        import tensorflow as tf

        encoder = self.model.nets(self.use_ema)[2]
        return tf.function(lambda x: tf.cast(encoder(x, training=False), tf.float32), reduce_retracing=True)


def compute(names, ctx):
    """Run the metrics `names` on `ctx`; returns one merged dict of results."""
    unknown = [n for n in names if n not in METRICS]
    if unknown:
        raise ValueError(f"unknown metrics {unknown}; known: {sorted(METRICS)}")
    results = {}
    for name in names:
        results.update(METRICS[name](ctx))
    return results

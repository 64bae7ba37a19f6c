"""The context every metric receives: a restored model, the images, and what metrics share.

Encodings, samples and features are computed once per evaluation and shared between metrics.
"""

import dataclasses
import functools

import numpy as np

from alae_tf.features import require_judge

# What `EvalContext.image_features` can embed: the evaluation split, samples G(F(z)), and
# reconstructions G(E(x)) of the evaluation split.
IMAGE_SETS = ("real", "generated", "reconstructed")
# The neighbours `EvalContext.test_neighbours` searches for at least: the k-NN metrics' largest k.
SHARED_NEIGHBOURS = 5


def features_of(extractor, batches, pixel_range):
    """Features of a set of images given in batches, as one float64 array `[N, d]`.

    Args:
        extractor: a feature network, `extractor(images [B, H, W, C], pixel_range) -> [B, d]`
            (see `alae_tf.features`).
        batches: an iterable of float image batches in `pixel_range`.
    """
    return np.concatenate([np.asarray(extractor(batch, pixel_range), np.float64) for batch in batches])


@dataclasses.dataclass
class EvalContext:
    """What a metric may use; encodings and features are computed once and shared.

    Attributes:
        model: a restored `ALAE` (or a stand-in with `nets`, `encode`, `decode`,
            `generate` and `latent_size`).
        train_images, train_labels: uint8 `[N, H, W, C]`, int64 `[N]` (labels may be None).
        test_images, test_labels: the same for the evaluation split.
        pixel_range: the model's pixel range.
        batch_size: inference batch size.
        use_ema: evaluate the EMA nets (default) or the trained ones.
        features: the feature network of fd/kid/ppl (`alae_tf.features`), or None; its
            `name` goes into the result keys.
        num_samples: generated samples for fd/kid/latent_cycle, and at most this many
            evaluation images for fd/kid/recon.
        kid_subsets, kid_subset_size: KID is averaged over this many random subsets of
            this size (capped by the sample counts).
        ppl_samples: w pairs of perceptual path length.
        ppl_epsilon: PPL's step along the path.
        svm_steps, svm_l2: at most this many Newton iterations (per class) and the L2 weight of
            the linear SVM (it stops earlier once converged).
        seed: seed of every z, t and subset draw, so a metric repeats exactly.
    """

    model: object
    train_images: np.ndarray
    train_labels: np.ndarray | None
    test_images: np.ndarray
    test_labels: np.ndarray | None
    pixel_range: tuple
    batch_size: int = 500
    use_ema: bool = True
    features: object = None
    num_samples: int = 10000
    kid_subsets: int = 100
    kid_subset_size: int = 1000
    ppl_samples: int = 10000
    ppl_epsilon: float = 1e-4
    svm_steps: int = 1000
    svm_l2: float = 1e-4
    seed: int = 0
    _feature_cache: dict = dataclasses.field(default_factory=dict, init=False, repr=False)

    def batches(self, images):
        """Float batches in the pixel range from uint8 images `[N, H, W, C]`."""
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

    def cached(self, key, make):
        """`make()`, computed once per context and kept under `key` (e.g. a fit several metrics share)."""
        if key not in self._feature_cache:
            self._feature_cache[key] = make()
        return self._feature_cache[key]

    def test_neighbours(self, k):
        """Indices `[M, k]` of each test code's `k` nearest train codes, nearest first (`probes.nearest_neighbours`).

        One search, for at least `SHARED_NEIGHBOURS`, serves every smaller k (1-NN and 5-NN share it).
        """
        from alae_tf.probes import nearest_neighbours

        cached = self._feature_cache.get("neighbours")
        if cached is None or cached.shape[1] < k:
            cached = nearest_neighbours(self.train_codes, self.test_codes, max(k, SHARED_NEIGHBOURS))
            self._feature_cache["neighbours"] = cached
        return cached[:, :k]

    @property
    def eval_images(self):
        """The first `num_samples` evaluation images, uint8 `[n, H, W, C]`."""
        return self.test_images[: self.num_samples]

    def clip(self, images):
        """Float32 images clipped to the pixel range, as they are when shown or saved."""
        import tensorflow as tf

        lo, hi = self.pixel_range
        return tf.clip_by_value(tf.cast(images, tf.float32), lo, hi)

    def latents(self, count, stream):
        """z batches `[<= batch_size, latent]` float32 numpy, `count` rows in all.

        Draws are keyed by (`seed`, `stream`): each metric uses its own stream, so it sees
        the same z whichever metrics run before it.
        """
        rng = np.random.default_rng([self.seed, stream])
        for start in range(0, count, self.batch_size):
            n = min(self.batch_size, count - start)
            yield rng.standard_normal((n, self.model.latent_size)).astype(np.float32)

    def require_features(self):
        """The feature network, or a ValueError saying how to get one."""
        if self.features is None:
            raise ValueError(
                "this metric needs a feature network: train one with `alae-train-judge "
                "--dataset=... --output=FILE.keras` and pass it (or supply Inception-v3 weights)"
            )
        return self.features

    def require_judge(self):
        """The feature network if it can judge classes (`alae_tf.features.require_judge`), else a ValueError."""
        return require_judge(self.require_features())

    def image_features(self, which):
        """Features `[n, d]` (float64) of one of `IMAGE_SETS`, by `self.features`; cached.

        "real": `eval_images`; "generated": `num_samples` clipped G(F(z)) (z stream 0);
        "reconstructed": clipped G(E(x)) of `eval_images`.
        """
        features = self.require_features()
        if which not in IMAGE_SETS:
            raise ValueError(f"unknown image set {which!r}; known: {IMAGE_SETS}")
        key = (features.name, which)
        if key not in self._feature_cache:
            if which == "real":
                batches = self.batches(self.eval_images)
            elif which == "generated":
                batches = (self.clip(self._generate_fn(z)) for z in self.latents(self.num_samples, stream=0))
            else:
                batches = (self.clip(self._reconstruct_fn(x)) for x in self.batches(self.eval_images))
            self._feature_cache[key] = features_of(features, batches, self.pixel_range)
        return self._feature_cache[key]

    @property
    def mapping(self):
        """F, `[B, latent] -> [B, dlatent]`, of the evaluated nets."""
        return self.model.nets(self.use_ema)[0]

    @functools.cached_property
    def _encode_fn(self):
        import tensorflow as tf

        # The nets hand their outputs over in float32 whatever the training precision.
        return tf.function(lambda x: self.model.encode(x, use_ema=self.use_ema), reduce_retracing=True)

    @functools.cached_property
    def _decode_fn(self):
        """G(w) as float32; style nets get the same noise for the same `noise_seed` `[2]`."""
        import tensorflow as tf

        return tf.function(
            lambda w, noise_seed=None: self.model.decode(w, use_ema=self.use_ema, noise_seed=noise_seed),
            reduce_retracing=True,
        )

    @functools.cached_property
    def _generate_fn(self):
        import tensorflow as tf

        return tf.function(lambda z: self.model.generate(z, use_ema=self.use_ema), reduce_retracing=True)

    @functools.cached_property
    def _reconstruct_fn(self):
        import tensorflow as tf

        return tf.function(lambda x: self._decode_fn(self._encode_fn(x)), reduce_retracing=True)

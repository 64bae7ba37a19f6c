"""Class transport: move a code from its class to another by the Gaussian optimal-transport map.

A class-mean edit translates every code of the source class by one vector, so a code far from its
class's mean lands where the target class has no codes, and G draws a blend of the two (a garment's
outline inside a shoe). `ClassTransport` fits a Gaussian `N(m_c, C_c)` to each class's codes and
moves a code `w` of class s to class t by the map that carries `N(m_s, C_s)` onto `N(m_t, C_t)`
with the least mean squared displacement:

    T_st(w) = m_t + A_st (w - m_s),   A_st = C_s^-1/2 (C_s^1/2 C_t C_s^1/2)^1/2 C_s^-1/2

(symmetric, positive semi-definite). The code keeps its place within the class, in the class's own
spread: a wide shirt becomes a wide coat, not the mean coat plus the shirt's offset. An edit at
strength k is `w + k (T_st(w) - w)`: strength 0 is the reconstruction, 1 the full transport, and the
mean of the source class moves exactly as a class-mean edit of the same strength would.

Numpy on codes, like `supervised`: fit on `codes.encode_dataset(...)` of labelled images, then
decode the moved codes (`operations` or `model.decode`). `benchmarks/edit_realism.py --edit=
class_transport` measures it against class-mean edits.
"""

from __future__ import annotations

import pathlib

import numpy as np

from alae_tf.editing.checks import check_codes, check_labels
from alae_tf.editing.directions import read_npz, write_npz
from alae_tf.editing.errors import EditingError
from alae_tf.probes import gaussian_transport_matrix

# Added to every covariance, times its mean variance: keeps the inverses finite for a class whose codes
# are (nearly) all alike, where even the Ledoit-Wolf covariance is singular.
RIDGE = 1e-6
FORMAT = "alae_tf.class_transport.v1"


def ledoit_wolf(centred) -> np.ndarray:
    """The Ledoit-Wolf covariance `[d, d]` of centred rows `[n, d]`: the sample covariance shrunk towards
    a multiple of the identity by the weight that minimizes the expected squared error (Ledoit & Wolf 2004,
    as scikit-learn computes it).

    With many codes per class the weight is near 0 and this is the sample covariance; with fewer codes than
    latent dimensions the sample covariance is singular, and the transport would blow up the directions a
    class's few codes happen not to span.
    """
    n, d = centred.shape
    sample = centred.T @ centred / n
    mu = np.trace(sample) / d
    squares = centred**2
    delta = np.sum(sample**2)
    beta = (np.sum(squares.T @ squares) / n - delta) / (d * n)
    delta = (delta - 2.0 * mu * np.trace(sample) + d * mu**2) / d
    weight = 0.0 if delta <= 0 else min(beta, delta) / delta
    return (1.0 - weight) * sample + weight * mu * np.eye(d)


class ClassTransport:
    """Per-class Gaussians of codes and the optimal-transport maps between them.

    Args:
        means: `[K, latent]` class means of w.
        covariances: `[K, latent, latent]` class covariances.
        counts: `[K]` codes per class (0: a class without codes, which cannot be moved from or to).
        provenance: where the codes came from (e.g. `codes.run_provenance(...)`), kept in `save`.
    """

    def __init__(self, means, covariances, counts, provenance: dict | None = None):
        self.means = np.asarray(means, np.float64)
        self.covariances = np.asarray(covariances, np.float64)
        self.counts = np.asarray(counts, np.int64)
        k, d = self.means.shape if self.means.ndim == 2 else (None, None)
        if k is None or self.covariances.shape != (k, d, d) or self.counts.shape != (k,):
            raise EditingError(
                "ClassTransport: means [K, latent], covariances [K, latent, latent] and counts [K] must agree, "
                f"got {self.means.shape}, {self.covariances.shape}, {self.counts.shape}"
            )
        self.provenance = dict(provenance or {})
        self._maps: dict[tuple[int, int], np.ndarray] = {}
        self._terms = None

    @classmethod
    def fit(cls, w, labels, provenance: dict | None = None) -> ClassTransport:
        """Fit each class's mean and (Ledoit-Wolf) covariance from codes `w [N, latent]` and int labels `[N]`.

        Raises:
            EditingError: bad shapes, or a class with a single code (no spread to fit).
        """
        what = "ClassTransport.fit"
        w = check_codes(w, what)
        labels = check_labels(labels, len(w), what)
        k, d = int(labels.max()) + 1, w.shape[1]
        means, covariances = np.zeros((k, d)), np.zeros((k, d, d))
        counts = np.bincount(labels, minlength=k)
        for c in np.flatnonzero(counts):
            if counts[c] < 2:
                raise EditingError(f"{what}: class {c} has a single code; each class needs at least 2")
            members = w[labels == c]
            means[c] = members.mean(axis=0)
            covariances[c] = ledoit_wolf(members - means[c])
        return cls(means, covariances, counts, {**(provenance or {}), "method": "class_transport"})

    @property
    def num_classes(self) -> int:
        return len(self.means)

    @property
    def latent_size(self) -> int:
        return self.means.shape[1]

    def check_class(self, c, what: str) -> int:
        """`c` as an int if it is a class with codes, else an `EditingError` from `what` listing the fitted classes."""
        c = int(c)
        if not 0 <= c < self.num_classes or self.counts[c] == 0:
            present = np.flatnonzero(self.counts).tolist()
            raise EditingError(f"{what}: class {c} has no codes; fitted classes: {present}")
        return c

    def ridged(self, c: int) -> np.ndarray:
        """Class `c`'s covariance `[d, d]` plus `RIDGE` times its mean variance: what the maps and `classify` use."""
        cov = self.covariances[c]
        return cov + RIDGE * max(np.trace(cov) / len(cov), 1e-12) * np.eye(len(cov))

    def _check_w(self, w, what: str) -> np.ndarray:
        w = np.asarray(w, np.float64)
        if w.ndim != 2 or w.shape[1] != self.latent_size:
            raise EditingError(f"ClassTransport.{what}: codes must be [B, {self.latent_size}], got {w.shape}")
        return w

    def matrix(self, source: int, target: int) -> np.ndarray:
        """`A_st [latent, latent]`, symmetric positive semi-definite (identity when source == target)."""
        s, t = self.check_class(source, "matrix: source"), self.check_class(target, "matrix: target")
        if (s, t) not in self._maps:
            a = gaussian_transport_matrix(self.ridged(s), self.ridged(t))
            self._maps[(s, t)] = np.eye(len(a)) if s == t else a
        return self._maps[(s, t)]

    def gaussian_terms(self) -> tuple[np.ndarray, np.ndarray]:
        """`(precisions [K, d, d], log-determinants [K])` of the classes' (ridged) covariances, computed once.

        A class without codes has a zero precision and an infinite log-determinant: no code is ever its.
        """
        if self._terms is None:
            precisions, log_dets = np.zeros_like(self.covariances), np.full(self.num_classes, np.inf)
            for c in np.flatnonzero(self.counts):
                covariance = self.ridged(c)
                precisions[c], log_dets[c] = np.linalg.inv(covariance), np.linalg.slogdet(covariance)[1]
            self._terms = (precisions, log_dets)
        return self._terms

    def classify(self, w) -> np.ndarray:
        """The class whose Gaussian gives each code `[B, latent]` the highest likelihood (QDA): int64 `[B]`.

        The source class of images without labels (your own images), for `apply`.
        """
        w = self._check_w(w, "classify")
        precisions, log_dets = self.gaussian_terms()
        # One class at a time: `[B, d]` in memory, not `[B, K, d]`.
        scores = [
            -0.5 * (np.einsum("bi,ij,bj->b", w - mean, precision, w - mean) + log_det)
            for mean, precision, log_det in zip(self.means, precisions, log_dets)
        ]
        return np.argmax(np.stack(scores, axis=1), axis=1).astype(np.int64)

    def apply(self, w, sources, targets, strength: float = 1.0) -> np.ndarray:
        """Codes moved from their classes towards the targets: `w + strength (T_st(w) - w)`.

        Args:
            w: codes `[B, latent]` (E(x) of the images to edit).
            sources, targets: int classes `[B]` (or one int for all): each code's class and the class
                it moves to; `sources=None` takes `classify(w)`.
            strength: one number, or one per code `[B]`: 0 gives `w`, 1 the full transport; beyond 1 extrapolates.
        Returns:
            float64 `[B, latent]`.
        """
        w = self._check_w(w, "apply")
        sources = self.classify(w) if sources is None else sources
        sources = np.broadcast_to(np.asarray(sources), (len(w),)).astype(np.int64)
        targets = np.broadcast_to(np.asarray(targets), (len(w),)).astype(np.int64)
        strength = np.broadcast_to(np.asarray(strength, np.float64), (len(w),))
        moved = np.empty_like(w)
        for s, t in set(zip(sources.tolist(), targets.tolist())):
            rows = (sources == s) & (targets == t)
            a = self.matrix(s, t)  # checks both classes
            transported = self.means[t] + (w[rows] - self.means[s]) @ a.T
            moved[rows] = w[rows] + strength[rows, None] * (transported - w[rows])
        return moved

    def save(self, path: str | pathlib.Path) -> pathlib.Path:
        """Write the Gaussians and the provenance to `path` (an `.npz`) atomically; returns the path."""
        arrays = {"means": self.means, "covariances": self.covariances, "counts": self.counts}
        return write_npz(path, FORMAT, self.provenance, **arrays)

    @classmethod
    def load(cls, path: str | pathlib.Path) -> ClassTransport:
        """What `save` wrote; anything else is an `EditingError` naming the file."""
        fields, provenance = read_npz(path, FORMAT, ("means", "covariances", "counts"), "class transport")
        return cls(fields["means"], fields["covariances"], fields["counts"], provenance)

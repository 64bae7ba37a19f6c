"""Class transport in the exported editor: the `transport` signature's constants, graph and asset.

`TransportBake.of(transport)` turns a fitted `editing.ClassTransport` into the constants the graph
needs: the class means `[K, latent]`, every pair's map `A_st` `[K, K, latent, latent]`, and each
class's precision matrix and log-determinant for classifying a code (the library's `classify`).
`TransportBake.move` is the library's `classify` + `apply` in TensorFlow. The fitted Gaussians are
written beside the SavedModel as `assets.extra/class_transport.npz` (`ClassTransport.save`), with
their provenance.
"""

import dataclasses
import pathlib

import numpy as np
import tensorflow as tf

from alae_tf import editing, storage
from alae_tf.editing.transport_edits import WORKDIR_TRANSPORT
from alae_tf.export.artifacts import ExportError

TRANSPORT_PATH = pathlib.Path("assets.extra") / "class_transport.npz"
# K^2 latent^2 float32 numbers of pair maps: 10 classes of a 512-d w are 105 MB; more is refused.
MAX_MAP_NUMBERS = 32 * 2**20


@dataclasses.dataclass(frozen=True)
class TransportBake:
    """A `ClassTransport` as graph constants (float32): `means [K, d]`, `maps [K, K, d, d]`,
    `precisions [K, d, d]`, `log_dets [K]`, and the transport itself (`source`, for the asset)."""

    source: editing.ClassTransport
    means: np.ndarray
    maps: np.ndarray
    precisions: np.ndarray
    log_dets: np.ndarray

    @classmethod
    def of(cls, transport, latent_size):
        """The bake of `transport` (None gives None).

        Raises:
            ExportError: codes of another size, a class without codes (every class 0..K-1 must be
                a target), or more pair-map numbers than `MAX_MAP_NUMBERS`.
        """
        if transport is None:
            return None
        if not isinstance(transport, editing.ClassTransport):
            raise ExportError(f"transport must be an alae_tf.editing.ClassTransport, got {type(transport).__name__}")
        k, d = transport.num_classes, transport.latent_size
        if d != int(latent_size):
            raise ExportError(
                f"the class transport was fitted on codes of {d} numbers; this model's w has {latent_size}"
            )
        empty = np.flatnonzero(transport.counts == 0).tolist()
        if empty:
            raise ExportError(f"the class transport has no codes of classes {empty}; fit it on data with every class")
        if k * k * d * d > MAX_MAP_NUMBERS:
            raise ExportError(
                f"{k} classes of a {d}-d w need {k * k * d * d:,} numbers of pair maps (at most {MAX_MAP_NUMBERS:,})"
            )
        maps = np.stack([np.stack([transport.matrix(s, t) for t in range(k)]) for s in range(k)])
        precisions, log_dets = transport.gaussian_terms()
        as32 = lambda a: np.asarray(a, np.float32)  # noqa: E731
        return cls(transport, as32(transport.means), as32(maps), as32(precisions), as32(log_dets))

    @property
    def num_classes(self):
        return len(self.means)

    def move(self, w, target, strength):
        """`(moved codes [B, d], source classes int32 [B])`: each code classified, then transported to `target`."""
        means = tf.constant(self.means)
        centred = w[:, None, :] - means[None]  # [B, K, d]
        distance = tf.einsum("bkd,kde,bke->bk", centred, tf.constant(self.precisions), centred)
        source = tf.argmax(-0.5 * (distance + tf.constant(self.log_dets)[None]), axis=1, output_type=tf.int32)
        maps = tf.gather_nd(tf.constant(self.maps), tf.stack([source, target], axis=1))  # [B, d, d]
        transported = tf.gather(means, target) + tf.einsum("bde,be->bd", maps, w - tf.gather(means, source))
        return w + strength[:, None] * (transported - w), source


def write_transport_asset(saved_model_dir, bake):
    """Write `assets.extra/class_transport.npz` (the fitted Gaussians and their provenance)."""
    bake.source.save(storage.path(saved_model_dir) / TRANSPORT_PATH)


def read_transport_asset(saved_model_dir):
    """The `ClassTransport` baked into an exported editor, or None if it has none."""
    path = storage.path(saved_model_dir) / TRANSPORT_PATH
    return editing.ClassTransport.load(path) if path.is_file() else None


def workdir_transport(workdir):
    """The class transport saved in `WORKDIR/class_transport.npz`, or None.

    Raises:
        ExportError: a file there that is not a class transport.
    """
    path = storage.path(workdir) / WORKDIR_TRANSPORT
    if not path.is_file():
        return None
    try:
        return editing.ClassTransport.load(path)
    except editing.EditingError as e:
        raise ExportError(f"cannot bake the run's class transport into the editor: {e}") from e

"""Exponential moving averages of nets: the copies ALAE samples, evaluates and exports with."""

from collections.abc import Iterable, Sequence

import keras
import tensorflow as tf


def ema_copy(net: keras.layers.Layer, prefix: str = "ema") -> keras.layers.Layer:
    """A frozen copy of `net` named `<prefix>_<name>`, rebuilt from its config, holding its current weights.

    The name fixes the copy's variable paths (`ema_encoder/...`): checkpoints
    are keyed by them.
    """
    copy = type(net).from_config({**net.get_config(), "name": f"{prefix}_{net.name}"})
    copy.trainable = False
    for target, source in zip(copy.weights, net.weights):
        target.assign(source)
    return copy


class ExponentialMovingAverage:
    """Owns one EMA copy per net and moves them towards the nets: `ema += (1 - beta) * (net - ema)`.

    `beta = 0.5 ** (batch / halflife_images)` per update, so a net's
    influence on its copy halves every `halflife_images` images whatever the
    batch size. A copy has its net's shapes and dtypes; its variable `k`
    follows the net's variable `k`.

    This is a plain object: Keras does not track it, so the model that uses
    it must hold the copies as its own attributes for `model.weights` (and
    with it checkpoints) to include them.

    Args:
        nets: the trained nets (Keras layers with `get_config` / `from_config`).

    Attributes:
        nets: the trained nets, as given.
        copies: their EMA copies (`ema_copy`), in the same order.
    """

    def __init__(self, nets: Sequence[keras.layers.Layer]):
        self.nets = tuple(nets)
        self.copies = tuple(ema_copy(net) for net in self.nets)

    @staticmethod
    def beta(batch_size: int | tf.Tensor, halflife_images: float) -> tf.Tensor:
        """The decay of one update after `batch_size` images (a float32 scalar)."""
        return tf.pow(0.5, tf.cast(batch_size, tf.float32) / halflife_images)

    def update(
        self, batch_size: int | tf.Tensor, halflife_images: float, variables: Iterable[tf.Variable] | None = None
    ) -> None:
        """Move the copies towards the nets after they learned from `batch_size` images.

        Args:
            batch_size: the global batch (all replicas' images).
            halflife_images: the half-life in images (> 0), read per update.
            variables: the trained variables to follow (default: all weights).
                The training step passes the ones its optimizers updated: a
                style net holds every level's layers, and at 4 px the EMA of
                the others was a large share of the step. The copies of the
                others stay as they are: equal to their nets (the levels not
                yet reached), or where their level ended (the to-RGB and
                from-RGB layers of levels left behind, which no later level
                uses again).
        """
        beta = self.beta(batch_size, halflife_images)
        follow = None if variables is None else {id(v) for v in variables}
        for net, ema in zip(self.nets, self.copies):
            for source, target in zip(net.weights, ema.weights):
                if follow is not None and id(source) not in follow:
                    continue
                # `ema -= (1 - beta) * (ema - net)` as one fused in-place kernel (two
                # passes over the weights instead of four). On the variable's own
                # handle, so under a tf.distribute strategy each replica moves its
                # copy of the EMA by the same (all-reduced) amount.
                tf.raw_ops.ResourceApplyGradientDescent(
                    var=target.value.handle,
                    alpha=tf.cast(1.0 - beta, target.dtype),
                    delta=target.value - source.value,
                    use_locking=False,
                )

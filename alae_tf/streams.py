"""The random numbers of an ALAE training step, as stateless streams keyed by (seed, step counter).

Every draw of a step (z for the three updates, the second z of style mixing,
the generator's per-pixel noise) is a pure function of the model's seed, the
step counter and what the draw is for, so a resumed run draws exactly what an
uninterrupted one would (`keras.random` seed generators are not checkpointed).
Under a `tf.distribute` strategy every replica draws the global batch's
numbers and keeps its own rows (`distribute.replica_rows`), so the replica
count does not change the result.
"""

import tensorflow as tf

from alae_tf import distribute

# What a draw is for, folded into the step's key: each gets its own stream.
MIX_D, MIX_G, NOISE_D, NOISE_G, NOISE_AE = range(1, 6)


class StepStreams:
    """Random draws keyed by `(seed, step)`; `step` is read when a draw is made (in the trace).

    Args:
        seed: the run's seed (a Python int).
        step: the step counter (an int64 scalar variable).
    """

    def __init__(self, seed: int, step: tf.Variable):
        self.seed = int(seed)
        self.step = step

    def key(self, purpose: int) -> tf.Tensor:
        """A `[2]` stateless seed for the current step's draw for `purpose` (one of the constants above)."""
        key = tf.stack([tf.constant(self.seed, tf.int64), tf.cast(self.step, tf.int64)])
        return tf.random.experimental.stateless_fold_in(key, purpose)

    def latents(self, batch_size: int | tf.Tensor, size: int, count: int = 3) -> list[tf.Tensor]:
        """`count` z batches `[batch_size, size]` (this replica's rows under a strategy).

        Keyed by `(seed, step * count + k)`, not by `key`: the z streams of
        existing runs stay the same.
        """
        base = tf.cast(self.step, tf.int64) * count
        return [
            distribute.replica_rows(
                lambda rows, k=k: tf.random.stateless_normal(
                    tf.stack([rows, size]), seed=tf.stack([tf.constant(self.seed, tf.int64), base + k])
                ),
                batch_size,
            )
            for k in range(count)
        ]

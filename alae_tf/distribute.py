"""tf.distribute for ALAE training: strategies by name, and the replica arithmetic of the step.

Keras' own distribution API does not cover the TF backend, so ALAE scales with
`tf.distribute`: build and compile inside `strategy.scope()` and `fit` runs
`train_step` once per replica on that replica's rows of the global batch. The
step then needs a few things Keras does not do for a custom `train_step`:

- every loss is a mean over the replica's rows, and the optimizers SUM
  gradients over replicas, so gradients are weighted by `local / global` batch;
- z, style-mixing z and generator noise must differ per replica, yet a run
  should not depend on how many replicas share a batch: each replica draws the
  global batch's random numbers (a few KB) and keeps its own rows, so N
  replicas compute exactly what one device computes on the whole batch;
- state every replica keeps a copy of (step counters, the running mean of w,
  EMA weights) is updated on each copy with the same all-reduced values.

With one replica (the default strategy, a single GPU) every helper here is a
no-op decided at trace time, so single-device graphs carry no collectives.
"""

import functools

import keras
import tensorflow as tf

STRATEGIES = ("default", "mirrored", "multi_worker", "tpu")


@functools.cache
def make_strategy(name, tpu=None):
    """The `tf.distribute.Strategy` called `name` (one of `STRATEGIES`).

    - `default`: no distribution (one device: the GPU if there is one).
    - `mirrored`: every local GPU (or CPU device) of this machine.
    - `multi_worker`: every device of the cluster in `TF_CONFIG`; run the
      same command on each worker.
    - `tpu`: the TPU named by `tpu` (a TPU node's name or grpc:// address; None, "" or
      "local" for the TPU of this TPU VM).

    One per process (cached): TF's collectives do not support two mirrored
    strategies over the same devices in one process (they abort with shape
    mismatches).
    """
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multi_worker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    if name == "tpu":
        # "local": the chips of this TPU VM. An empty name would make TF look a TPU node up by
        # $TPU_NAME or the GCE metadata (Cloud TPU API), else fail: "Please provide a TPU Name".
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=tpu or "local")
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
        return tf.distribute.TPUStrategy(resolver)
    raise ValueError(f"strategy must be one of {STRATEGIES}, got {name!r}")


def is_chief(strategy):
    """True unless this process is a non-chief worker of a multi-worker cluster.

    Only the chief writes checkpoints, grids and logs into the shared workdir;
    the other workers compute the same steps and keep their outputs apart.
    """
    resolver = getattr(strategy, "cluster_resolver", None)
    if strategy is None or resolver is None or not resolver.cluster_spec().as_dict():
        return True
    task_type, task_id = resolver.task_type, resolver.task_id
    has_chief = "chief" in resolver.cluster_spec().as_dict()
    return task_type == "chief" or (not has_chief and task_type == "worker" and task_id == 0)


def in_multi_worker_mode(strategy=None):
    """True when `strategy` (default: the current one) spans more than one worker process.

    Exactly the condition under which Keras 3 reduces a train step's outputs with
    `strategy.reduce("MEAN", value, axis=0)` (see `step_outputs`).
    """
    strategy = tf.distribute.get_strategy() if strategy is None else strategy
    if not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return False
    return bool(strategy.extended._in_multi_worker_mode())  # noqa: SLF001  (Keras' own test, keras#72388)


def step_outputs(logs):
    """A train step's logs (scalars, the same on every replica) in the form `fit` can reduce.

    Keras 3 (up to 3.15 at least) reduces the values a train step returns with
    `tf.reduce_mean(<the replicas' values>, axis=0)` on one worker, but with
    `strategy.reduce("MEAN", value, axis=0)` under a multi-worker
    MultiWorkerMirroredStrategy: that treats each replica's value as a batch along
    axis 0, and a scalar (every `Metric.result()`) has no axis 0, so every
    multi-worker `fit` fails with "Invalid reduction dimension 0 for input with 0
    dimensions" (tensorflow/tensorflow#72388, also with Keras' built-in metrics).
    Each scalar goes out as a batch of one row per replica; the axis-0 mean over
    the cluster's rows then yields the scalar back (its mean over replicas: our
    losses are already global means, equal on every replica). Elsewhere unchanged.
    """
    if not in_multi_worker_mode():
        return logs
    return {name: tf.reshape(value, [1]) for name, value in logs.items()}


def across_workers(strategy, value):
    """`[value of replica 0, value of replica 1, ...]`: an int every worker of a cluster holds, all-gathered.

    `[value]` without a multi-worker strategy. One collective: call it on every worker at the same point.
    """
    if strategy is None or not in_multi_worker_mode(strategy):
        return [int(value)]
    local = tf.constant([int(value)], tf.int64)

    @tf.function
    def gather():
        return strategy.run(lambda: tf.distribute.get_replica_context().all_gather(local, axis=0))

    return [int(v) for v in strategy.experimental_local_results(gather())[0].numpy()]


def num_replicas():
    """Replicas sharing the current batch (a Python int).

    1 outside a replica function: code running in the cross-replica context
    (sampling grids, evaluation inside a strategy's scope) sees the whole batch.
    """
    context = tf.distribute.get_replica_context()
    return 1 if context is None else context.num_replicas_in_sync


def all_reduce_sum(value):
    """`value` summed over replicas (unchanged with one replica)."""
    if num_replicas() == 1:
        return value
    return tf.distribute.get_replica_context().all_reduce(tf.distribute.ReduceOp.SUM, value)


def any_replica(flag):
    """True on every replica if `flag` (a scalar bool) is true on any replica."""
    if num_replicas() == 1:
        return flag
    return all_reduce_sum(tf.cast(flag, tf.int32)) > 0


def batch_layout(local_batch):
    """`(offset, global_batch)`: where this replica's rows sit in the global batch.

    Rows are laid out by replica id, as `experimental_distribute_dataset`
    splits a batch; uneven splits are handled (each replica reports its size).
    With one replica: `(0, local_batch)`.
    """
    replicas = num_replicas()
    if replicas == 1:
        return 0, local_batch
    replica_id = tf.distribute.get_replica_context().replica_id_in_sync_group
    sizes = all_reduce_sum(tf.one_hot(replica_id, replicas, dtype=tf.int32) * tf.cast(local_batch, tf.int32))
    offset = tf.reduce_sum(sizes[:replica_id])
    return offset, tf.reduce_sum(sizes)


def replica_rows(draw, local_batch):
    """This replica's rows of `draw(global_batch)` (a tensor whose first axis is the batch).

    `draw` must be deterministic (stateless random ops keyed by the step), so
    every replica draws the same global tensor and the rows partition it.
    """
    offset, global_batch = batch_layout(local_batch)
    full = draw(global_batch)
    if num_replicas() == 1:
        return full
    return full[offset : offset + local_batch]


def global_mean(value, local_batch):
    """The global-batch mean from each replica's local mean `value` (identity with one replica)."""
    if num_replicas() == 1:
        return value
    _, global_batch = batch_layout(local_batch)
    weight = tf.cast(local_batch, value.dtype)
    return all_reduce_sum(value * weight) / tf.cast(global_batch, value.dtype)


def gradient_weight(local_batch):
    """`local / global` batch: turns a replica's mean loss into its share of the global mean.

    None with one replica (nothing to scale).
    """
    if num_replicas() == 1:
        return None
    _, global_batch = batch_layout(local_batch)
    return tf.cast(local_batch, tf.float32) / tf.cast(global_batch, tf.float32)


def assign_local(variable, value):
    """Assign `value` to this replica's copy of `variable` (every replica assigns the same value).

    `assign` on a mirrored variable inside a replica asks for an aggregation
    mode; these values are already replica-independent, so each copy is set
    directly.
    """
    if isinstance(variable, keras.Variable):
        variable = variable.value  # its tf.Variable (a MirroredVariable under a strategy)
    tf.raw_ops.AssignVariableOp(resource=variable.handle, value=tf.cast(value, variable.dtype))

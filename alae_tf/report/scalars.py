"""Scalars of a run's TensorBoard event files (what `alae_tf.monitor` logs), as numpy series."""

import numpy as np
import tensorflow as tf

from alae_tf import storage


def read_scalars(logdir) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Scalars of the TensorBoard event files in `logdir`: `{tag: (steps [n] int64, values [n] float64)}`.

    Steps are the image counts the monitor logs at, sorted. A resumed run logs again the steps
    after its last checkpoint; where a step was written twice the later write wins (the run
    that went on), so every step appears once. No event files: an empty dict.
    """
    by_tag = {}  # tag -> {step: (wall_time, value)}
    for path in sorted(storage.path(logdir).glob("events.out.tfevents.*")):
        for event in _events(path):
            for value in event.summary.value:
                if value.metadata.plugin_data.plugin_name != "scalars":
                    continue  # image grids
                scalar = float(tf.make_ndarray(value.tensor))
                steps = by_tag.setdefault(value.tag, {})
                if event.step not in steps or steps[event.step][0] <= event.wall_time:
                    steps[event.step] = (event.wall_time, scalar)
    return {
        tag: (np.array(sorted(steps), np.int64), np.array([steps[s][1] for s in sorted(steps)], np.float64))
        for tag, steps in by_tag.items()
    }


def _events(path):
    """The `Event` protos of one event file; a file cut short (a killed run) yields what it holds."""
    try:
        for record in tf.data.TFRecordDataset(str(path)):
            yield tf.compat.v1.Event.FromString(record.numpy())
    except tf.errors.DataLossError:
        return

r"""Evaluate a trained ALAE: `python -m alae_tf.evaluate --workdir=DIR` writes DIR/metrics.json."""

import json
import sys

from absl import app, flags

from alae_tf import data, evaluation, metrics
from alae_tf.checkpoint import CheckpointError

FLAGS = flags.FLAGS

flags.DEFINE_string("workdir", None, "Run folder written by alae_tf.train.", required=True)
flags.DEFINE_list("metrics", list(evaluation.DEFAULT_METRICS), f"Metrics to compute, from {sorted(metrics.METRICS)}.")
flags.DEFINE_string("split", "test", "Split evaluated (k-NN is fitted on 'train').")
flags.DEFINE_string("data_dir", None, "Overrides the dataset's default location.")
flags.DEFINE_bool("use_ema", True, "Evaluate the EMA nets (as the paper does) or the trained ones.")
flags.DEFINE_integer("batch_size", 500, "Inference batch size.", lower_bound=1)

flags.register_validator("metrics", lambda names: all(n in metrics.METRICS for n in names),
                         message=f"unknown metric; known: {sorted(metrics.METRICS)}")


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    try:
        report = evaluation.evaluate(FLAGS.workdir, FLAGS.metrics, FLAGS.split, FLAGS.data_dir, FLAGS.use_ema,
                                     FLAGS.batch_size)
    except (data.DatasetError, CheckpointError, ValueError) as e:
        # ValueError: a metric that cannot run on this model or data (e.g. no labels, no feature network).
        sys.exit(f"alae_tf.evaluate: error: {e}")
    print(json.dumps(report, indent=2, sort_keys=True))


if __name__ == "__main__":
    app.run(main)

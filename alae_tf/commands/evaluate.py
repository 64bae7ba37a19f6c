r"""Evaluate a trained ALAE: metrics.json, report.md and figures.

    alae-evaluate --workdir=W --metrics=knn1,knn5,svm,recon,fd,kid \
        --feature_net=fmnist_classifier.keras

writes `W/metrics.json` and `W/report/` (report.md, sample / reconstruction / interpolation
grids, training curves). FD, KID and PPL need a feature network: the project's classifier
(`--feature_net`, trained by `alae-train-judge`) or Inception-v3 when its weights
file is given (`--inception_weights`); their result keys carry its name (`fd_fmnist_classifier`,
`fd_inception`).
"""

import json
import sys

from absl import app, flags

import alae_tf.startup  # noqa: F401  (first: loads TensorFlow without its start-up notices)
from alae_tf import command_runner, data, evaluation, metrics, storage
from alae_tf.checkpoint import CheckpointError

FLAGS = flags.FLAGS

flags.DEFINE_string("workdir", None, "Run folder written by alae-train.", required=True)
flags.register_validator("workdir", storage.flag_validator)
flags.DEFINE_list("metrics", list(evaluation.DEFAULT_METRICS), f"Metrics to compute, from {sorted(metrics.METRICS)}.")
flags.DEFINE_string("split", "test", "Split evaluated (k-NN and SVM are fitted on 'train').")
flags.DEFINE_string("data_dir", None, "Overrides the dataset's default location.")
flags.DEFINE_bool("use_ema", True, "Evaluate the EMA nets (as the paper does) or the trained ones.")
flags.DEFINE_integer("batch_size", 500, "Inference batch size.", lower_bound=1)
# The feature network of fd / kid / fd_recon / kid_recon / ppl_*.
flags.DEFINE_string("feature_net", None, "Feature classifier (.keras) from `alae-train-judge`.")
flags.DEFINE_string(
    "inception_weights", None, "Inception-v3 include_top=False ImageNet weights (.h5); used instead of --feature_net."
)
# Sample counts and metric parameters, defaulting to alae_tf.metrics.EvalContext's; the report states them.
_DEFAULTS = evaluation.context_options()
flags.DEFINE_integer(
    "num_samples",
    _DEFAULTS["num_samples"],
    "Generated samples of fd/kid/latent_cycle, and at most this many evaluation images for fd/kid/recon.",
    lower_bound=2,
)
flags.DEFINE_integer("kid_subsets", _DEFAULTS["kid_subsets"], "KID: random subsets averaged.", lower_bound=1)
flags.DEFINE_integer(
    "kid_subset_size",
    _DEFAULTS["kid_subset_size"],
    "KID: images per subset (capped by the sample counts).",
    lower_bound=2,
)
flags.DEFINE_integer("ppl_samples", _DEFAULTS["ppl_samples"], "PPL: w pairs.", lower_bound=2)
flags.DEFINE_float("ppl_epsilon", _DEFAULTS["ppl_epsilon"], "PPL: step along the path (> 0).")
flags.DEFINE_integer(
    "svm_steps",
    _DEFAULTS["svm_steps"],
    "SVM: at most this many Newton iterations per class (it stops once converged).",
    lower_bound=1,
)
flags.DEFINE_integer("seed", _DEFAULTS["seed"], "Seed of every z, t and subset draw.")
# The report.
flags.DEFINE_bool("report", True, "Also write W/report/ (report.md and PNG figures).")
flags.DEFINE_float(
    "truncation_psi", None, "psi of the truncated sample grid (default: the preset's, else 0.7).", lower_bound=0.0
)

flags.register_validator(
    "metrics",
    lambda names: all(n in metrics.METRICS for n in names),
    message=f"unknown metric; known: {sorted(metrics.METRICS)}",
)
flags.register_validator("ppl_epsilon", lambda eps: eps > 0.0, message="--ppl_epsilon must be > 0")
flags.register_multi_flags_validator(
    ["feature_net", "inception_weights"],
    lambda f: not (f["feature_net"] and f["inception_weights"]),
    message="give one feature network: --feature_net or --inception_weights, not both",
)


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    options = {name: getattr(FLAGS, name) for name in evaluation.CONTEXT_OPTIONS if name in FLAGS}
    try:
        features = evaluation.load_features(FLAGS.feature_net, FLAGS.inception_weights)
        summary = evaluation.evaluate(
            FLAGS.workdir,
            FLAGS.metrics,
            FLAGS.split,
            FLAGS.data_dir,
            FLAGS.use_ema,
            FLAGS.batch_size,
            features=features,
            options=options,
            report=FLAGS.report,
            truncation_psi=FLAGS.truncation_psi,
        )
    except (data.DatasetError, CheckpointError, ValueError) as e:
        # ValueError (FeatureError among them): a metric that cannot run on this model or data
        # (no labels, no or a mismatched feature network), or an unreadable feature file.
        sys.exit(f"alae-evaluate: error: {e}")
    print(json.dumps(summary, indent=2, sort_keys=True))


def run():
    """The `alae-evaluate` console script: `app.run(main)` (`alae_tf.command_runner`)."""
    command_runner.run(main, __name__)


if __name__ == "__main__":
    run()

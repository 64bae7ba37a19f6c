r"""Train an ALAE: `alae-train --flagfile=flags/mnist_mlp.cfg --workdir=DIR`.

Running it again on the same workdir resumes exactly where it stopped;
`--train_images` is the run's total, so a larger value continues a finished run.
"""

import sys

from absl import app, flags

import alae_tf.startup  # noqa: F401  (first: loads TensorFlow without its start-up notices)
from alae_tf import command_runner, config_flags, data, distribute, training
from alae_tf import precision as precision_lib
from alae_tf.checkpoint import CheckpointError
from alae_tf.divergence import TrainingDivergedError
from alae_tf.run_lock import WorkdirBusyError
from alae_tf.time_budget import TimeBudgetError

FLAGS = flags.FLAGS
flags.adopt_module_key_flags(config_flags)  # --helpshort lists the preset flags too

flags.DEFINE_enum(
    "precision",
    "float32",
    ["auto", *training.PRECISIONS],
    "Compute precision: auto (mixed_float16 on GPUs, mixed_bfloat16 on TPUs; on CPUs the faster of float32 and "
    "mixed_bfloat16 for this run's step, timed for a few seconds and cached in WORKDIR/precision.json), "
    "float32, mixed_bfloat16, mixed_float16 (loss scaled). Weights, checkpoints and exports stay float32.",
)
flags.DEFINE_bool(
    "jit_compile",
    None,
    "XLA-compile the train step. Unset: with --precision=auto, on where it measured faster (MLP nets that "
    "train in float32 on one CPU device: up to 1.7x), off otherwise (bf16 and the style nets run slower under "
    "XLA on CPUs); off with an explicit --precision. Not with --strategy=mirrored|multi_worker.",
)
flags.DEFINE_enum(
    "strategy",
    "default",
    list(distribute.STRATEGIES),
    "tf.distribute strategy: default (one device), mirrored (all local GPUs), multi_worker "
    "(TF_CONFIG cluster), tpu. --batch_size is the global batch.",
)
flags.DEFINE_string(
    "tpu", None, "For --strategy=tpu: a TPU node's name or grpc:// address; unset (or 'local') on a TPU VM."
)
flags.DEFINE_integer("keep_checkpoints", 3, "How many checkpoints to keep.", lower_bound=1)
flags.DEFINE_integer("verbose", 1, "0: quiet, 1: progress bar.")
flags.DEFINE_enum(
    "bad_images",
    "skip",
    list(data.BAD_IMAGE_POLICIES),
    "Images of a folder or TFRecord set that do not decode: skip (train on the rest, name them in a warning) or "
    "fail (the first one is an error).",
)
flags.DEFINE_float(
    "max_bad_image_fraction",
    data.DEFAULT_MAX_BAD_FRACTION,
    "With --bad_images=skip: refuse the data when more than this fraction of its images do not decode.",
    lower_bound=0.0,
    upper_bound=1.0,
)

flags.register_multi_flags_validator(
    ["jit_compile", "strategy"],
    lambda f: not (f["jit_compile"] and f["strategy"] in ("mirrored", "multi_worker")),
    message="--jit_compile does not work with --strategy=mirrored|multi_worker (XLA fails under MirroredStrategy)",
)


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    config = config_flags.config_from_flags()
    precision = precision_lib.choose(config, FLAGS.precision, FLAGS.workdir, FLAGS.strategy)
    jit_compile = FLAGS.jit_compile
    if jit_compile is None:  # the fastest settings are --precision=auto's choice; an explicit precision: no XLA
        jit_compile = FLAGS.precision == "auto" and precision_lib.choose_jit_compile(config, precision, FLAGS.strategy)
    options = training.TrainOptions(
        workdir=FLAGS.workdir,
        train_images=config.train_images,
        train_minutes=FLAGS.train_minutes,
        seed=FLAGS.seed,
        checkpoint_every_images=FLAGS.checkpoint_every_images,
        log_every_steps=FLAGS.log_every_steps,
        precision=precision,
        jit_compile=jit_compile,
        strategy=FLAGS.strategy,
        tpu=FLAGS.tpu,
        data_dir=FLAGS.data_dir,
        bad_images=FLAGS.bad_images,
        max_bad_image_fraction=FLAGS.max_bad_image_fraction,
        keep_checkpoints=FLAGS.keep_checkpoints,
        verbose=FLAGS.verbose,
    )
    try:
        training.train(config, options)
    except (data.DatasetError, CheckpointError, TrainingDivergedError, WorkdirBusyError, TimeBudgetError) as e:
        sys.exit(f"alae-train: error: {e}")


def run():
    """The `alae-train` console script: `app.run(main)` (`alae_tf.command_runner`)."""
    command_runner.run(main, __name__)


if __name__ == "__main__":
    run()

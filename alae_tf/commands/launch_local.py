r"""Multi-worker training on one machine: N `alae-train` worker processes over loopback.

    alae-launch-local --num_workers=2 [--max_restarts=1] -- \
        --preset=mnist_mlp_tiny --batch_size=32 --workdir=/tmp/alae_mw

Everything after `--` goes to `alae-train` (`python -m alae_tf.commands.train`); each worker
gets `--strategy=multi_worker` and a `TF_CONFIG` naming free 127.0.0.1 ports (worker 0 is the
chief). A group that loses a member is stopped and, with `--max_restarts`, started again: it
resumes from the newest checkpoint (`alae_tf.local_cluster`).
"""

import signal
import sys

from absl import app, flags

from alae_tf import command_runner, local_cluster

FLAGS = flags.FLAGS

flags.DEFINE_integer("num_workers", 2, "Worker processes.", lower_bound=1)
flags.DEFINE_integer("max_restarts", 0, "Restart the whole group this often on a failure.", lower_bound=0)
flags.DEFINE_string("worker_log_dir", None, "Worker logs (default: a new temp folder, printed).")
flags.DEFINE_float("timeout", None, "Seconds before a group is stopped (default: none).", lower_bound=0.0)


def main(argv):
    train_args = argv[1:]
    if not train_args:
        raise app.UsageError("give alae-train's flags after --, e.g. -- --preset=mnist_mlp_tiny --workdir=/tmp/w")
    # SIGTERM to the launcher ends the group too (run's `finally`).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    return local_cluster.run(
        train_args, FLAGS.num_workers, FLAGS.max_restarts, FLAGS.worker_log_dir, timeout=FLAGS.timeout
    )


def run():
    """The `alae-launch-local` console script: `app.run(main)` (`alae_tf.command_runner`)."""
    command_runner.run(main, __name__)


if __name__ == "__main__":
    run()

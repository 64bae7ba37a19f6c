"""`alae_tf.startup`: the binaries start without TF's C++ notices, and real stderr output still shows."""

import logging
import os
import subprocess
import sys

from alae_tf import startup
from tests.conftest import REPO


def test_filtered_stderr_drops_the_notices_and_keeps_everything_else(capfd):
    with startup.filtered_stderr():
        os.write(2, b"I0000 port.cc:153] oneDNN custom operations are on. You may see ...\n")
        os.write(2, b"E0000 cuda_platform.cc:52] failed call to cuInit: INTERNAL\n")
        os.write(2, b"Traceback: a real import error\n")
        print("python stderr line", file=sys.stderr)
    err = capfd.readouterr().err
    assert "oneDNN" not in err and "cuInit" not in err
    assert "Traceback: a real import error\n" in err and "python stderr line\n" in err


def test_helpshort_prints_no_tensorflow_start_up_lines():
    env = {k: v for k, v in os.environ.items() if k not in ("TF_CPP_MIN_LOG_LEVEL", startup.VERBOSE_ENV)}
    result = subprocess.run(
        [sys.executable, "-m", "alae_tf.commands.train", "--helpshort"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "--workdir" in result.stdout, result.stderr  # absl's help exits 1 by design
    assert not startup.NOTICE.search(result.stdout + result.stderr), result.stderr


def test_tensorflow_info_records_are_dropped_and_everything_else_kept():
    keep = startup._DropTensorFlowInfo().filter

    def record(level, path):
        return logging.LogRecord("absl", level, path, 1, "message", None, None)

    assert not keep(record(logging.INFO, "/venv/lib/python3.11/site-packages/tensorflow/python/saver.py"))
    assert keep(record(logging.WARNING, "/venv/lib/python3.11/site-packages/tensorflow/python/saver.py"))
    assert keep(record(logging.INFO, str(REPO / "alae_tf" / "training.py")))

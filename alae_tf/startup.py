"""A quiet start for the binaries: imported first, it loads TensorFlow with its start-up notices filtered.

TF 2.21 writes oneDNN, CUDA-stub and cuInit notices to stderr from C++ before absl's logging
starts, whatever TF_CPP_MIN_LOG_LEVEL says, so every `--help` opened with a screen of them.
Importing this module imports TensorFlow and Keras and finds the devices with file
descriptor 2 captured, then writes back every captured line that is not one of those
notices (a real import error still shows). It also keeps TensorFlow's own INFO records out
of the log (one line per checkpoint shard and per SavedModel signature otherwise): TF's
Python logger is lowered to warnings, and the INFO records TF's modules write through absl's
logger directly are filtered by their source path; the binaries' own INFO lines stay.

Binaries import it before anything that imports TensorFlow (`import alae_tf.startup`, which
sorts above `from alae_tf import ...`). Set ALAE_TF_VERBOSE_STARTUP=1 to see everything.
Library code never imports it.
"""

import contextlib
import logging
import os
import re
import sys
import tempfile

VERBOSE_ENV = "ALAE_TF_VERBOSE_STARTUP"
# What TF and its stubs print at import and device discovery on a machine without a GPU.
NOTICE = re.compile(
    r"All log messages before absl::InitializeLog|oneDNN custom operations are on|cudart_stub|cuda_platform|"
    r"cuInit|cuda_dnn|cuda_fft|cuda_blas|Unable to register cu(DNN|FFT|BLAS) factory|computation_placer|"
    r"TF-TRT Warning|This TensorFlow binary is optimized|rebuild TensorFlow with the appropriate compiler flags|"
    r"cpu_feature_guard|absl::InitializeLog\(\) is called are written to STDERR"
)


@contextlib.contextmanager
def filtered_stderr(pattern=NOTICE):
    """Capture file descriptor 2 (C++ and Python writes alike); on exit, write back the lines not matching `pattern`."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile(mode="w+b") as capture:
        os.dup2(capture.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            kept = [
                line
                for line in capture.read().decode(errors="replace").splitlines(keepends=True)
                if not pattern.search(line)
            ]
            sys.stderr.write("".join(kept))
            sys.stderr.flush()


class _DropTensorFlowInfo(logging.Filter):
    """Drops INFO (and lower) records written from TensorFlow's own source files."""

    def filter(self, record):
        return record.levelno > logging.INFO or "/tensorflow/" not in record.pathname.replace("\\", "/")


def _quiet_import():
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")
    with filtered_stderr():
        import keras  # noqa: F401
        import tensorflow as tf

        tf.config.list_physical_devices()
    logging.getLogger("tensorflow").setLevel(logging.WARNING)
    from absl import logging as absl_logging

    absl_logging.get_absl_logger().addFilter(_DropTensorFlowInfo())


if not os.environ.get(VERBOSE_ENV):
    _quiet_import()

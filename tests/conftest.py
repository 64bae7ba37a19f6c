"""Shared test fixtures: paths to ../shared, quiet TF logging, two logical CPU devices."""

import os
import pathlib

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402

# Two logical CPU devices for the tf.distribute tests (MirroredStrategy over
# both). Only possible before TF starts its runtime, hence here at import.
try:
    tf.config.set_logical_device_configuration(
        tf.config.list_physical_devices("CPU")[0], [tf.config.LogicalDeviceConfiguration()] * 2
    )
except RuntimeError:  # runtime already started (e.g. conftest imported late): the tests needing two skip
    pass

REPO = pathlib.Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
FIXTURES = SHARED / "fixtures" / "official"
FACES = SHARED / "data" / "faces128"
FASHION_MNIST = pathlib.Path("/usr/share/datasets/fashion-mnist")


@pytest.fixture(scope="session")
def official_manifest():
    import json

    path = FIXTURES / "manifest.json"
    if not path.exists():
        pytest.skip(f"official fixtures not found at {FIXTURES}")
    return json.loads(path.read_text())

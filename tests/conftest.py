"""Shared test fixtures: paths to ../shared, quiet TF logging, two logical CPU devices.

Tests that need data from outside the repository (../shared, Debian's Fashion-MNIST) say so
with `@pytest.mark.needs_path(PATH, WHAT)` or `require_path(PATH, WHAT)`: on a developer's
machine without it they skip; in CI (`CI=true`) they fail with the path named, so a missing
checkout of ../shared can never turn the suite green by skipping.
"""

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
FASHION_MNIST_FILE = FASHION_MNIST / "train-images-idx3-ubyte.gz"
FASHION_MNIST_WHAT = "Debian's dataset-fashion-mnist (scripts/setup.sh installs it)"
FACES_WHAT = "the 146 aligned faces of ../shared/data/faces128"
FIXTURES_WHAT = "the official parity fixtures of ../shared/fixtures/official"


def ci_from_environment():
    """True where the CI environment variable says so (CI=true, as CI services set it)."""
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


IN_CI = ci_from_environment()


def require_path(path, what):
    """Skip the calling test when `path` is missing; in CI (CI=true) fail it, naming the path."""
    path = pathlib.Path(path)
    if path.exists():
        return
    message = f"{what}: {path} does not exist"
    if IN_CI:
        pytest.fail(f"{message} (CI=true: a test that needs it fails rather than skips)", pytrace=False)
    pytest.skip(message)


def require(condition, reason):
    """Skip the calling test unless `condition`; in CI (CI=true) fail it instead, with `reason`."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: a test that cannot run here fails rather than skips)", pytrace=False)
    pytest.skip(reason)


def permissions_hold(command):
    """`command` (an argv list) run so that file permissions hold even for root: as root, under `setpriv`
    without the capabilities that bypass them (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH); otherwise as it is."""
    if os.geteuid() != 0:
        return list(command)
    return ["setpriv", "--bounding-set=-dac_override,-dac_read_search", *command]


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "needs_path(path, what): needs this file or folder (skips without it; fails in CI)"
    )
    config.addinivalue_line(
        "markers", "needs(condition, reason): runs only where condition holds (skips elsewhere; fails in CI)"
    )


def pytest_runtest_setup(item):
    for mark in item.iter_markers("needs_path"):
        require_path(*mark.args)
    for mark in item.iter_markers("needs"):
        require(*mark.args)


needs_faces = pytest.mark.needs_path(FACES, FACES_WHAT)
needs_fashion_mnist = pytest.mark.needs_path(FASHION_MNIST_FILE, FASHION_MNIST_WHAT)
needs_fixtures = pytest.mark.needs_path(FIXTURES / "manifest.json", FIXTURES_WHAT)


@pytest.fixture(scope="session")
def official_manifest():
    import json

    path = FIXTURES / "manifest.json"
    require_path(path, FIXTURES_WHAT)
    return json.loads(path.read_text())

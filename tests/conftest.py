"""Shared test fixtures: paths to ../shared and quiet TF logging."""

import os
import pathlib

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest  # noqa: E402

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

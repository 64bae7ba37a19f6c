"""tests/conftest.py: data a test needs is skipped without it on a developer machine, never in CI."""

import pytest

from tests import conftest


def test_a_missing_path_skips_outside_ci(monkeypatch, tmp_path):
    monkeypatch.setattr(conftest, "IN_CI", False)
    with pytest.raises(pytest.skip.Exception, match="the faces: .*nowhere does not exist"):
        conftest.require_path(tmp_path / "nowhere", "the faces")


def test_a_missing_path_fails_in_ci_and_names_it(monkeypatch, tmp_path):
    monkeypatch.setattr(conftest, "IN_CI", True)
    with pytest.raises(pytest.fail.Exception, match=r"the faces: .*nowhere does not exist \(CI=true"):
        conftest.require_path(tmp_path / "nowhere", "the faces")


def test_a_present_path_passes(monkeypatch, tmp_path):
    monkeypatch.setattr(conftest, "IN_CI", True)
    conftest.require_path(tmp_path, "a folder")


@pytest.mark.parametrize("value, expected", [("true", True), ("1", True), ("", False), ("false", False)])
def test_ci_is_read_from_the_environment(monkeypatch, value, expected):
    monkeypatch.setenv("CI", value)
    assert conftest.ci_from_environment() is expected

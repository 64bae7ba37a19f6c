"""Corrupt images among good ones, through `alae-train`: the flags decide, the messages name."""

import shutil

import pytest

from tests.conftest import FACES, needs_faces
from tests.reliability.conftest import run_binary

pytestmark = needs_faces

STYLE = ("--preset=faces_tiny", "--images_per_level=16", "--batch_size=8", "--train_images=16")


@pytest.fixture(scope="module")
def faces_with_two_bad(tmp_path_factory):
    """The 146 faces plus a truncated PNG and a JPEG of random bytes: 2 of 148 (1.4 %) bad."""
    folder = tmp_path_factory.mktemp("faces") / "faces"
    shutil.copytree(FACES, folder)
    good = (folder / "00000.png").read_bytes()
    (folder / "zz_truncated.png").write_bytes(good[: len(good) // 3])
    (folder / "zz_noise.jpg").write_bytes(bytes(range(256)) * 4)
    return folder


def test_over_the_limit_is_refused_naming_the_files_and_the_flag(faces_with_two_bad, tmp_path):
    result = run_binary(tmp_path / "w", *STYLE, f"--dataset=folder:{faces_with_two_bad}")
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert "2 of 148 images" in last and "zz_truncated.png" in last and "--max_bad_image_fraction" in last, last
    assert not (tmp_path / "w" / "checkpoints").exists()


def test_skipped_under_a_raised_limit_with_a_warning_that_counts_them(faces_with_two_bad, tmp_path):
    result = run_binary(
        tmp_path / "w", *STYLE, f"--dataset=folder:{faces_with_two_bad}", "--max_bad_image_fraction=0.05"
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "skipped 2 of 148 images" in result.stderr and "zz_noise.jpg" in result.stderr


def test_fail_makes_any_bad_file_fatal(faces_with_two_bad, tmp_path):
    result = run_binary(
        tmp_path / "w",
        *STYLE,
        f"--dataset=folder:{faces_with_two_bad}",
        "--bad_images=fail",
        "--max_bad_image_fraction=0.5",
    )
    assert result.returncode == 1
    assert "zz_noise.jpg" in result.stderr.strip().splitlines()[-1]

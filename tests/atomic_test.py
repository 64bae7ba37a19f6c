"""Atomic writes leave either the old content or the new, never a partial file or folder."""

import os
import stat

import pytest

from alae_tf import atomic


def test_write_bytes_replaces_and_leaves_no_temp(tmp_path):
    path = tmp_path / "a" / "f.bin"
    atomic.write_bytes(path, b"one")
    atomic.write_bytes(path, b"two")
    assert path.read_bytes() == b"two"
    assert os.listdir(path.parent) == ["f.bin"]
    mask = os.umask(0)
    os.umask(mask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~mask


def test_directory_is_all_or_nothing(tmp_path):
    final = tmp_path / "out"
    with pytest.raises(RuntimeError):
        with atomic.directory(final) as tmp:
            (tmp / "half").write_text("x")
            raise RuntimeError("killed")
    assert not final.exists() and os.listdir(tmp_path) == []
    with atomic.directory(final) as tmp:
        (tmp / "done").write_text("x")
    assert os.listdir(final) == ["done"]
    with pytest.raises(FileExistsError):
        with atomic.directory(final):
            pass
    with atomic.directory(final, overwrite=True) as tmp:
        (tmp / "new").write_text("y")
    assert os.listdir(final) == ["new"] and sorted(os.listdir(tmp_path)) == ["out"]


def test_directory_gets_the_mode_of_a_plain_mkdir(tmp_path):
    with atomic.directory(tmp_path / "out") as tmp:
        (tmp / "f").write_text("x")
    mask = os.umask(0)
    os.umask(mask)
    assert stat.S_IMODE((tmp_path / "out").stat().st_mode) == 0o777 & ~mask

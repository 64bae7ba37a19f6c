"""Where a relative path in a `--dataset` spec points (`folder:PATH`, `idx:DIR`, `tfrecord:GLOB`).

* With a `data_dir` (`--data_dir`), the path is relative to it: `--dataset=folder:faces128
  --data_dir=/data` reads `/data/faces128`.
* Without one, it is relative to the current folder when something is there, and otherwise to the
  checkout the package runs from (the folder holding `alae_tf/` and `pyproject.toml`). So the
  presets' and flagfiles' `folder:../shared/data/faces128`, written from the repository root, is
  found from any folder, and so is a run's recorded dataset when `alae-evaluate` or an export
  reads it from elsewhere. An installed package has no checkout: pass `--data_dir` or an
  absolute path.

Absolute paths and URLs (`gs://...`) are used as they are. A path found nowhere is returned as
given, so the source's error names it.
"""

from __future__ import annotations

import glob
import os
import pathlib

_PACKAGE = pathlib.Path(__file__).resolve().parents[1]
_MAGIC = ("*", "?", "[", "{")


def checkout_root() -> pathlib.Path | None:
    """The repository the package runs from (an editable install or PYTHONPATH), or None for an installed copy."""
    root = _PACKAGE.parent
    return root if (root / "pyproject.toml").is_file() and (root / "flags").is_dir() else None


def _is_url(path: str) -> bool:
    return "://" in path


def _exists(path: str) -> bool:
    """True if `path` names something: a file or folder, or, for a pattern, a folder before its first wildcard."""
    cut = min((path.index(c) for c in _MAGIC if c in path), default=None)
    if cut is None:
        return os.path.exists(path)
    if glob.has_magic(path) and "{" not in path and glob.glob(path):
        return True
    return os.path.isdir(os.path.dirname(path[:cut]) or ".")


def resolve(path: str, data_dir: str | None = None) -> str:
    """`path` of a data spec, made independent of the current folder as the module docstring says."""
    if not path or os.path.isabs(path) or _is_url(path):
        return path
    path = os.path.expanduser(path)
    if os.path.isabs(path):
        return path
    if data_dir:
        return os.path.join(os.path.expanduser(data_dir), path)
    if _exists(path):
        return path
    root = checkout_root()
    if root is not None:
        candidate = os.path.normpath(os.path.join(root, path))
        if _exists(candidate):
            return candidate
    return path

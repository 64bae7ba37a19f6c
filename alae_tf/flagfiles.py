"""The flagfiles (`flags/*.cfg`: one per paper config, the demo's, the CPU smoke run's), found from any folder.

In a checkout they are the repository's top-level `flags/`. `pip install .` ships copies inside the
package, `alae_tf/flags/` (setup.py's build step copies them there), so an installed command finds them
too: a `--flagfile=flags/NAME.cfg` (or `--flagfile=NAME.cfg`) that does not exist from the current folder
reads the shipped `NAME.cfg` instead (`expand_argv`, which every command's entry point applies).
"""

from __future__ import annotations

import os
import pathlib
from collections.abc import Sequence

SUFFIX = ".cfg"
_FLAG = ("--flagfile", "-flagfile")


def directory() -> pathlib.Path | None:
    """The folder of the flagfiles: the installed package's `alae_tf/flags/`, else the checkout's `flags/`."""
    package = pathlib.Path(__file__).resolve().parent
    for folder in (package / "flags", package.parent / "flags"):
        if folder.is_dir() and any(folder.glob("*" + SUFFIX)):
            return folder
    return None


def names() -> list[str]:
    """The shipped flagfiles' names without `.cfg` (`ffhq`, `mnist_mlp_demo`, ...), sorted."""
    folder = directory()
    return sorted(p.stem for p in folder.glob("*" + SUFFIX)) if folder else []


def find(path: str) -> str:
    """`path` if it exists; else the shipped flagfile of the same file name, if there is one; else `path`."""
    if os.path.exists(path):
        return path
    folder = directory()
    if folder is not None:
        shipped = folder / os.path.basename(path)
        if shipped.suffix == SUFFIX and shipped.is_file():
            return str(shipped)
    return path


def expand_argv(argv: Sequence[str]) -> list[str]:
    """`argv` with each `--flagfile=PATH` (or `--flagfile PATH`) that does not exist pointed at the shipped file."""
    out, argv = [], list(argv)
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--":  # what follows belongs to another program (launch_local's workers)
            out += argv[i:]
            break
        name, eq, value = arg.partition("=")
        if name in _FLAG and eq:
            arg = f"{name}={find(value)}"
        elif name in _FLAG and i + 1 < len(argv):
            out += [arg, find(argv[i + 1])]
            i += 2
            continue
        out.append(arg)
        i += 1
    return out

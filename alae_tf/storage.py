"""Workdir paths on any TensorFlow filesystem: local folders, and `gs://`, `s3://`, `hdfs://`, `ram://` URLs.

`path(p)` is the one way the project turns a workdir (or an export folder) into a path object:

- a local path (no `scheme://`, or `file://`) becomes a `pathlib.Path`: everything local works as before,
  with its guarantees (the run lock's `flock`, rename-into-place writes, fsync);
- a URL becomes a `GFilePath`, the subset of `pathlib.Path` the project uses (`/`, `name`, `parent`,
  `exists`, `iterdir`, `glob`, `read_text`, `write_bytes`, ...) over `tf.io.gfile`, raising the same `OSError`
  subclasses `pathlib` does. A scheme TensorFlow has no filesystem for is refused with `StorageError`.

`pathlib.Path("gs://b/w")` silently means the local folder `gs:/b/w`; a `GFilePath` has no `__fspath__`, so
handing one to `open()` or `os.*` fails loudly instead of writing somewhere local. Use `str(p)` for TF APIs.

What holds where (see `alae_tf.atomic` and `alae_tf.run_lock`): on object storage there is no rename of a
folder and no lock. Single files are written in one upload (an object appears whole or not at all); folders
(checkpoints, exports) are staged and then copied into place with their commit file last (`meta.json`,
`saved_model.pb`), so a reader never takes a half-copied folder for a whole one; the one writer is the
chief by construction (`alae_tf.distribute.is_chief`).
"""

from __future__ import annotations

import fnmatch
import os
import pathlib
import posixpath
import re
import uuid

import tensorflow as tf

_URL = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://(.*)$", re.DOTALL)


class StorageError(ValueError):
    """A path on a filesystem TensorFlow does not have (an unknown or unregistered scheme)."""


def is_remote(p) -> bool:
    """True for a `GFilePath` or a `scheme://` string other than `file://`."""
    if isinstance(p, GFilePath):
        return True
    if isinstance(p, pathlib.PurePath):
        return False
    match = _URL.match(str(p))
    return bool(match) and match.group(1).lower() != "file"


def path(p) -> pathlib.Path | GFilePath:
    """`p` as a `pathlib.Path` (local) or a `GFilePath` (any other TF filesystem).

    Raises:
        StorageError: a `scheme://` TensorFlow has no filesystem for (a typo, or a plugin such as
            tensorflow-io for `s3://` that is not installed).
    """
    if isinstance(p, (GFilePath, pathlib.Path)):
        return p
    text = os.fspath(p)
    match = _URL.match(text)
    if match is None:
        return pathlib.Path(text)
    scheme = match.group(1).lower()
    if scheme == "file":
        return pathlib.Path(match.group(2))
    _check_scheme(scheme, text)
    return GFilePath(text)


def flag_validator(value) -> bool:
    """An absl flag validator for path flags: unset, or a path `path()` accepts (else the reason)."""
    from absl import flags

    if value is None:
        return True
    try:
        path(value)
    except StorageError as e:
        raise flags.ValidationError(str(e)) from None
    return True


def _check_scheme(scheme, text):
    # The registry answers without any I/O (asking the filesystem itself would reach out to gs:// etc.).
    if scheme in tf.io.gfile.get_registered_schemes():
        return
    known = ", ".join(f"{s}://" for s in sorted(tf.io.gfile.get_registered_schemes()) if s and s != "file")
    raise StorageError(
        f"{text}: TensorFlow has no filesystem for {scheme}:// (it has {known}); use a local path, one of "
        "those, or install the plugin for that scheme (e.g. tensorflow-io for s3://)"
    )


def _os_error(e: tf.errors.OpError, target: str) -> OSError:
    """The `OSError` subclass pathlib would have raised for TF's error."""
    message = e.message.strip() if getattr(e, "message", None) else str(e)
    if isinstance(e, tf.errors.NotFoundError):
        return FileNotFoundError(2, message, target)
    if isinstance(e, tf.errors.AlreadyExistsError):
        return FileExistsError(17, message, target)
    if isinstance(e, tf.errors.PermissionDeniedError):
        return PermissionError(13, message, target)
    return OSError(5, message, target)


class GFilePath:
    """A path on a TensorFlow filesystem (`scheme://...`), with the `pathlib.Path` methods the project uses."""

    def __init__(self, url: str):
        match = _URL.match(url)
        if match is None:
            raise ValueError(f"not a URL: {url!r}")
        self._scheme = match.group(1)
        rest = match.group(2)
        self._rest = rest.rstrip("/") if rest.strip("/") else rest

    # --- pure path arithmetic -------------------------------------------------------------------------------

    def __str__(self) -> str:
        return f"{self._scheme}://{self._rest}"

    def __repr__(self) -> str:
        return f"GFilePath({str(self)!r})"

    def __eq__(self, other) -> bool:
        return isinstance(other, GFilePath) and str(self) == str(other)

    def __hash__(self) -> int:
        return hash(str(self))

    def __lt__(self, other) -> bool:
        return str(self) < str(other)

    def __truediv__(self, part) -> GFilePath:
        part = str(part)
        if _URL.match(part):
            return GFilePath(part)
        return GFilePath(f"{self._scheme}://{posixpath.join(self._rest, part) if self._rest else part}")

    @property
    def name(self) -> str:
        return posixpath.basename(self._rest)

    @property
    def stem(self) -> str:
        return pathlib.PurePosixPath(self.name).stem

    @property
    def suffix(self) -> str:
        return pathlib.PurePosixPath(self.name).suffix

    @property
    def parent(self) -> GFilePath:
        return GFilePath(f"{self._scheme}://{posixpath.dirname(self._rest)}")

    @property
    def parents(self) -> list[GFilePath]:
        """Ancestors, nearest first, down to the first component (`gs://bucket`)."""
        found, current = [], self
        while posixpath.dirname(current._rest.rstrip("/")):
            current = current.parent
            found.append(current)
        return found

    def with_name(self, name: str) -> GFilePath:
        return self.parent / name

    def with_suffix(self, suffix: str) -> GFilePath:
        return self.with_name(str(pathlib.PurePosixPath(self.name).with_suffix(suffix)))

    def absolute(self) -> GFilePath:
        return self

    def resolve(self) -> GFilePath:
        return self

    def is_relative_to(self, other) -> bool:
        return str(self) == str(other) or str(self).startswith(str(other).rstrip("/") + "/")

    # --- filesystem ---------------------------------------------------------------------------------------------

    def _call(self, function, *args):
        try:
            return function(*args)
        except tf.errors.OpError as e:
            raise _os_error(e, str(self)) from e

    def exists(self) -> bool:
        return self._call(tf.io.gfile.exists, str(self))

    def is_dir(self) -> bool:
        return self._call(tf.io.gfile.isdir, str(self))

    def is_file(self) -> bool:
        return self.exists() and not self.is_dir()

    def iterdir(self):
        if not self.is_dir():
            raise NotADirectoryError(20, "not a directory", str(self))
        children = [self / name.rstrip("/") for name in self._call(tf.io.gfile.listdir, str(self))]
        return iter([child for child in children if child.exists()])  # see `_walk` on ram://

    def glob(self, pattern: str):
        """Children matching `pattern` (one path component: `*`, `?`, `[...]`, as `fnmatch`)."""
        if "/" in pattern:
            raise ValueError(f"GFilePath.glob takes one path component, got {pattern!r}")
        if not self.is_dir():
            return iter([])
        return iter([child for child in self.iterdir() if fnmatch.fnmatchcase(child.name, pattern)])

    def mkdir(self, mode=0o777, parents=False, exist_ok=False) -> None:
        del mode
        if self.exists():
            if exist_ok and self.is_dir():
                return
            raise FileExistsError(17, "exists", str(self))
        if not parents and not self.parent.is_dir() and self.parent._rest:
            raise FileNotFoundError(2, "no parent folder", str(self))
        self._call(tf.io.gfile.makedirs, str(self))

    def open(self, mode="r", encoding=None, newline=None):
        del encoding, newline  # GFile reads and writes UTF-8 text
        if "r" in mode and not self.exists():
            raise FileNotFoundError(2, "no such file", str(self))
        return self._call(tf.io.gfile.GFile, str(self), mode)

    def read_bytes(self) -> bytes:
        with self.open("rb") as f:
            return self._call(f.read)

    def read_text(self, encoding="utf-8") -> str:
        return self.read_bytes().decode(encoding)

    def write_bytes(self, data: bytes) -> int:
        """Write a staged object, then rename it over this one: the file is replaced whole (some TF
        filesystems append when a file is opened for writing again), and a reader never sees half of it."""
        staged = self.with_name(f".{self.name}.{uuid.uuid4().hex[:12]}.tmp")
        try:
            with staged.open("wb") as f:
                self._call(f.write, data)
            self._call(tf.io.gfile.rename, str(staged), str(self), True)
        finally:
            if staged.exists():
                staged.unlink(missing_ok=True)
        return len(data)

    def write_text(self, text: str, encoding="utf-8") -> int:
        return self.write_bytes(text.encode(encoding))

    def rmdir(self) -> None:
        """Delete an empty folder (an `OSError` if it holds anything)."""
        if any(True for _ in self.iterdir()):
            raise OSError(39, "directory not empty", str(self))
        self._call(tf.io.gfile.rmtree, str(self))

    def unlink(self, missing_ok=False) -> None:
        try:
            self._call(tf.io.gfile.remove, str(self))
        except FileNotFoundError:
            if not missing_ok:
                raise

    def rename(self, target) -> GFilePath:
        """Move a file or a folder (a folder by copy and delete: object stores cannot rename one)."""
        target = path(target)
        if self.is_dir():
            copy_tree(self, target)
            rmtree(self)
        else:
            self._call(tf.io.gfile.rename, str(self), str(target), False)
        return target


def rmtree(p, ignore_errors=False) -> None:
    """Delete a folder and everything in it, on any filesystem."""
    p = path(p)
    if isinstance(p, pathlib.Path):
        import shutil

        shutil.rmtree(p, ignore_errors=ignore_errors)
        return
    try:
        if p.exists():
            p._call(tf.io.gfile.rmtree, str(p))
    except OSError:
        if not ignore_errors:
            raise


def _walk(root) -> tuple[list[str], list[str]]:
    """(folders, files) under `root`, relative to it (posix separators), sorted."""
    root = str(path(root)).rstrip("/")
    folders, files = [], []
    try:
        for folder, subfolders, names in tf.io.gfile.walk(root):
            # TF's ram:// lists prefix matches as children (`assets` shows `.extra` of `assets.extra`): keep
            # only names that exist.
            names = [name for name in names if tf.io.gfile.exists(posixpath.join(folder, name))]
            relative = folder[len(root) :].strip("/")
            folders += [posixpath.join(relative, d.rstrip("/")) if relative else d.rstrip("/") for d in subfolders]
            files += [posixpath.join(relative, name) if relative else name for name in names]
    except tf.errors.OpError as e:
        raise _os_error(e, root) from e
    return sorted(folders), sorted(files)


def walk_files(root) -> list[str]:
    """Paths of every file under `root`, relative to it (posix separators), sorted."""
    return _walk(root)[1]


def copy_tree(source, target, last=()) -> None:
    """Copy folder `source` into folder `target` (created), the files named in `last` after all the others: a
    reader that waits for them never sees a half-copied folder."""
    source, target = path(source), path(target)
    folders, files = _walk(source)
    ordered = [f for f in files if posixpath.basename(f) not in last] + [
        f for f in files if posixpath.basename(f) in last
    ]
    target.mkdir(parents=True, exist_ok=True)
    for relative in folders:
        (target / relative).mkdir(parents=True, exist_ok=True)
    for relative in ordered:
        destination = target / relative
        try:
            if tf.io.gfile.exists(str(destination)):  # some TF filesystems append on an overwriting copy
                tf.io.gfile.remove(str(destination))
            tf.io.gfile.copy(str(source / relative), str(destination), overwrite=True)
        except tf.errors.OpError as e:
            raise _os_error(e, str(destination)) from e

"""Atomic writes: a reader (or a resumed run) never sees a half-written file or folder.

Local paths: a temp file or folder beside the target, fsynced, then renamed into place (atomic on POSIX).
Other TF filesystems (`alae_tf.storage`: gs://, ram://, ...), which cannot rename a folder: a file is one
upload (an object appears whole or not at all); a folder is staged beside the target and then copied into
place with its commit files last (`commit_last`: `meta.json` for checkpoints, `saved_model.pb` for exports),
which is what readers of those folders wait for.
"""

import contextlib
import os
import shutil
import tempfile
import uuid

from alae_tf import storage


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_bytes(path, data):
    """Write `data` to `path` through a temp file in the same folder and a rename (one upload elsewhere)."""
    path = storage.path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if storage.is_remote(path):
        path.write_bytes(data)
        return
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        # mkstemp creates 0600; give the file the mode a plain open() would have.
        os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write_text(path, text):
    write_bytes(path, text.encode("utf-8"))


def _fsync_tree(root):
    for folder, _, files in os.walk(root):
        for name in files:
            fd = os.open(os.path.join(folder, name), os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)


@contextlib.contextmanager
def directory(final, overwrite=False, commit_last=()):
    """Yield a temp folder beside `final`; rename it to `final` if the block succeeds.

    On any exception the temp folder is removed and `final` is untouched.
    With `overwrite`, an existing `final` is replaced (moved aside, then
    deleted after the rename). On a filesystem without folder renames the temp
    folder is copied into `final` instead, the files named in `commit_last`
    last (an existing `final` is deleted first: there, replacing is not atomic).

    Raises:
        FileExistsError: `final` exists and `overwrite` is False.
    """
    final = storage.path(final)
    if final.exists() and not overwrite:
        raise FileExistsError(f"{final} already exists")
    final.parent.mkdir(parents=True, exist_ok=True)
    if storage.is_remote(final):
        with _remote_directory(final, commit_last) as tmp:
            yield tmp
        return
    tmp = storage.path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent))
    try:
        # mkdtemp creates 0700; give the folder the mode a plain mkdir would have.
        os.chmod(tmp, 0o777 & ~_umask())
        yield tmp
        _fsync_tree(tmp)  # the files reach the disk before the rename makes them the folder
        old = None
        if final.exists():
            old = final.with_name(f".{final.name}.old")
            os.replace(final, old)
        os.replace(tmp, final)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


@contextlib.contextmanager
def _remote_directory(final, commit_last):
    tmp = final.parent / f".{final.name}.{uuid.uuid4().hex[:12]}.tmp"
    tmp.mkdir(parents=True)
    try:
        yield tmp
        if final.exists():
            storage.rmtree(final)
        storage.copy_tree(tmp, final, last=commit_last)
    finally:
        storage.rmtree(tmp, ignore_errors=True)

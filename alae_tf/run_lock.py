"""One writer per workdir: an exclusive lock that a killed run cannot leave stuck.

`WorkdirLock` holds `WORKDIR/.lock` with `fcntl.flock` for as long as the run lives.
The kernel drops a flock when its process ends, however it ends (SIGKILL, OOM kill, a
crash), so a lock is never stale in the sense of blocking: a rerun after a kill simply
takes it. The file also records who holds it (pid, host, command, start time), which is
what a refused second run is told; a record found when the lock is free is the trace of
a run that ended without releasing it, and is reported as such.

flock is per open file and local to a machine: on NFS it depends on the server's lock
support, so runs that share a workdir across machines (multi-worker) lock on the chief only.
Object storage (gs://, any `alae_tf.storage` URL) has no lock at all: there the one writer is
the chief by construction, and two runs started by hand on one workdir are not detected.
"""

from __future__ import annotations

import datetime
import fcntl
import json
import os
import socket
import sys

from absl import logging

from alae_tf import storage

LOCK_NAME = ".lock"


class WorkdirBusyError(RuntimeError):
    """Another live process holds the workdir."""


def _holder_record() -> dict:
    return {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "command": " ".join([os.path.basename(sys.executable), *sys.argv])[:500],
        "since": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
    }


def _describe(record: str) -> str:
    try:
        holder = json.loads(record)
        return f"pid {holder['pid']} on {holder['host']} since {holder['since']} ({holder['command']})"
    except (ValueError, KeyError, TypeError):
        return repr(record[:200]) if record else "no record"


class WorkdirLock:
    """Exclusive lock on `workdir` (a context manager). `acquire` raises `WorkdirBusyError` if held."""

    def __init__(self, workdir: str | os.PathLike):
        self.workdir = storage.path(workdir)
        self.path = self.workdir / LOCK_NAME
        self._fd = None

    def acquire(self) -> WorkdirLock:
        self.workdir.mkdir(parents=True, exist_ok=True)
        if storage.is_remote(self.workdir):
            logging.info("%s is on object storage: no run lock there (the chief is the one writer)", self.workdir)
            return self
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            record = os.pread(fd, 4096, 0).decode("utf-8", "replace")
            os.close(fd)
            raise WorkdirBusyError(
                f"{self.workdir} is in use by another run: {_describe(record)}. Wait for it to finish (or stop "
                "it: a rerun then resumes from its last checkpoint), or train in another --workdir."
            ) from None
        previous = os.pread(fd, 4096, 0).decode("utf-8", "replace").strip()
        if previous:
            logging.warning(
                "%s: taking over from a run that ended without releasing it: %s", self.path, _describe(previous)
            )
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(_holder_record()).encode(), 0)
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is None:
            return
        # Emptied, not deleted: unlinking a lock file races with a process that has just opened it.
        os.ftruncate(self._fd, 0)
        fcntl.flock(self._fd, fcntl.LOCK_UN)
        os.close(self._fd)
        self._fd = None

    def __enter__(self) -> WorkdirLock:
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()

r"""A multi-worker cluster of local `alae-train` processes over loopback: for trying multi-worker on one
machine, and for tests. `alae-launch-local` is its command.

    alae-launch-local --num_workers=2 [--max_restarts=1] -- \
        --preset=mnist_mlp_tiny --batch_size=32 --workdir=/tmp/alae_mw

Everything after `--` goes to `alae-train` (add no `--strategy`:
each worker gets `--strategy=multi_worker` and a `TF_CONFIG` naming free
127.0.0.1 ports, worker 0 being the chief). `--batch_size` is the global batch.
For trying multi-worker out and for tests; on several machines run the same
`alae-train` command on each with its own `TF_CONFIG` (docs/training.md).

A group that loses a member cannot go on: its collectives would fail, or wait
for the lost peer (TF's coordination service notices a dead peer within about
10 s and the others then fail). So as soon as one worker ends with an error or
is killed, the launcher stops the others; with `--max_restarts=K` it then starts
the whole group again on fresh ports, up to K times, and the new group resumes
from the newest intact checkpoint of the shared workdir (what torchrun and other
elastic launchers do). Exit status: 0 when every worker ended with 0, else 1.

Worker logs go to `--worker_log_dir` (default: a new temp folder, printed), one file per
worker and group start: `worker-<i>.log` (`.restart-<k>` appended after restarts).
"""

from __future__ import annotations

import contextlib
import json
import os
import pathlib
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence

TRAIN_MODULE = "alae_tf.commands.train"  # `alae-train`, run as `python -m` by this interpreter
# How long the others get to end on SIGTERM once a worker failed, before SIGKILL. Short: TF
# multi-worker processes catch SIGTERM (a preemption notice for the coordination service) and
# go on, and a worker waiting for its peers never ends by itself.
STOP_GRACE_S = 2.0


def free_ports(count: int, host: str = "127.0.0.1") -> list[int]:
    """`count` distinct TCP ports free on `host` right now (held open together while picked)."""
    sockets = []
    try:
        for _ in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind((host, 0))
            sockets.append(s)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def tf_config(addresses: Sequence[str], index: int) -> str:
    """The `TF_CONFIG` of worker `index` in a cluster of `addresses` (worker 0 is the chief)."""
    return json.dumps({"cluster": {"worker": list(addresses)}, "task": {"type": "worker", "index": int(index)}})


def worker_command(train_args: Sequence[str], module: str = TRAIN_MODULE) -> list[str]:
    """The command line of one worker: `python -m <module> <train_args> --strategy=multi_worker`."""
    for arg in train_args:
        if arg.startswith("--strategy") and arg != "--strategy=multi_worker":
            raise ValueError(f"launch_local runs --strategy=multi_worker; drop {arg!r}")
    return [sys.executable, "-m", module, *train_args, "--strategy=multi_worker"]


class WorkerGroup:
    """N worker processes of one cluster on loopback; `wait` stops them all when one fails.

    Args:
        command: each worker's command line (the same for all; `worker_command`).
        num_workers: cluster size (>= 1).
        log_dir: where `worker-<i><suffix>.log` are written.
        env: the workers' environment (default: this process's), `TF_CONFIG` set per worker.
        suffix: appended to the log names (restarts).
        cwd: the workers' working directory (default: this process's).
    """

    def __init__(self, command, num_workers, log_dir, env=None, suffix="", cwd=None):
        if num_workers < 1:
            raise ValueError(f"num_workers must be >= 1, got {num_workers}")
        self.addresses = [f"127.0.0.1:{port}" for port in free_ports(num_workers)]
        self.log_paths = [pathlib.Path(log_dir) / f"worker-{i}{suffix}.log" for i in range(num_workers)]
        base_env = dict(os.environ if env is None else env)
        self.processes = []
        for i, log_path in enumerate(self.log_paths):
            log_path.parent.mkdir(parents=True, exist_ok=True)
            with open(log_path, "wb") as log:
                self.processes.append(
                    subprocess.Popen(
                        command,
                        stdin=subprocess.DEVNULL,
                        stdout=log,
                        stderr=subprocess.STDOUT,
                        env={**base_env, "TF_CONFIG": tf_config(self.addresses, i)},
                        cwd=cwd,
                    )
                )

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self.processes]

    def wait(self, timeout: float | None = None, poll_s: float = 0.2) -> list[int]:
        """Wait for the group; returns every worker's exit status (negative: killed by that signal).

        When a worker ends with a nonzero status, or `timeout` seconds pass, the
        others are stopped (SIGTERM, then SIGKILL after `STOP_GRACE_S`).
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            codes = [p.poll() for p in self.processes]
            if all(code is not None for code in codes):
                return codes
            if any(code not in (None, 0) for code in codes) or (deadline is not None and time.monotonic() > deadline):
                self.stop()
                return [p.returncode for p in self.processes]
            time.sleep(poll_s)

    def stop(self) -> None:
        """End every worker still running: SIGTERM, then SIGKILL those still alive after the grace."""
        for p in self.processes:
            if p.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    p.send_signal(signal.SIGTERM)
        end = time.monotonic() + STOP_GRACE_S
        for p in self.processes:
            try:
                p.wait(timeout=max(0.0, end - time.monotonic()))
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()

    def tail(self, index: int, chars: int = 3000) -> str:
        """The end of worker `index`'s log."""
        try:
            return self.log_paths[index].read_text(errors="replace")[-chars:]
        except OSError:
            return ""


def run(
    train_args: Sequence[str],
    num_workers: int = 2,
    max_restarts: int = 0,
    log_dir: str | os.PathLike | None = None,
    env: dict | None = None,
    timeout: float | None = None,
    module: str = TRAIN_MODULE,
    cwd: str | os.PathLike | None = None,
    on_group_start: Callable[[WorkerGroup, int], None] | None = None,
    echo: Callable[[str], None] | None = None,
) -> int:
    """Run `python -m <module> <train_args>` as a `num_workers` cluster on loopback; returns 0 on success.

    A failed group is stopped whole and, up to `max_restarts` times, started again
    (fresh ports); it resumes from the workdir's newest intact checkpoint.
    `on_group_start(group, attempt)` is called after each start (tests use it to kill
    a worker); `timeout` bounds each group's wall time.
    """
    echo = echo or (lambda line: print(line, file=sys.stderr, flush=True))
    log_dir = pathlib.Path(log_dir) if log_dir is not None else pathlib.Path(tempfile.mkdtemp(prefix="alae-launch-"))
    command = worker_command(train_args, module)
    for attempt in range(max_restarts + 1):
        suffix = f".restart-{attempt}" if attempt else ""
        group = WorkerGroup(command, num_workers, log_dir, env, suffix=suffix, cwd=cwd)
        echo(f"launch_local: started {num_workers} workers on {', '.join(group.addresses)}; logs in {log_dir}")
        try:
            if on_group_start is not None:
                on_group_start(group, attempt)
            codes = group.wait(timeout)
        finally:
            group.stop()  # also on KeyboardInterrupt: no worker outlives the launcher
        if all(code == 0 for code in codes):
            return 0
        failed = next(i for i, code in enumerate(codes) if code != 0)
        echo(f"launch_local: worker exit statuses {codes}; the group was stopped. Worker {failed}'s log ends:")
        echo(group.tail(failed))
        if attempt < max_restarts:
            echo(f"launch_local: restart {attempt + 1} of {max_restarts}: the group resumes from the newest checkpoint")
    return 1

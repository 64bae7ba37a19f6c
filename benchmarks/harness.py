"""What the benchmark binaries share: the timing loop, statistics, machine info, JSON + table output.

Every benchmark writes one JSON file (`benchmarks/results/NAME.json`, or `--output`):

    {"benchmark": NAME, "created": ISO time, "command": ..., "machine": machine_info(),
     "settings": {flag: value}, "columns": [[key, header], ...], "results": [row, ...]}

and prints the same rows as a Markdown table (pasteable into benchmarks/README.md;
`python -m benchmarks.harness FILE.json ...` prints it again from the file). A row is a
flat dict; a case that could not run has `"status": "skipped"` and the error in
`"error"` instead of numbers.
"""

import datetime
import json
import math
import os
import pathlib
import platform
import statistics
import subprocess
import sys
import time
import traceback
from importlib import metadata

from absl import flags, logging

REPO_ROOT = pathlib.Path(__file__).resolve().parents[1]
RESULTS_DIR = REPO_ROOT / "benchmarks" / "results"

flags.DEFINE_string("output", None, "JSON result file (default: benchmarks/results/<benchmark>.json).")

_PACKAGES = ("tensorflow", "keras", "numpy", "tensorflow-datasets", "onnxruntime", "tf2onnx", "ai-edge-litert")


# --------------------------------------------------------------------- timing
def time_calls(fn, runs, warmup=0, max_seconds=None, min_runs=3):
    """Seconds of each of up to `runs` calls of `fn()`, after `warmup` untimed calls.

    `fn` must block until its work is done (read a result back to the host). With
    `max_seconds`, timing stops early once that much time was spent on timed calls
    and at least `min_runs` were made, so slow cases stay bounded.
    """
    for _ in range(warmup):
        fn()
    times = []
    start = time.perf_counter()
    for _ in range(runs):
        begin = time.perf_counter()
        fn()
        times.append(time.perf_counter() - begin)
        if max_seconds is not None and len(times) >= min_runs and time.perf_counter() - start >= max_seconds:
            break
    return times


def summarize(seconds):
    """Median / mean / min / max / p90 of a list of seconds, and how many there were."""
    ordered = sorted(seconds)
    p90 = ordered[min(len(ordered) - 1, math.ceil(0.9 * len(ordered)) - 1)]
    return {
        "median_s": statistics.median(ordered),
        "mean_s": statistics.fmean(ordered),
        "min_s": ordered[0],
        "max_s": ordered[-1],
        "p90_s": p90,
        "runs": len(ordered),
    }


def matmul_peak_gflops(make_matmul, sizes=(1024, 2048, 4096), runs=5):
    """The best GFLOP/s of square matmuls: the machine's arithmetic ceiling as a framework reaches it.

    `make_matmul(n)` returns a callable that multiplies two n x n matrices (in
    the dtype to rate) and blocks until the product is done. Big square matmuls
    are the fastest thing a CPU does, so a training step's FLOP/s in that dtype
    can approach but not pass this.
    """
    best = 0.0
    for n in sizes:
        seconds = summarize(time_calls(make_matmul(n), runs, warmup=1))["median_s"]
        best = max(best, 2.0 * n**3 / seconds / 1e9)
    return best


def roofline(row, flops, batch_size, peak_gflops):
    """Adds FLOP/s and the ceiling to a timed row (`median_step_s` set): fields `gflop_per_step`,
    `gflops_per_s`, `percent_of_peak`, `ceiling_images_per_s` (the images/s at `peak_gflops`)."""
    row["gflop_per_step"] = flops / 1e9
    row["gflops_per_s"] = flops / 1e9 / row["median_step_s"]
    row["peak_gflops_per_s"] = peak_gflops
    row["percent_of_peak"] = 100.0 * row["gflops_per_s"] / peak_gflops
    row["ceiling_images_per_s"] = batch_size * peak_gflops / row["gflop_per_step"]
    return row


class Stopwatch:
    """`with Stopwatch() as sw: ...` then `sw.seconds`."""

    def __enter__(self):
        self._start = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self._start
        return False


def skipped(row, error):
    """`row` marked as not run, with the error's type and first line (the traceback goes to the log)."""
    logging.warning("skipped %s: %s", row, error)
    logging.info("%s", traceback.format_exc())
    message = f"{type(error).__name__}: {str(error).strip().splitlines()[0] if str(error).strip() else ''}"
    return {**row, "status": "skipped", "error": message}


# ------------------------------------------------------------------- machine
def _cpu_model():
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
        for line in out.splitlines():
            if line.startswith("Model name:"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    try:
        for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _version(package):
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def _gpus():
    try:
        import tensorflow as tf

        return [d.name for d in tf.config.list_physical_devices("GPU")]
    except Exception:  # reporting only: never fail a benchmark over it
        return []


def _git_commit():
    out = subprocess.run(
        ["git", "-C", str(REPO_ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
    )
    dirty = subprocess.run(
        ["git", "-C", str(REPO_ROOT), "status", "--porcelain", "--untracked-files=no"],
        capture_output=True,
        text=True,
        check=False,
    )
    commit = out.stdout.strip() or None
    return f"{commit}+dirty" if commit and dirty.stdout.strip() else commit


def machine_info(packages=_PACKAGES, list_gpus=True):
    """Where the numbers came from: CPU, cores, memory, GPUs, versions of `packages`, load, commit.

    `list_gpus=False` skips the GPU query (it imports TensorFlow).
    """
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:
        cores = os.cpu_count()
    try:
        memory_gb = round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    except (ValueError, OSError, AttributeError):
        memory_gb = None
    return {
        "cpu_model": _cpu_model(),
        "cpu_cores": cores,
        "memory_gb": memory_gb,
        "gpus": _gpus() if list_gpus else [],
        "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "versions": {p: _version(p) for p in packages},
        "git_commit": _git_commit(),
    }


# -------------------------------------------------------------------- output
def _cell(value):
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int) and abs(value) >= 10000:
        return f"{value:,}"
    if isinstance(value, float):
        if value == 0 or not math.isfinite(value):
            return str(value)
        magnitude = abs(value)
        return f"{value:,.0f}" if magnitude >= 1000 else f"{value:.3g}" if magnitude < 10 else f"{value:.1f}"
    return str(value)


def format_table(rows, columns):
    """Rows as a Markdown table of `columns` ((key, header) pairs).

    A "note" column is added when some row was skipped; it holds the error.
    """
    columns = list(columns)
    if any(row.get("status") == "skipped" for row in rows):
        columns.append(("note", "note"))
    header = [title for _, title in columns]
    lines = []
    for row in rows:
        note = f"skipped: {row['error']}" if row.get("status") == "skipped" else row.get("note")
        lines.append([_cell(note if key == "note" else row.get(key)) for key, _ in columns])
    widths = [max([len(h)] + [len(line[i]) for line in lines]) for i, h in enumerate(header)]

    def render(cells):
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths)) + " |"

    return "\n".join([render(header), "|" + "|".join("-" * (w + 2) for w in widths) + "|", *map(render, lines)])


def print_row(row, columns):
    """One finished case as a progress line (`header=value`, skipped cases with their error)."""
    cells = [f"{title}={_cell(row.get(key))}" for key, title in columns if row.get(key) is not None]
    if row.get("status") == "skipped":
        cells.append(f"skipped: {row['error']}")
    print("  ".join(cells), flush=True)


def write_results(name, settings, rows, columns, output=None, machine=None, extra=None):
    """Write the JSON result file (atomically), print the table; returns the JSON path.

    `machine` replaces `machine_info()` (a harness without TensorFlow passes its
    own); `extra` adds top-level fields to the payload.
    """
    path = pathlib.Path(output) if output else RESULTS_DIR / f"{name}.json"
    payload = {
        "benchmark": name,
        "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "command": " ".join([pathlib.Path(sys.argv[0]).name, *sys.argv[1:]]),
        "machine": machine_info() if machine is None else machine,
        "settings": settings,
        "columns": [list(column) for column in columns],
        "results": rows,
        **(extra or {}),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(path.name + ".tmp")
    temp.write_text(json.dumps(payload, indent=2, sort_keys=True) + "\n")
    temp.replace(path)
    print()
    print(describe(payload))
    print(f"\nwrote {path}")
    return path


_FRAMEWORKS = (("tensorflow", "TF"), ("keras", "Keras"), ("torch", "torch"))


def describe(payload):
    """A result file's provenance line and its Markdown table."""
    machine = payload["machine"]
    load = ", ".join(f"{v:.1f}" for v in machine["load_average"] or [])
    versions = ", ".join(
        f"{title} {machine['versions'][package]}" for package, title in _FRAMEWORKS if machine["versions"].get(package)
    )
    header = (
        f"{payload['benchmark']}, {payload['created'][:10]}: {machine['cpu_model']}, {machine['cpu_cores']} "
        f"cores, {versions}, load average {load}, commit {machine['git_commit']}"
    )
    return header + "\n\n" + format_table(payload["results"], [tuple(c) for c in payload["columns"]])


if __name__ == "__main__":
    # `python -m benchmarks.harness RESULT.json ...`: print stored results as Markdown (for the README).
    for result in sys.argv[1:]:
        print(describe(json.loads(pathlib.Path(result).read_text())) + "\n")


def flag_values(names):
    """`{name: value}` of the given absl flags, for the result's settings."""
    return {name: flags.FLAGS[name].value for name in names}

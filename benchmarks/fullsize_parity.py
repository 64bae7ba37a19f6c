r"""Full-size official checkpoints -> our converter (torch blocked) -> our nets at full resolution vs the official code.

`benchmarks/official_fullsize.py` (in a PyTorch venv) writes, per published architecture, the
official code's checkpoint in torch's zip format, the same in the legacy (pre-1.6) format, a
weights-only legacy file as `interactive_demo.py` loads it, and the official EMA nets' outputs
on real faces at full resolution (`expected.npz`, described by `expected.json`). This binary,
in the project's venv, for each architecture x file x architecture source:

1. runs `alae-convert --official_checkpoint=F --preset=<ours> --workdir=W` with
   `--official_config=<the official YAML>` (copies in `tests/convert/data/official_configs/`)
   or `--infer_architecture`, as a child process whose `import torch` fails (a `torch.py`
   that raises, first on PYTHONPATH); its wall time and peak RSS (GNU `/usr/bin/time`'s `%M`
   of that child alone) are measured;
2. reopens W with `alae_tf.workdir.open_run` (nets at the checkpoint's level: full resolution)
   and runs our EMA nets on `expected.npz`'s inputs: E(x) (`model.encode`), D(E(x)), F(z),
   G(F(z)) and the reconstruction G(E(x)) with every noise map zero;
3. compares with the official arrays: error ratio = max|got - want| / max|want|; E, D and F pass
   at <= 1e-4, G(F(z)) and G(E(x)) at <= 1e-3 (the tolerances the conversion is held to).

Results: `benchmarks/results/fullsize_parity.json` (the harness format) and a Markdown table.

    .venv/bin/python -m benchmarks.fullsize_parity --fullsize_dir=/work/fullsize           # everything
    .venv/bin/python -m benchmarks.fullsize_parity --archs=celeba --formats=zip --modes=official_config

Time the conversions on an otherwise idle machine (`flock /tmp/cpu.lock` in front on a shared one).
"""

import gc
import json
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import time

from absl import app, flags

from benchmarks import harness

NAME = "fullsize_parity"
ARCHS = ("ffhq", "celeba-hq256", "bedroom", "celeba", "mnist")
PRESETS = {arch: arch for arch in ARCHS}  # our presets carry the official names
FORMATS = {"zip": "{arch}.pth", "legacy": "{arch}_legacy.pth", "weights": "{arch}_weights.pth"}
MODES = ("official_config", "infer")
CONFIGS = harness.REPO_ROOT / "tests" / "convert" / "data" / "official_configs"
TOLERANCES = {"w_from_x": 1e-4, "d_of_w_from_x": 1e-4, "w_from_z": 1e-4, "x_from_w": 1e-3, "x_rec": 1e-3}
TIME = "/usr/bin/time"  # GNU time: -f %M is the child's peak RSS in KiB
NO_TORCH = "raise ImportError('torch is blocked: the converter must not need it')\n"

FLAGS = flags.FLAGS
flags.DEFINE_string("fullsize_dir", None, "official_fullsize.py's --out_dir.", required=True)
flags.DEFINE_list("archs", list(ARCHS), f"Architectures: {', '.join(ARCHS)}.")
flags.DEFINE_list("formats", list(FORMATS), f"Files: {', '.join(FORMATS)}.")
flags.DEFINE_list("modes", list(MODES), "Where the architecture comes from: the official YAML, or the tensors.")
flags.DEFINE_string("work_dir", None, "Scratch folder for the workdirs (default: a temporary folder).")
flags.DEFINE_bool("compare_all_modes", False, "Run the nets for every mode, not only the first per file.")
flags.DEFINE_integer("timeout_s", 1800, "Limit of one conversion.", lower_bound=1)
flags.register_validator("archs", lambda v: all(a in ARCHS for a in v), message=f"--archs must be a subset of {ARCHS}")
flags.register_validator("formats", lambda v: all(f in FORMATS for f in v), message=f"--formats: {tuple(FORMATS)}")
flags.register_validator("modes", lambda v: all(m in MODES for m in v), message=f"--modes: {MODES}")

COLUMNS = [
    ("arch", "arch"),
    ("format", "file"),
    ("mode", "architecture from"),
    ("file_mib", "file MiB"),
    ("convert_s", "convert s"),
    ("peak_rss_mib", "peak RSS MiB"),
    ("resolution", "px"),
    ("err_w_from_x", "E(x)"),
    ("err_d_of_w_from_x", "D(E(x))"),
    ("err_w_from_z", "F(z)"),
    ("err_x_from_w", "G(F(z))"),
    ("err_x_rec", "G(E(x))"),
    ("passed", "within tolerance"),
]


def convert(checkpoint, arch, mode, workdir):
    """Run the converter binary with torch blocked; returns (returncode, seconds, peak RSS MiB, stdout, stderr)."""
    blocker = pathlib.Path(tempfile.mkdtemp(prefix="no_torch_"))
    (blocker / "torch.py").write_text(NO_TORCH)
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=f"{blocker}{os.pathsep}{harness.REPO_ROOT}")
    source = (
        [f"--official_config={CONFIGS / f'{arch}.yaml'}"] if mode == "official_config" else ["--infer_architecture"]
    )
    command = [
        sys.executable,
        "-m",
        "alae_tf.commands.convert",
        f"--official_checkpoint={checkpoint}",
        f"--preset={PRESETS[arch]}",
        *source,
        f"--workdir={workdir}",
    ]
    # Peak RSS: `/usr/bin/time` reports its own child's rusage. Not os.wait4 / RUSAGE_CHILDREN on a child of this
    # process: Linux carries the parent's RSS high-water mark at fork into the child's ru_maxrss across exec, and
    # this process holds TensorFlow and full-size nets.
    with (
        tempfile.TemporaryDirectory() as scratch,
        open(f"{scratch}/out", "w+") as out,
        open(f"{scratch}/err", "w+") as err,
    ):
        usage = pathlib.Path(scratch) / "usage"
        start = time.perf_counter()
        try:
            code = subprocess.run(
                [TIME, "-o", str(usage), "-f", "%M"] + command,
                stdout=out,
                stderr=err,
                env=env,
                cwd=harness.REPO_ROOT,
                timeout=FLAGS.timeout_s,
            ).returncode
        except subprocess.TimeoutExpired:
            code = -9
        seconds = time.perf_counter() - start
        out.seek(0), err.seek(0)
        shutil.rmtree(blocker, ignore_errors=True)
        lines = usage.read_text().split() if usage.exists() else []
        peak = int(lines[-1]) / 1024.0 if lines and lines[-1].isdigit() else None
        return code, seconds, peak, out.read(), err.read()


def ratio(got, want):
    import numpy as np

    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    if got.shape != want.shape:
        raise ValueError(f"shape {got.shape} != {want.shape}")
    return float(np.max(np.abs(got - want)) / np.max(np.abs(want)))


def compare(workdir, expected):
    """Our EMA nets from the converted workdir on the official inputs: {key: error ratio}, level, resolution."""
    import numpy as np
    import tensorflow as tf

    from alae_tf import workdir as workdir_lib

    run = workdir_lib.open_run(workdir)
    model = run.model
    F, G, _, D = model.nets(use_ema=True)
    x = np.transpose(expected["x"], (0, 2, 3, 1))
    level = model.level
    zeros = [tf.zeros(shape) for shape in G.noise_shapes(level, len(x))]

    def nchw(images):
        return np.transpose(np.asarray(images), (0, 3, 1, 2))

    w_x = model.encode(tf.constant(x), use_ema=True)
    w_z = F(tf.constant(expected["z"]), training=False)
    got = {
        "w_from_x": np.asarray(w_x),
        "d_of_w_from_x": np.reshape(np.asarray(D(w_x, training=False)), (-1,)),
        "w_from_z": np.asarray(w_z),
        "x_from_w": nchw(G(model._kind.styles_from_w(w_z), level=level, blend=1.0, noise=zeros)),
        "x_rec": nchw(G(model._kind.styles_from_w(w_x), level=level, blend=1.0, noise=zeros)),
    }
    errors = {key: ratio(value, expected[key]) for key, value in got.items()}
    dlatent = ratio(np.tile(model.dlatent_avg.numpy(), (len(expected["dlatent_avg"]), 1)), expected["dlatent_avg"])
    return errors, dlatent, level, model.resolution


def run_case(arch, fmt, mode, scratch, want_compare):
    import numpy as np

    folder = pathlib.Path(FLAGS.fullsize_dir) / arch
    checkpoint = folder / FORMATS[fmt].format(arch=arch)
    row = {"arch": arch, "format": fmt, "mode": mode, "preset": PRESETS[arch]}
    if not checkpoint.exists():
        return {**row, "status": "skipped", "error": f"no {checkpoint}: run benchmarks/official_fullsize.py"}
    row["file_mib"] = checkpoint.stat().st_size / 2**20
    workdir = scratch / f"{arch}_{fmt}_{mode}"
    shutil.rmtree(workdir, ignore_errors=True)
    try:
        code, seconds, rss, out, err = convert(checkpoint, arch, mode, workdir)
        row.update(convert_s=seconds, peak_rss_mib=rss, returncode=code)
        if code != 0:
            message = (err.strip().splitlines() or ["(no output)"])[-1]
            return {**row, "status": "skipped", "error": f"convert failed: {message}"}
        row["convert_stdout"] = out.strip().splitlines()[-1] if out.strip() else ""
        if want_compare:
            expected = dict(np.load(folder / "expected.npz"))
            errors, dlatent, level, resolution = compare(workdir, expected)
            row.update({f"err_{k}": v for k, v in errors.items()}, err_dlatent_avg=dlatent)
            row.update(level=level, resolution=resolution)
            row["passed"] = all(errors[k] <= TOLERANCES[k] for k in TOLERANCES) and dlatent <= 1e-6
            if resolution != json.loads((folder / "expected.json").read_text())["resolution"]:
                row["passed"] = False
        return row
    except Exception as e:  # one case's failure is a row, not the end of the run
        return harness.skipped(row, e)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
        gc.collect()


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    import keras

    scratch = pathlib.Path(FLAGS.work_dir or tempfile.mkdtemp(prefix="fullsize_parity_"))
    scratch.mkdir(parents=True, exist_ok=True)
    rows = []
    for arch in FLAGS.archs:
        for fmt in FLAGS.formats:
            for i, mode in enumerate(FLAGS.modes):
                rows.append(run_case(arch, fmt, mode, scratch, want_compare=FLAGS.compare_all_modes or i == 0))
                harness.print_row(rows[-1], COLUMNS)
                keras.backend.clear_session()
    settings = harness.flag_values(["fullsize_dir", "archs", "formats", "modes", "compare_all_modes", "timeout_s"])
    settings.update(
        tolerances={k: f"max|got - want| <= {v} * max|want|" for k, v in TOLERANCES.items()},
        nets="EMA (the checkpoints' *_s nets), full resolution, blend 1, zero noise",
        torch_blocked=True,
        peak_rss="/usr/bin/time -f %M of the converter process (KiB / 1024)",
        official={
            arch: {
                k: v
                for k, v in json.loads((pathlib.Path(FLAGS.fullsize_dir) / arch / "expected.json").read_text()).items()
                if k in ("official_commit", "torch", "files", "training", "faces", "calls", "perturbation")
            }
            for arch in FLAGS.archs
            if (pathlib.Path(FLAGS.fullsize_dir) / arch / "expected.json").exists()
        },
    )
    harness.write_results(NAME, settings, rows, COLUMNS, FLAGS.output)
    if not FLAGS.work_dir:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    app.run(main)

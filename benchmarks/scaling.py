r"""Scaling of ALAE training over workers: all-reduce volume, measured 1 vs 2 workers, estimates.

    .venv/bin/python -m benchmarks.scaling [--presets=...] [--throughput_presets=mnist_mlp_tiny,mnist_mlp]
        [--flops_preset=ffhq --flops_levels=0,1,...,8]

Three parts, one JSON (`benchmarks/results/scaling.json`):

1. All-reduce volume per step, per preset: every update all-reduces the gradients of the
   variables it moves, float32 (4 bytes) whatever the compute precision: I (E, D), II (F, G),
   III (E and F, G: "official"; E and G: "paper"). Style presets at their last level, where every
   layer gets a gradient (an upper bound for lower levels). A ring all-reduce sends and receives
   2 (N - 1) / N times that per worker.
2. Measured images/s of one process vs 2 worker processes on this machine (`alae_tf.local_cluster`,
   loopback gRPC), from the chief's TensorBoard `images_per_second` windows (median, the first
   window, which includes the trace, left out).
3. FLOPs per image of the train step at each level of `--flops_preset` (`benchmarks/flops.py` over
   the traced step, mid-fade-in so both paths count), the schedule's images per level, and from
   them the time of the whole schedule on 8 A100s, 8 H100s and a TPU v4-8 at the published peaks
   (`HARDWARE`) and an assumed utilization (`--utilization`); the all-reduce time at the
   interconnect's published bandwidth is given beside it.
"""

import json
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile

from absl import app, flags

import alae_tf.startup  # noqa: F401  (first: loads TensorFlow without its start-up notices)
from alae_tf import builders, configs, local_cluster
from benchmarks import flops, harness

FLAGS = flags.FLAGS
flags.DEFINE_list("presets", ["mnist_mlp_tiny", "mnist_mlp", "faces_tiny", "mnist", "celeba-hq256", "ffhq"], "Volume.")
flags.DEFINE_list("throughput_presets", ["mnist_mlp_tiny", "mnist_mlp"], "Presets timed with 1 and 2 workers.")
flags.DEFINE_integer("throughput_images", 0, "Images per timed run (0: 200 steps of the batch).")
flags.DEFINE_integer("throughput_batch", 128, "Global batch of the timed runs (mnist_mlp_tiny: 32).")
flags.DEFINE_string("flops_preset", "ffhq", "Preset whose schedule is estimated ('' to skip).")
flags.DEFINE_list("flops_levels", [], "Levels to count FLOPs at (default: all).")
flags.DEFINE_float("utilization", 0.35, "Assumed fraction of the peak the step reaches on the accelerators.")

# Published peak dense throughput per device and interconnect bandwidth, for the estimates.
HARDWARE = {
    # NVIDIA A100 Tensor Core GPU datasheet (SXM 80GB): BF16/FP16 tensor 312 TFLOP/s dense,
    # TF32 156, FP32 19.5; NVLink 600 GB/s per GPU.
    "8x A100 (bf16/fp16)": {"devices": 8, "peak_tflops": 312.0, "link_gb_s": 600.0},
    "8x A100 (tf32)": {"devices": 8, "peak_tflops": 156.0, "link_gb_s": 600.0},
    # NVIDIA H100 Tensor Core GPU datasheet (SXM): BF16/FP16 tensor 989 TFLOP/s dense (1,979 with
    # sparsity), TF32 495 dense; NVLink 900 GB/s per GPU.
    "8x H100 (bf16/fp16)": {"devices": 8, "peak_tflops": 989.0, "link_gb_s": 900.0},
    # Google Cloud TPU v4 documentation: 275 TFLOP/s bf16 per chip, 32 GiB HBM; a v4-8 slice is
    # 4 chips; inter-chip interconnect about 4.5 Tbit/s (~560 GB/s) per chip (6 links x ~90 GB/s).
    "TPU v4-8 (bf16)": {"devices": 4, "peak_tflops": 275.0, "link_gb_s": 560.0},
}

VOLUME_COLUMNS = (
    ("preset", "preset"),
    ("model", "nets"),
    ("level", "level"),
    ("params_M", "trainable M"),
    ("update_1_MB", "I (E, D) MB"),
    ("update_2_MB", "II (F, G) MB"),
    ("update_3_MB", "III MB"),
    ("step_MB", "per step MB"),
    ("ring_8_MB", "ring traffic per worker, 8 workers, MB"),
)
THROUGHPUT_COLUMNS = (
    ("preset", "preset"),
    ("batch", "global batch"),
    ("workers", "workers"),
    ("images_per_s", "images/s"),
    ("windows", "windows"),
    ("wall_s", "wall s"),
)
FLOPS_COLUMNS = (
    ("preset", "preset"),
    ("level", "level"),
    ("px", "px"),
    ("batch", "batch"),
    ("gflop_per_image", "GFLOP/image"),
    ("images", "schedule images"),
    ("pflop", "PFLOP at this level"),
)


def _size(variables):
    return sum(_count(v.shape) for v in variables)


def _count(shape):
    n = 1
    for d in shape:
        n *= int(d)
    return n


def volume_row(name):
    config = configs.PRESETS[name]
    model = builders.build_model(config, seed=0)
    e, d = _size(model.encoder.trainable_variables), _size(model.discriminator.trainable_variables)
    f, g = _size(model.mapping.trainable_variables), _size(model.generator.trainable_variables)
    ae = e + (f + g if config.autoencoder_variables == "official" else g)
    megabytes = [4 * n / 1e6 for n in (e + d, f + g, ae)]
    return {
        "preset": name,
        "model": config.model,
        "level": config.layer_count - 1 if config.model == "style" else "",
        "params_M": round((e + d + f + g) / 1e6, 3),
        "update_1_MB": round(megabytes[0], 3),
        "update_2_MB": round(megabytes[1], 3),
        "update_3_MB": round(megabytes[2], 3),
        "step_MB": round(sum(megabytes), 3),
        "ring_8_MB": round(sum(megabytes) * 2 * 7 / 8, 3),
    }


def _images_per_second(logs):
    """Median of the `images_per_second` windows in `logs` (TensorBoard), the first window left out."""
    import tensorflow as tf

    values = []
    for path in sorted(pathlib.Path(logs).glob("events.out.tfevents.*")):
        for event in tf.compat.v1.train.summary_iterator(str(path)):
            for value in event.summary.value:
                if value.tag == "images_per_second":
                    values.append(float(tf.make_ndarray(value.tensor)))
    return (statistics.median(values[1:]) if len(values) > 1 else None), len(values[1:])


def throughput_row(name, workers, batch, images, root):
    workdir = pathlib.Path(root) / f"{name}-{workers}"
    args = [
        f"--workdir={workdir}",
        f"--preset={name}",
        f"--batch_size={batch}",
        f"--train_images={images}",
        f"--checkpoint_every_images={images}",
        f"--log_every_steps={max(1, images // batch // 10)}",
        "--verbose=0",
    ]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=str(harness.REPO_ROOT))
    stopwatch = harness.Stopwatch()
    with stopwatch:
        if workers == 1:
            command = [sys.executable, "-m", "alae_tf.commands.train", *args]
            status = subprocess.run(command, env=env, cwd=harness.REPO_ROOT, capture_output=True).returncode
        else:
            status = local_cluster.run(
                args, num_workers=workers, log_dir=workdir.with_suffix(".logs"), env=env, cwd=harness.REPO_ROOT
            )
    if status != 0:
        row = {"preset": name, "batch": batch, "workers": workers}
        return harness.skipped(row, RuntimeError(f"exit status {status}"))
    images_per_s, windows = _images_per_second(workdir / "logs")
    return {
        "preset": name,
        "batch": batch,
        "workers": workers,
        "images_per_s": round(images_per_s, 1),
        "windows": windows,
        "wall_s": round(stopwatch.seconds, 1),
    }


def flops_rows(name, levels):
    import tensorflow as tf

    config = configs.PRESETS[name]
    schedule = config.growth_schedule()
    model = builders.build_compiled_model(config, seed=0)
    rows = []
    for level in levels:
        model.set_level(level)
        model.blend.assign(0.5 if level else 1.0)
        batch = schedule.batch_size(level)
        px = schedule.resolution(level)
        spec = tf.TensorSpec([batch, px, px, config.image_shape[2]], tf.float32)
        per_image = flops.function_flops(model.train_step, spec) / batch
        end = schedule.level_end(level)
        images = (min(end, config.train_images) if end is not None else config.train_images) - min(
            schedule.level_start(level), config.train_images
        )
        rows.append(
            {
                "preset": name,
                "level": level,
                "px": px,
                "batch": batch,
                "gflop_per_image": round(per_image / 1e9, 3),
                "images": images,
                "pflop": round(per_image * images / 1e15, 3),
            }
        )
        print(rows[-1], flush=True)
    return rows


def estimates(flop_rows, volume, utilization):
    """Days of the whole schedule per `HARDWARE` entry: compute at `utilization` of peak, and all-reduce."""
    total_flop = sum(r["pflop"] for r in flop_rows) * 1e15
    out = {}
    for name, hw in HARDWARE.items():
        compute_s = total_flop / (hw["devices"] * hw["peak_tflops"] * 1e12 * utilization)
        # Steps per level at the preset's per-device batch times the device count (global batch).
        steps = sum(r["images"] / (r["batch"] * hw["devices"]) for r in flop_rows)
        ring_bytes = volume["step_MB"] * 1e6 * 2 * (hw["devices"] - 1) / hw["devices"]
        allreduce_s = steps * ring_bytes / (hw["link_gb_s"] * 1e9)
        out[name] = {
            "compute_days": round(compute_s / 86400, 2),
            "allreduce_days_if_not_overlapped": round(allreduce_s / 86400, 3),
            "steps": int(steps),
        }
    return out


def main(argv):
    del argv
    volume = [volume_row(name) for name in FLAGS.presets]
    print(harness.format_table(volume, VOLUME_COLUMNS), flush=True)
    throughput = []
    with tempfile.TemporaryDirectory(prefix="alae-scaling-") as root:
        for name in FLAGS.throughput_presets:
            batch = 32 if name == "mnist_mlp_tiny" else FLAGS.throughput_batch
            images = FLAGS.throughput_images or 200 * batch
            for workers in (1, 2):
                throughput.append(throughput_row(name, workers, batch, images, root))
                print(throughput[-1], flush=True)
    flop_rows, estimate = [], {}
    if FLAGS.flops_preset:
        config = configs.PRESETS[FLAGS.flops_preset]
        levels = [int(v) for v in FLAGS.flops_levels] or list(range(config.layer_count))
        flop_rows = flops_rows(FLAGS.flops_preset, levels)
        if len(levels) == config.layer_count:
            top = (
                next(r for r in volume if r["preset"] == FLAGS.flops_preset)
                if FLAGS.flops_preset in FLAGS.presets
                else None
            )
            estimate = estimates(flop_rows, top or volume_row(FLAGS.flops_preset), FLAGS.utilization)
            print(json.dumps(estimate, indent=2))
    rows = (
        [{"part": "volume", **r} for r in volume]
        + [{"part": "throughput", **r} for r in throughput]
        + [{"part": "flops", **r} for r in flop_rows]
    )
    columns = (("part", "part"),) + tuple(dict.fromkeys(VOLUME_COLUMNS + THROUGHPUT_COLUMNS + FLOPS_COLUMNS))
    harness.write_results(
        "scaling",
        {**harness.flag_values(["presets", "throughput_presets", "throughput_batch", "flops_preset", "utilization"])},
        rows,
        columns,
        output=FLAGS.output,
        extra={"estimates": estimate, "hardware": HARDWARE},
    )


if __name__ == "__main__":
    app.run(main)

r"""Training throughput of the ALAE train step, in images/s, per preset, level and precision.

    python -m benchmarks.train_throughput                      # the default set (slow: 10-60 min on CPU)
    python -m benchmarks.train_throughput --presets=mnist_mlp --precisions=mixed_bfloat16 \
        --warmup_steps=1 --steps=5                             # a quick check

What is timed: `ALAE.train_step` (steps I, II, III, EMA) compiled exactly as `fit` compiles it
(`model.make_train_function()`, called on a `tf.data` iterator), one step per call; each call
is synchronised by reading a loss back to the host. Per case:

* build_s: set the precision policy, build and compile the model (`builders.build_compiled_model`);
  a style preset is built once (every level's variables) and shared by its levels;
* first_step_s: `make_train_function` + trace + the first step;
* time_to_first_step_s = build_s + first_step_s (what a fresh run pays before step 2);
* images_per_s = batch / median step time over the timed steps, after `--warmup_steps`.

Inputs are random images in the preset's pixel range at the level's resolution
(`--input=random`), or the preset's real data through `data.training_batches` as
training feeds it (`--input=dataset`). Style presets run at `--levels` with blend 1
(no fade-in). The PyTorch column is the official code's speed on this machine when
`official_throughput.py` has measured it here (`--pytorch_results`), else the figures
quoted for the official code (measured on another machine); the target is twice that.

Roofline (`--roofline`, on by default): the step's FLOPs, counted by `benchmarks/flops.py`
from TF's op statistics over the traced `train_step` (only ops its updates depend on), give
its GFLOP/s; the peak is this machine's best square-matmul GFLOP/s in the precision's
compute dtype (TF's, or for float32 the official run's torch figure when higher), and
`ceiling_images_per_s` = batch * peak / FLOPs per step: what the step would reach if every
FLOP ran at that peak. A ceiling under twice the PyTorch figure means the target needs
fewer FLOPs, not faster kernels.
"""

import functools
import gc
import json
import math
import pathlib

import keras
import tensorflow as tf
from absl import app, flags

from alae_tf import builders, configs, data
from benchmarks import flops, harness

NAME = "train_throughput"
PRECISIONS = ("float32", "mixed_bfloat16", "mixed_float16")
# Official PyTorch code, images/s, as quoted for this project (measured on an AMD EPYC
# machine): MLP at batch 128; StyleALAE with the celeba-hq256 widths at batch 32, by
# level (4, 8, 16 px). `--pytorch_results` replaces them with official_throughput.py's
# measurement on this machine.
PYTORCH_IMAGES_PER_S = {
    ("mnist_mlp", None): 1175.0,
    ("celeba-hq256", 0): 59.0,
    ("celeba-hq256", 1): 13.4,
    ("celeba-hq256", 2): 3.0,
}
OFFICIAL_RESULTS = pathlib.Path(__file__).resolve().parent / "results" / "official_throughput.json"
TARGET_SPEEDUP = 2.0

FLAGS = flags.FLAGS
flags.DEFINE_list("presets", ["mnist_mlp", "celeba-hq256", "faces_tiny"], "Presets (alae_tf/configs.py).")
flags.DEFINE_list(
    "precisions",
    ["float32", "mixed_bfloat16"],
    f"Keras global policies, set before the model is built: {', '.join(PRECISIONS)}.",
)
flags.DEFINE_list(
    "levels",
    ["0", "1", "2", "3"],
    "Style presets: levels to run (4 * 2**level px); levels the preset does not have are left out.",
)
flags.DEFINE_string(
    "pytorch_results",
    "auto",
    "Where the PyTorch column comes from: a JSON file written by official_throughput.py; "
    "'auto' (that script's default output, if it was measured on a CPU of this model); or "
    "'quoted' (the reference figures quoted for the official code, from another machine).",
)
flags.DEFINE_integer("mlp_batch_size", 128, "Batch size of MLP presets.", lower_bound=1)
flags.DEFINE_integer("style_batch_size", 32, "Batch size of style presets, at every level.", lower_bound=1)
flags.DEFINE_integer("warmup_steps", 2, "Untimed steps after the first one.", lower_bound=0)
flags.DEFINE_integer("steps", 20, "Timed steps (at most).", lower_bound=1)
flags.DEFINE_float(
    "max_seconds", 60.0, "Stop timing a case after this many seconds, once --min_steps are done.", lower_bound=0.0
)
flags.DEFINE_integer("min_steps", 3, "Timed steps made even past --max_seconds.", lower_bound=1)
flags.DEFINE_enum(
    "input",
    "random",
    ["random", "dataset"],
    "random: one random batch repeated (the step alone); dataset: the preset's data "
    "through data.training_batches, as training reads it.",
)
flags.DEFINE_string("data_dir", None, "--input=dataset: overrides the dataset's default location.")
flags.DEFINE_bool("jit_compile", False, "XLA-compile the train step.")
flags.DEFINE_bool(
    "breakdown",
    False,
    "Also time steps I, II, III and the EMA update alone (each its own tf.function) to see where a step's time goes.",
)
flags.DEFINE_string(
    "profile_dir",
    None,
    "Also trace --profile_steps steps of every case with the TF profiler "
    "into PROFILE_DIR/<preset>[-<level>]-<precision> (view in TensorBoard's Profile tab).",
)
flags.DEFINE_integer("profile_steps", 3, "Steps traced per case with --profile_dir.", lower_bound=1)
flags.DEFINE_integer("seed", 0, "Seed of the weights and the random images.")
flags.DEFINE_bool(
    "roofline",
    True,
    "Also count each step's FLOPs (TF's op statistics) and rate them against "
    "this machine's best square-matmul GFLOP/s in the precision's compute dtype: GFLOP/s, % of peak "
    "and the images/s the step would reach at that peak (the ceiling).",
)

for _name, _choices in (("precisions", PRECISIONS), ("presets", tuple(configs.PRESETS))):
    flags.register_validator(
        _name,
        lambda values, c=_choices: all(v in c for v in values),
        message=f"--{_name} must be a subset of {_choices}",
    )
flags.register_validator(
    "levels", lambda values: all(v.isdigit() for v in values), message="--levels must be non-negative integers"
)

COLUMNS = [
    ("preset", "preset"),
    ("level", "level"),
    ("resolution", "px"),
    ("precision", "precision"),
    ("batch_size", "batch"),
    ("build_s", "build s"),
    ("first_step_s", "first step s"),
    ("time_to_first_step_s", "to first step s"),
    ("median_step_s", "step s (median)"),
    ("images_per_s", "images/s"),
    ("pytorch_images_per_s", "PyTorch images/s"),
    ("speedup_vs_pytorch", "x PyTorch"),
    ("steps_timed", "steps"),
]
ROOFLINE_COLUMNS = [
    ("preset", "preset"),
    ("resolution", "px"),
    ("precision", "precision"),
    ("gflop_per_step", "GFLOP/step"),
    ("gflops_per_s", "GFLOP/s"),
    ("peak_gflops_per_s", "peak GFLOP/s"),
    ("percent_of_peak", "% of peak"),
    ("ceiling_images_per_s", "images/s at peak"),
    ("ceiling_vs_pytorch", "at peak x PyTorch"),
]
BREAKDOWN_COLUMNS = [
    ("median_step_s", "whole step"),
    ("step_I_ed_s", "I: E, D (+R1)"),
    ("step_II_fg_s", "II: F, G"),
    ("step_III_ae_s", "III: latent AE"),
    ("ema_s", "EMA"),
]


def _input_stream(model, config, batch_size):
    """Batches at the model's current resolution: random (repeated) or the real training stream."""
    if FLAGS.input == "dataset":
        images = tf.constant(
            data.load_split(config.dataset, "train", config.image_shape, data_dir=FLAGS.data_dir).images
        )
        stream = data.training_batches(
            images, batch_size=batch_size, seed=FLAGS.seed, pixel_range=config.pixel_range, flip=config.flip
        )
        if model.is_style:
            stream = stream.map(model.at_current_resolution, num_parallel_calls=tf.data.AUTOTUNE)
        return stream
    channels = config.image_shape[2]
    lo, hi = config.pixel_range
    x = tf.random.stateless_uniform(
        (batch_size, model.resolution, model.resolution, channels),
        seed=(FLAGS.seed, model.level or 0),
        minval=lo,
        maxval=hi,
    )
    return tf.data.Dataset.from_tensors(x).repeat()


def _sync(logs):
    """Block until the step is done: read every loss back (and drain GPU streams, if any)."""
    values = {k: float(v) for k, v in logs.items()}
    tf.test.experimental.sync_devices()
    return values


def _breakdown(model, stream, batch_size):
    """Median seconds of steps I, II, III and the EMA update run alone (same inputs as the step)."""
    x = next(iter(stream))
    z = model.draw_latents(batch_size)
    phases = {
        "step_I_ed_s": lambda: model.discriminator_step(x, z[0])["loss_d"],
        "step_II_fg_s": lambda: model.generator_step(z[1])["loss_g"],
        "step_III_ae_s": lambda: model.autoencoder_step(z[2])["loss_ae"],
        "ema_s": lambda: (model.update_ema(batch_size), model.step.value)[1],
    }
    result = {}
    for name, phase in phases.items():
        fn = tf.function(phase, jit_compile=FLAGS.jit_compile)
        result[name] = harness.summarize(
            harness.time_calls(
                lambda fn=fn: _sync({"v": fn()}),
                FLAGS.steps,
                warmup=1 + FLAGS.warmup_steps,
                max_seconds=FLAGS.max_seconds,
                min_runs=FLAGS.min_steps,
            )
        )["median_s"]
    return result


def _time_level(model, config, preset, level, precision, batch_size, build_s):
    """One row: trace + first step, warm-up, timed steps at the model's current level."""
    row = {
        "preset": preset,
        "level": level,
        "resolution": model.resolution,
        "precision": precision,
        "batch_size": batch_size,
        "input": FLAGS.input,
        "jit_compile": FLAGS.jit_compile,
        "build_s": build_s,
    }
    stream = _input_stream(model, config, batch_size)
    iterator = iter(stream)
    with harness.Stopwatch() as first:
        model.make_train_function()
        _sync(model.train_function(iterator))
    logs = {}

    def step():
        logs.update(_sync(model.train_function(iterator)))

    times = harness.time_calls(
        step, FLAGS.steps, warmup=FLAGS.warmup_steps, max_seconds=FLAGS.max_seconds, min_runs=FLAGS.min_steps
    )
    stats = harness.summarize(times)
    reference = pytorch_reference()[1].get((preset, level))
    images_per_s = batch_size / stats["median_s"]
    row.update(
        {
            "status": "ok",
            "first_step_s": first.seconds,
            "time_to_first_step_s": build_s + first.seconds,
            "median_step_s": stats["median_s"],
            "step_stats": stats,
            "images_per_s": images_per_s,
            "steps_timed": stats["runs"],
            "pytorch_images_per_s": reference,
            "speedup_vs_pytorch": None if reference is None else images_per_s / reference,
            "target_images_per_s": None if reference is None else TARGET_SPEEDUP * reference,
            "final_losses": logs,
            "losses_finite": all(math.isfinite(v) for v in logs.values()),
            "train_step_traces": model.train_step_traces,
        }
    )
    if FLAGS.roofline:
        step_flops = flops.function_flops(model.train_step, tf.TensorSpec.from_tensor(next(iterator)))
        harness.roofline(row, step_flops, batch_size, peak_gflops(precision))
        if reference is not None:
            row["ceiling_vs_pytorch"] = row["ceiling_images_per_s"] / reference
    if FLAGS.breakdown:
        row["breakdown"] = _breakdown(model, stream, batch_size)
    if FLAGS.profile_dir:
        case = "-".join(str(part) for part in (preset, level, precision) if part is not None)
        row["profile_dir"] = str(pathlib.Path(FLAGS.profile_dir) / case)
        tf.profiler.experimental.start(row["profile_dir"])
        try:
            for _ in range(FLAGS.profile_steps):
                step()
        finally:
            tf.profiler.experimental.stop()
    return row


def run_preset(preset, precision):
    """Rows of one preset in one precision (a row per level for style presets)."""
    config = configs.PRESETS[preset]
    is_style = config.model == "style"
    batch_size = FLAGS.style_batch_size if is_style else FLAGS.mlp_batch_size
    levels = [int(v) for v in FLAGS.levels if int(v) < config.layer_count] if is_style else [None]
    base = {"preset": preset, "precision": precision, "batch_size": batch_size}
    rows = []
    # Held for the whole case, as `training.train` holds it for the whole run.
    keras.mixed_precision.set_global_policy(precision)
    try:
        try:
            with harness.Stopwatch() as build:
                model = builders.build_compiled_model(config, seed=FLAGS.seed, jit_compile=FLAGS.jit_compile)
        except Exception as e:  # a precision or preset this build cannot run: report it, go on
            rows = [harness.skipped({**base, "level": level}, e) for level in levels]
            for row in rows:
                harness.print_row(row, COLUMNS)
            return rows
        for level in levels:
            try:
                if is_style:
                    model.set_level(level)
                    model.blend.assign(1.0)
                rows.append(_time_level(model, config, preset, level, precision, batch_size, build.seconds))
            except Exception as e:  # one level failing (out of memory, missing data) must not hide the others
                rows.append(harness.skipped({**base, "level": level}, e))
            harness.print_row(rows[-1], COLUMNS)
        del model
    finally:
        keras.mixed_precision.set_global_policy("float32")
        keras.backend.clear_session()
        gc.collect()
    return rows


@functools.cache
def peak_gflops(precision):
    """This machine's best square-matmul GFLOP/s in `precision`'s compute dtype.

    TF's rate, measured now; for float32 the official run's torch rate (the
    PyTorch source file's) counts too when higher: a ceiling must not sit
    below a rate this machine was seen to reach.
    """
    dtype = keras.mixed_precision.Policy(precision).compute_dtype

    def make_matmul(n):
        a, b = (tf.cast(tf.random.stateless_normal((n, n), seed=(i, 0)), dtype) for i in range(2))
        matmul = tf.function(tf.linalg.matmul)
        return lambda: matmul(a, b).numpy()

    peak = harness.matmul_peak_gflops(make_matmul)
    torch_peak = pytorch_reference()[2] if dtype == "float32" else None
    return max(peak, torch_peak or 0.0)


@functools.cache
def pytorch_reference():
    """`(source, {(preset, level): images/s}, torch's float32 peak GFLOP/s or None)` for the PyTorch
    column (see `--pytorch_results`)."""
    choice = FLAGS.pytorch_results
    quoted = "quoted reference (AMD EPYC)", PYTORCH_IMAGES_PER_S, None
    if choice == "quoted":
        return quoted
    path = OFFICIAL_RESULTS if choice == "auto" else pathlib.Path(choice)
    if not path.is_file():
        if choice == "auto":
            return quoted
        raise app.UsageError(f"--pytorch_results: no file {path}")
    payload = json.loads(path.read_text())
    measured_on = payload.get("machine", {}).get("cpu_model")
    same_cpu = measured_on == harness.machine_info()["cpu_model"]
    if choice == "auto" and not same_cpu:
        return quoted
    images_per_s = {}
    for row in payload.get("results", []):
        if row.get("status") == "ok":
            images_per_s[(row["preset"], row["level"])] = float(row["images_per_s"])
    source = f"measured by official_throughput.py on {measured_on} ({path.name}, {payload.get('created')})"
    return source, images_per_s, payload.get("settings", {}).get("peak_gflops_per_s") if same_cpu else None


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    rows = [row for preset in FLAGS.presets for precision in FLAGS.precisions for row in run_preset(preset, precision)]
    settings = harness.flag_values(
        [
            "presets",
            "precisions",
            "levels",
            "mlp_batch_size",
            "style_batch_size",
            "warmup_steps",
            "steps",
            "max_seconds",
            "min_steps",
            "input",
            "jit_compile",
            "breakdown",
            "profile_dir",
            "seed",
            "pytorch_results",
            "roofline",
        ]
    )
    source, reference, _ = pytorch_reference()
    settings["pytorch_source"] = source
    settings["pytorch_images_per_s"] = {
        f"{p}" + ("" if lv is None else f"@{lv}"): v for (p, lv), v in reference.items()
    }
    settings["target_speedup"] = TARGET_SPEEDUP
    if FLAGS.roofline:
        settings["peak_gflops_per_s"] = {p: peak_gflops(p) for p in FLAGS.precisions}
    harness.write_results(NAME, settings, rows, COLUMNS, FLAGS.output)
    if FLAGS.roofline:
        print("\nroofline (FLOPs counted by TF; peak: square matmuls in the compute dtype, this run)\n")
        print(harness.format_table([r for r in rows if r.get("status") == "ok"], ROOFLINE_COLUMNS))
    if FLAGS.breakdown:
        print("\nSeconds per phase, each run alone as its own tf.function (median):")
        print(
            harness.format_table(
                [{**row, **row["breakdown"]} for row in rows if "breakdown" in row], COLUMNS[:5] + BREAKDOWN_COLUMNS
            )
        )


if __name__ == "__main__":
    app.run(main)

r"""Serve a published ALAE architecture at full size: export every format as a user would, check, time.

    # a converted official checkpoint (ffhq: 1024 px)
    python -m benchmarks.published_export --workdir=W --out_dir=OUT
    # convert it first, timed too
    python -m benchmarks.published_export --official_checkpoint=model_157.pth \
        --official_config=configs/ffhq.yaml --preset=ffhq --workdir=W --out_dir=OUT
    # no checkpoint at hand: a random ffhq model with every weight moved (development stand-in)
    python -m benchmarks.published_export --random_preset=ffhq --workdir=W --out_dir=OUT

Each export step runs the project's own binary as a child process, with its wall time and peak
resident memory (`os.wait4`'s rusage of that child and what it waited for) and the sizes of what
it wrote:

* `convert`: `alae-convert` (with `--official_checkpoint`), or the random stand-in;
* `saved_model`: `export/saved_model.py` (mapping, generator, encoder, discriminator, alae, editor
  and `models.config`), at the model's resolution, and again at `--low_resolution` (the level of
  that resolution, `--resolution`), whose encoder is the reference of the low-resolution TFLite;
* `tflite`: `export/tflite.py` for each `--tflite_modes` (float16, dynamic-range int8) at the
  model's resolution (`--saved_model`) and at `--low_resolution` (`--workdir --resolution`);
* `onnx`: `export/onnx_model.py` on the encoder's `encode_float` and the generator's `decode_float`
  (a failure is kept as a skipped row with tf2onnx's error).

Then, in this process, on `--check_faces` real faces (`--faces`: the official 1024 px samples if
present, else ../shared/data/faces128, resized up to the model's resolution):

* the SavedModel against the library (the workdir's EMA nets at the exported level, the same
  fixed noise): uint8 signatures (encoder `serving_default`, generator `serving_default`, alae
  `reconstruct`) in grey levels, float ones (`encode_float`, `decode_float`) as max |d| / max |want|;
* every TFLite encoder against its SavedModel encoder: max |dw| / max |w| and the cosine of w;
* ONNX against the SavedModel (w, and the float image);
* batch-1 latency of encode (image -> w), decode (w -> image) and reconstruct (image -> image) in
  each format (TF with `--threads` intra-op threads, LiteRT and onnxruntime with as many), the
  median of `--runs` calls after `--warmup`. TFLite holds the encoder only.
"""

import json
import os
import pathlib
import shutil
import subprocess
import sys
import time

import numpy as np
from absl import app, flags

from benchmarks import harness

NAME = "published_export"
REPO = harness.REPO_ROOT
SHARED_FACES = REPO.parent / "shared" / "data" / "faces128"

FLAGS = flags.FLAGS
flags.DEFINE_string("workdir", None, "Converted workdir (alae-convert), or where to make one.", required=True)
flags.DEFINE_string("out_dir", None, "Where the exports go (large: keep it outside the repository).", required=True)
flags.DEFINE_string("official_checkpoint", None, "Convert this official .pth into --workdir first (timed).")
flags.DEFINE_string("official_config", None, "The official YAML config of --official_checkpoint.")
flags.DEFINE_string("preset", None, "Preset for the conversion (ffhq, celeba-hq256, celeba, bedroom).")
flags.DEFINE_string(
    "random_preset", None, "No checkpoint: make --workdir from this preset's random nets, every EMA weight moved."
)
flags.DEFINE_integer("low_resolution", 256, "Also export and convert the encoder at this size (0: no).", lower_bound=0)
flags.DEFINE_list("tflite_modes", ["float16", "dynamic"], "TFLite quantization modes (export/tflite.py --quantize).")
flags.DEFINE_bool("onnx", True, "Convert the encoder and the generator to ONNX with tf2onnx.")
flags.DEFINE_string(
    "faces",
    None,
    "Folder of real faces, e.g. the official repository's dataset_samples/faces/realign1024x1024 "
    "(default: ../shared/data/faces128).",
)
flags.DEFINE_integer("check_faces", 4, "Real faces the checks run on.", lower_bound=1)
flags.DEFINE_integer("runs", 3, "Timed batch-1 calls per format and operation.", lower_bound=1)
flags.DEFINE_integer("warmup", 1, "Untimed calls first.", lower_bound=0)
flags.DEFINE_integer("threads", 2, "Threads of every runtime (TF intra-op, LiteRT, onnxruntime).", lower_bound=1)
flags.DEFINE_bool("reuse", False, "Keep exports already in --out_dir (no export rows for them): checks only.")

COLUMNS = [
    ("format", "format"),
    ("variant", "variant"),
    ("px", "px"),
    ("export_s", "export s"),
    ("peak_rss_gb", "peak RSS GB"),
    ("size_mb", "size MB"),
    ("encode_s", "encode s"),
    ("decode_s", "decode s"),
    ("reconstruct_s", "reconstruct s"),
    ("agreement", "agreement"),
]


# ----------------------------------------------------------------- child steps
def run_child(command, log):
    """`(seconds, peak RSS bytes)` of `command` run from the repo root; raises RuntimeError on failure."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    start = time.perf_counter()
    with open(log, "w") as out:
        process = subprocess.Popen(command, cwd=REPO, stdout=out, stderr=subprocess.STDOUT, env=env)
        _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        tail = pathlib.Path(log).read_text().strip().splitlines()[-6:]
        raise RuntimeError(f"{' '.join(command[1:3])} failed ({process.returncode}): {' | '.join(tail)}")
    return seconds, usage.ru_maxrss * 1024  # ru_maxrss is in KiB on Linux


def size_bytes(path):
    path = pathlib.Path(path)
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _step(row, command, log, outputs):
    """Run one export step into `row`: seconds, peak RSS, size of `outputs`."""
    seconds, rss = run_child(command, log)
    row.update(
        {
            "status": "ok",
            "export_s": seconds,
            "peak_rss_gb": rss / 2**30,
            "size_bytes": sum(size_bytes(p) for p in outputs),
            "command": " ".join(command[1:]),
        }
    )
    row["size_mb"] = row["size_bytes"] / 1e6
    return row


def make_random_workdir(preset, workdir, seed=0):
    """A workdir of `preset`'s random nets, stamped as a finished run, with every EMA weight moved (child)."""
    code = f"""
import pathlib, numpy as np
import alae_tf.startup
from alae_tf import atomic, builders, configs
from alae_tf.checkpoint import CheckpointManager
config = configs.PRESETS[{preset!r}]
workdir = pathlib.Path({str(workdir)!r})
model = builders.build_compiled_model(config, seed={seed})
rng = np.random.default_rng({seed} + 1)
for net in model.ema_nets:  # const, biases and noise strengths off their initial ones and zeros
    for v in net.weights:
        x = v.numpy()
        v.assign(x + rng.normal(0, 0.1 * (float(np.std(x)) or 1.0), x.shape).astype(np.float32))
schedule = config.growth_schedule()
steps = images = 0
for level, n in schedule.segments(0, config.train_images):
    steps += n
    images += n * schedule.batch_size(level)
model.step.assign(steps)
model.images_seen.assign(images)
model.blend.assign(1.0)
CheckpointManager(workdir, model, config).save()
atomic.write_text(workdir / "config.json", config.to_json())
"""
    return [sys.executable, "-c", code]


# --------------------------------------------------------------------- checks
def load_faces(folder, resolution, count):
    """uint8 `[count, r, r, 3]`: the first `count` images of `folder`, resized (area / bilinear) to r."""
    import tensorflow as tf

    files = sorted(p for p in pathlib.Path(folder).iterdir() if p.suffix.lower() in (".png", ".jpg", ".jpeg"))
    images = []
    for path in files[:count]:
        image = tf.io.decode_image(path.read_bytes(), channels=3, expand_animations=False)
        method = "area" if image.shape[0] > resolution else "bilinear"
        image = tf.image.resize(tf.cast(image, tf.float32), (resolution, resolution), method=method)
        images.append(np.clip(np.rint(image.numpy()), 0, 255).astype(np.uint8))
    return np.stack(images)


def pool(images_uint8, resolution):
    from alae_tf.workdir import pool_to_resolution

    return pool_to_resolution(images_uint8, resolution)


def rel(got, want):
    """max |got - want| / max |want|."""
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    return float(np.max(np.abs(got - want)) / max(np.max(np.abs(want)), 1e-30))


def cosine(got, want):
    """The smallest cosine between rows of `got` and `want`."""
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    dots = np.sum(got * want, axis=1) / (np.linalg.norm(got, axis=1) * np.linalg.norm(want, axis=1))
    return float(np.min(dots))


def grey_levels(got, want):
    return int(np.max(np.abs(got.astype(np.int32) - want.astype(np.int32))))


def library_reference(workdir, faces_uint8, resolution):
    """The library's E(x), G(E(x)) (float and uint8) at the level of `resolution`, and E of uint8 faces."""
    import tensorflow as tf

    from alae_tf import data
    from alae_tf import workdir as workdir_lib
    from alae_tf.export import signatures

    run = workdir_lib.open_run(workdir)
    model, config = run.model, run.config
    level, blend = signatures.export_level(model, resolution)
    F, G, E, D = model.ema_nets
    x = data.to_pixel_range(tf.constant(faces_uint8), config.pixel_range)
    w = E(x, level=level, blend=blend).numpy()
    shapes = [shape[1:] for shape in G.noise_shapes(level, 1)]
    noise = [
        tf.repeat(tf.random.stateless_normal([1, *shape], seed=[signatures.NOISE_SEED, k]), len(w), axis=0)
        for k, shape in enumerate(shapes)
    ]
    styles = tf.repeat(tf.constant(w)[:, None], G.num_styles, axis=1)
    image = G(styles, level=level, blend=blend, noise=noise).numpy()
    out = {
        "x_float": x.numpy(),
        "w": w,
        "image_float": image,
        "image_uint8": data.from_pixel_range(image, config.pixel_range).numpy(),
        "pixel_range": config.pixel_range,
    }
    del run, model
    return out


def median_seconds(fn, *args):
    """Median seconds of `fn(*args)` over --runs calls after --warmup."""
    return harness.summarize(harness.time_calls(lambda: fn(*args), FLAGS.runs, warmup=FLAGS.warmup))["median_s"]


def _out(function, key, **inputs):
    """`function(**inputs)[key]` as numpy (a signature call read back to the host)."""
    return function(**inputs)[key].numpy()


# ----------------------------------------------------------------------- main
def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    out = pathlib.Path(FLAGS.out_dir).absolute()
    logs = out / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    workdir = pathlib.Path(FLAGS.workdir).absolute()
    py = sys.executable
    rows, by_key = [], {}

    def add(row):
        rows.append(row)
        by_key[(row["format"], row["variant"], row.get("px"))] = row
        harness.print_row(row, COLUMNS)
        return row

    def guarded(row, command, log, outputs):
        try:
            return add(_step(row, command, log, outputs))
        except Exception as e:  # one step failing must not hide the others
            return add(harness.skipped(row, e))

    # 1. the workdir
    if FLAGS.official_checkpoint and not (FLAGS.reuse and (workdir / "config.json").exists()):
        command = [py, "-m", "alae_tf.commands.convert", f"--official_checkpoint={FLAGS.official_checkpoint}"]
        command += [f"--official_config={FLAGS.official_config}"] if FLAGS.official_config else []
        command += [f"--preset={FLAGS.preset}"] if FLAGS.preset else []
        guarded(
            {"format": "convert", "variant": pathlib.Path(FLAGS.official_checkpoint).name},
            [*command, f"--workdir={workdir}"],
            logs / "convert.log",
            [workdir],
        )
    elif FLAGS.random_preset and not (workdir / "config.json").exists():
        guarded(
            {"format": "convert", "variant": f"random {FLAGS.random_preset} (stand-in)"},
            make_random_workdir(FLAGS.random_preset, workdir),
            logs / "convert.log",
            [workdir],
        )
    config = json.loads((workdir / "config.json").read_text())
    resolution = int(config["image_shape"][0])
    low = FLAGS.low_resolution if 0 < FLAGS.low_resolution < resolution else None
    resolutions = [resolution] + ([low] if low else [])

    # 2. exports, one child process each
    serving = {r: out / f"serving_{r}" for r in resolutions}
    tflite_files = {}
    onnx_files = {}
    for r in resolutions:
        if FLAGS.reuse and (serving[r] / "models.config").exists():
            add({"format": "saved_model", "variant": "reused", "px": r, "status": "ok"})
        else:
            shutil.rmtree(serving[r], ignore_errors=True)
            command = [py, "export/saved_model.py", f"--workdir={workdir}", f"--output_dir={serving[r]}", "--version=1"]
            command += [f"--resolution={r}"] if r != resolution else []
            add_row = {"format": "saved_model", "variant": "6 parts + models.config", "px": r}
            guarded(add_row, command, logs / f"saved_model_{r}.log", [serving[r]])
            if add_row.get("status") == "ok":
                add_row["part_sizes_mb"] = {p.name: size_bytes(p) / 1e6 for p in serving[r].iterdir() if p.is_dir()}
    faces_dir = pathlib.Path(FLAGS.faces) if FLAGS.faces else SHARED_FACES
    for r in resolutions:
        for mode in FLAGS.tflite_modes:
            path = out / "tflite" / f"encoder_{r}_{mode}.tflite"
            tflite_files[(r, mode)] = path
            if FLAGS.reuse and path.exists():
                continue
            path.parent.mkdir(parents=True, exist_ok=True)
            source = (
                [f"--saved_model={serving[r] / 'encoder' / '1'}"]
                if r == resolution
                else [f"--workdir={workdir}", f"--resolution={r}"]
            )
            command = [py, "export/tflite.py", *source, f"--quantize={mode}", f"--output={path}", "--overwrite"]
            command += [f"--eval_data=folder:{faces_dir}", "--check_images=4", "--latency_runs=2"]
            guarded(
                {"format": "tflite", "variant": f"encoder {mode}", "px": r}, command, logs / f"{path.stem}.log", [path]
            )
    if FLAGS.onnx:
        for part, signature in (("encoder", "encode_float"), ("generator", "decode_float")):
            path = out / "onnx" / f"{part}_{resolution}.onnx"
            onnx_files[part] = path
            if FLAGS.reuse and path.exists():
                continue
            path.parent.mkdir(parents=True, exist_ok=True)
            command = [py, "export/onnx_model.py", f"--saved_model={serving[resolution] / part / '1'}"]
            command += [f"--signature={signature}", f"--output={path}", "--overwrite"]
            guarded(
                {"format": "onnx", "variant": f"{part} {signature}", "px": resolution},
                command,
                logs / f"{path.stem}.log",
                [path],
            )

    # 3. checks and latency, in this process
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(FLAGS.threads)
    tf.config.threading.set_inter_op_parallelism_threads(FLAGS.threads)
    faces = load_faces(faces_dir, resolution, FLAGS.check_faces)
    references = {r: library_reference(workdir, pool(faces, r), r) for r in resolutions}
    lo, hi = references[resolution]["pixel_range"]

    for r in resolutions:
        ref, x8 = references[r], pool(faces, r)
        row = by_key.get(("saved_model", "6 parts + models.config", r)) or by_key.get(("saved_model", "reused", r))
        if row is None or row.get("status") != "ok":
            continue
        try:
            encoder = tf.saved_model.load(str(serving[r] / "encoder" / "1"))
            generator = tf.saved_model.load(str(serving[r] / "generator" / "1"))
            alae = tf.saved_model.load(str(serving[r] / "alae" / "1"))
            enc_u8, enc_f = encoder.signatures["serving_default"], encoder.signatures["encode_float"]
            dec_u8, dec_f = generator.signatures["serving_default"], generator.signatures["decode_float"]
            rec_u8 = alae.signatures["reconstruct"]
            w_u8 = enc_u8(image=tf.constant(x8))["w"].numpy()
            w_f = enc_f(image=tf.constant(ref["x_float"]))["w"].numpy()
            img_f = dec_f(w=tf.constant(ref["w"]))["image"].numpy()
            img_u8 = dec_u8(w=tf.constant(ref["w"]))["image"].numpy()
            rec = rec_u8(image=tf.constant(x8))["image"].numpy()
            check = {
                "encode_uint8_w_rel": rel(w_u8, ref["w"]),
                "encode_float_w_rel": rel(w_f, ref["w"]),
                "decode_float_rel": rel(img_f, ref["image_float"]),
                "decode_uint8_grey_levels": grey_levels(img_u8, ref["image_uint8"]),
                "reconstruct_uint8_grey_levels": grey_levels(rec, ref["image_uint8"]),
                "reconstruct_uint8_grey_levels_p999": float(
                    np.quantile(np.abs(rec.astype(np.int32) - ref["image_uint8"].astype(np.int32)), 0.999)
                ),
            }
            row["check_vs_library"] = check
            row["agreement"] = (
                f"vs library: w {max(check['encode_uint8_w_rel'], check['encode_float_w_rel']):.1e}, "
                f"G {check['decode_float_rel']:.1e}, uint8 G/recon <= {check['decode_uint8_grey_levels']}/"
                f"{check['reconstruct_uint8_grey_levels']} grey"
            )
            one_u8, one_w = tf.constant(x8[:1]), tf.constant(ref["w"][:1])
            row["encode_s"] = median_seconds(lambda f, x: _out(f, "w", image=x), enc_u8, one_u8)
            row["decode_s"] = median_seconds(lambda f, w: _out(f, "image", w=w), dec_u8, one_w)
            row["reconstruct_s"] = median_seconds(lambda f, x: _out(f, "image", image=x), rec_u8, one_u8)
            ref["w_saved_model"] = w_f
            del encoder, generator, alae
        except Exception as e:
            row.update(harness.skipped({}, e))
        harness.print_row(row, COLUMNS)

    from ai_edge_litert.interpreter import Interpreter

    for (r, mode), path in tflite_files.items():
        key = ("tflite", f"encoder {mode}", r)
        row = by_key.get(key) or add({"format": "tflite", "variant": f"encoder {mode}", "px": r, "status": "ok"})
        if row.get("status") != "ok" or not path.exists() or "w_saved_model" not in references[r]:
            continue
        try:
            ref = references[r]
            runner = Interpreter(model_path=str(path), num_threads=FLAGS.threads).get_signature_runner("encode_float")
            w = np.concatenate([runner(image=ref["x_float"][i : i + 1])["w"] for i in range(len(ref["x_float"]))])
            want = ref["w_saved_model"]
            row.update({"size_bytes": path.stat().st_size, "size_mb": path.stat().st_size / 1e6})
            row["check_vs_saved_model"] = {"w_rel": rel(w, want), "w_cosine_min": cosine(w, want)}
            row["agreement"] = f"vs SavedModel: dw {rel(w, want):.1e} of max|w|, cos >= {cosine(w, want):.5f}"
            one = ref["x_float"][:1]
            row["encode_s"] = median_seconds(lambda run, x: run(image=x)["w"], runner, one)
            report = json.loads(path.with_suffix(".json").read_text())
            row["report"] = {k: report.get(k) for k in ("max_abs_error_w", "max_abs_w", "latency_us_batch1", "ops")}
        except Exception as e:
            row.update(harness.skipped({}, e))
        harness.print_row(row, COLUMNS)

    if FLAGS.onnx and all(p.exists() for p in onnx_files.values()):
        import onnxruntime

        try:
            options = onnxruntime.SessionOptions()
            options.intra_op_num_threads = FLAGS.threads
            options.inter_op_num_threads = 1
            sessions = {
                part: onnxruntime.InferenceSession(str(p), options, providers=["CPUExecutionProvider"])
                for part, p in onnx_files.items()
            }
            ref = references[resolution]
            enc = lambda x: sessions["encoder"].run(["w"], {"image": x})[0]  # noqa: E731
            dec = lambda w: sessions["generator"].run(["image"], {"w": w})[0]  # noqa: E731
            w = np.concatenate([enc(ref["x_float"][i : i + 1]) for i in range(len(ref["x_float"]))])
            img = np.concatenate([dec(ref["w"][i : i + 1]) for i in range(len(ref["w"]))])
            loaded = tf.saved_model.load(str(serving[resolution] / "generator" / "1"))
            want_img = loaded.signatures["decode_float"](w=tf.constant(ref["w"]))["image"].numpy()
            row = {
                "format": "onnx",
                "variant": "onnxruntime CPU",
                "px": resolution,
                "status": "ok",
                "size_bytes": sum(p.stat().st_size for p in onnx_files.values()),
                "check_vs_saved_model": {
                    "w_rel": rel(w, ref["w_saved_model"]),
                    "w_cosine_min": cosine(w, ref["w_saved_model"]),
                    "image_rel": rel(img, want_img),
                },
            }
            row["size_mb"] = row["size_bytes"] / 1e6
            row["agreement"] = (
                f"vs SavedModel: w {row['check_vs_saved_model']['w_rel']:.1e}, G {rel(img, want_img):.1e}"
            )
            one, one_w = ref["x_float"][:1], ref["w"][:1]
            row["encode_s"] = median_seconds(enc, one)
            row["decode_s"] = median_seconds(dec, one_w)
            row["reconstruct_s"] = median_seconds(lambda x: np.clip(dec(enc(x)), lo, hi), one)
            add(row)
        except Exception as e:
            add(harness.skipped({"format": "onnx", "variant": "onnxruntime CPU", "px": resolution}, e))

    settings = harness.flag_values(
        [
            "workdir",
            "out_dir",
            "official_checkpoint",
            "official_config",
            "preset",
            "random_preset",
            "low_resolution",
            "tflite_modes",
            "onnx",
            "check_faces",
            "runs",
            "warmup",
            "threads",
        ]
    )
    settings.update({"config": config["name"], "resolution": resolution, "faces": str(faces_dir)})
    harness.write_results(NAME, settings, rows, COLUMNS, FLAGS.output)


if __name__ == "__main__":
    app.run(main)

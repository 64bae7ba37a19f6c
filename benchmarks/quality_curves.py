r"""Learning curves of model quality: train a preset to milestones, evaluate each, keep the grids.

    python -m benchmarks.quality_curves --preset=mnist_mlp --milestones=300000,1000000,3000000,10000000
    python -m benchmarks.quality_curves --preset=mnist_mlp_demo --milestones=2500000 --seeds=0,1,2

Per seed, a preset with a constant learning rate trains ONE run through the milestones
(resuming at each); a preset whose learning rate decays over its run (`learning_rate_decay`)
trains one run per milestone, each decaying over its own length, since a decayed run's
midpoint is not what that length of training gives. At each milestone the EMA nets are
evaluated with `alae_tf.quality.QUALITY_METRICS`, judged by the project's Fashion-MNIST
classifier (`--feature_net`, trained here once if missing), and the report's sample and
reconstruction grids are copied to `--grids_dir/<preset>/`. Training seconds and images/s
are recorded with the machine (lscpu's model): compare speeds only within one file.

`--collect=DIR,...` instead evaluates finished workdirs (each named by its folder's parent:
`runs/exp/px1/at_1000000` is "px1", its grids `px1_at_1000000_*.png`), records what its config
changes from its preset, and writes `quality_ablations.json` (how benchmarks/quality.md's ablation table was made; the
train commands are there).

Slow by design (the paper preset to 10M images is about 35 minutes of training on 2 AMD
cores in bf16); never run in CI. Results: `benchmarks/results/quality_<preset>.json`.
"""

import dataclasses
import pathlib
import shutil
import time

from absl import app, flags

from alae_tf import configs, data, evaluation, features, quality, training
from alae_tf import precision as precision_lib
from alae_tf.workdir import read_config
from benchmarks import harness, step_cost

FLAGS = flags.FLAGS
flags.DEFINE_string("preset", "mnist_mlp", "Preset to train (alae_tf/configs.py).")
flags.DEFINE_list("milestones", ["300000", "1000000", "3000000", "10000000"], "Image counts to evaluate at.")
flags.DEFINE_list("seeds", ["0"], "Seeds (initial weights, z, data order).")
flags.DEFINE_list(
    "set",
    [],
    "Config fields changed from the preset, as key=value (tuples as 512x512), e.g. hidden_units=512x512,r1_interval=4.",
)
flags.DEFINE_string("name", None, "Name of the candidate (default: the preset's): workdirs, grids and results file.")
flags.DEFINE_enum(
    "precision",
    "auto",
    ("auto",) + training.PRECISIONS,
    "Training precision (auto: the machine's fastest, measured: alae_tf.precision).",
)
flags.DEFINE_string("workdir", "runs/quality", "Runs go to WORKDIR/<preset>/seed<k>[/images<n>].")
flags.DEFINE_string("feature_net", "runs/fmnist_classifier.keras", "The judge (trained here if missing).")
flags.DEFINE_string("grids_dir", "benchmarks/results/quality", "Where the grids of every milestone are copied.")
flags.DEFINE_list("collect", None, "Workdirs to evaluate as an ablation table instead of training.")
flags.DEFINE_integer("num_samples", 10000, "Samples and evaluation images of FD / coverage / reconstruction.")

COLUMNS = (
    ("run", "run"),
    ("changes", "changes from the preset"),
    ("seed", "seed"),
    ("images", "images"),
    ("knn5_accuracy", "knn5"),
    ("svm_accuracy", "SVM"),
    ("recon_mse", "recon MSE"),
    ("recon_class_kept", "class kept"),
    ("judge_accuracy_real", "judge on real"),
    ("fd_fmnist_classifier", "FD"),
    ("sample_hf_ratio", "HF samples"),
    ("recon_hf_ratio", "HF recon"),
    ("sample_class_min_fraction", "min class"),
    ("class_mean_edit_success", "edit"),
    ("bar_met", "bar met"),
    ("mflop_per_image", "MFLOP/image"),
    ("training_pflop", "training PFLOP"),
    ("train_seconds", "train s"),
    ("images_per_second", "img/s"),
)


def judge(path):
    path = pathlib.Path(path)
    if not path.exists():
        train_set, test_set = (data.load_images("fashion_mnist", split) for split in ("train", "test"))
        model, _ = features.train_classifier(train_set, test_set, features.feature_name("fashion_mnist"), verbose=0)
        features.save_classifier(model, path)
    return features.load_feature_extractor(path)


def measure(workdir, feature_net, grids_dir, label):
    """Quality metrics of the run in `workdir`; its report grids copied as `<label>_*.png`."""
    results = evaluation.evaluate(
        workdir, quality.QUALITY_METRICS, features=feature_net, options={"num_samples": FLAGS.num_samples}
    )
    grids_dir.mkdir(parents=True, exist_ok=True)
    for name in ("samples.png", "reconstructions.png"):
        shutil.copyfile(pathlib.Path(workdir) / "report" / name, grids_dir / f"{label}_{name}")
    checks = quality.check(results)
    row = {key: results.get(key) for key, _ in COLUMNS if key in results}
    row["bar_met"] = f"{sum(bool(m) for _, _, m in checks)}/{len(checks)}"
    row["sample_class_fractions"] = results.get("sample_class_fractions")
    row["images"] = results["images_seen"]
    return row


def with_settings(config, settings):
    """`config` with `key=value` strings applied, each parsed as its field's type (tuples: `512x512`)."""
    fields = {f.name: f for f in dataclasses.fields(config)}
    changed = {}
    for setting in settings:
        key, sep, text = setting.partition("=")
        if not sep or key not in fields or key in ("name", "train_images"):
            raise app.UsageError(f"--set: {setting!r} is not key=value for a config field")
        current = getattr(config, key)
        if isinstance(current, tuple):
            value = tuple(int(v) for v in text.split("x")) if text else ()
        elif isinstance(current, bool):
            value = text.lower() in ("1", "true")
        elif isinstance(current, (int, float, str)):
            value = type(current)(text)
        else:
            value = float(text)
        changed[key] = value
    return dataclasses.replace(config, **changed)


def changes(config):
    """`key=value` for every field of `config` that differs from its preset (name and length aside)."""
    preset = configs.PRESETS[config.name]
    changed = [
        f"{f.name}={getattr(config, f.name)}"
        for f in dataclasses.fields(config)
        if f.name not in ("name", "train_images") and getattr(config, f.name) != getattr(preset, f.name)
    ]
    return " ".join(changed) or "none"


def collect(workdirs, feature_net):
    rows = []
    for run_dir in (pathlib.Path(w) for w in workdirs):
        config = read_config(run_dir)
        name = run_dir.parent.name
        row = measure(run_dir, feature_net, pathlib.Path(FLAGS.grids_dir) / "ablations", f"{name}_{run_dir.name}")
        rows.append({"run": name, "changes": changes(config), "preset": config.name, **row})
        harness.print_row(rows[-1], COLUMNS)
    harness.write_results(
        "quality_ablations",
        {"workdirs": list(workdirs), "num_samples": FLAGS.num_samples},
        rows,
        COLUMNS,
        output=FLAGS.output,
    )


def main(argv):
    del argv
    feature_net = judge(FLAGS.feature_net)
    if FLAGS.collect:
        return collect(FLAGS.collect, feature_net)
    config = with_settings(configs.PRESETS[FLAGS.preset], FLAGS.set)
    name = FLAGS.name or FLAGS.preset
    precision = precision_lib.choose(config, FLAGS.precision)
    milestones = sorted(int(m) for m in FLAGS.milestones)
    # A decay or a refinement phase is keyed to the run's length: each milestone is a run of its own.
    keyed_to_length = config.learning_rate_decay != "none" or config.refine_fraction > 0
    grids_dir = pathlib.Path(FLAGS.grids_dir) / name
    rows = []
    for seed in (int(s) for s in FLAGS.seeds):
        seconds = 0.0
        for images in milestones:
            run_config = config.replace(train_images=images)
            workdir = pathlib.Path(FLAGS.workdir) / name / f"seed{seed}"
            if keyed_to_length:
                workdir, seconds = workdir / f"images{images}", 0.0
            start = time.perf_counter()
            training.train(
                run_config,
                training.TrainOptions(
                    workdir=str(workdir), train_images=images, seed=seed, precision=precision, verbose=0
                ),
            )
            seconds += time.perf_counter() - start
            flops = step_cost.training_flops(run_config, images)  # traces the steps: once per milestone
            row = {
                "seed": seed,
                "images": images,
                "train_seconds": round(seconds, 1),
                "images_per_second": round(images / seconds, 1),
                "precision": precision,
                "mflop_per_image": round(flops / images / 1e6, 2),
                "training_pflop": round(flops / 1e15, 4),
                **measure(workdir, feature_net, grids_dir, f"seed{seed}_{images}"),
            }
            rows.append(row)
            harness.print_row(row, COLUMNS)
            write(rows, config, name, precision, milestones)  # after every milestone: a stopped run keeps its rows


def write(rows, config, name, precision, milestones):
    settings = {
        "preset": FLAGS.preset,
        "name": name,
        "changes": changes(config),
        "milestones": milestones,
        "seeds": FLAGS.seeds,
        "precision": precision,
        "num_samples": FLAGS.num_samples,
        "config": config.to_json(),
    }
    bar = [{"key": t.key, "description": t.description, "low": t.low, "high": t.high} for t in quality.DEMO_BAR]
    harness.write_results(f"quality_{name}", settings, rows, COLUMNS, output=FLAGS.output, extra={"bar": bar})


if __name__ == "__main__":
    app.run(main)

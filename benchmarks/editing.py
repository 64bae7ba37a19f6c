r"""How well real images edit, on trained runs: the numbers and grids behind benchmarks/editing.md.

    python -m benchmarks.editing --workdir=runs/mnist_mlp_demo \
        --tflite=runs/mnist_mlp_demo/export/encoder_int8.tflite --style_workdir=runs/faces_tiny

For the MLP run (Fashion-MNIST, judged by the project's classifier, `--feature_net`): the
editing metrics of `alae_tf.metrics.editing` (class edits over the 90 ordered pairs, ink-mass
edits with class preservation, latent editing consistency) through `evaluation.evaluate` (what
`alae-evaluate` runs), so the run's report.md gets the matrix, the curves and the edit grid; then
the same class edits with the codes of a TFLite encoder (`--tflite`, e.g. demo.sh's int8 one) in
place of the SavedModel's, at the strength the metric chose. For a style run (`--style_workdir`): the
`style_mix` metric (the low-pass / high-pass check on 50 pairs) and its mixing grid. Results:
`benchmarks/results/editing.json`; the reports' editing figures are copied to
`benchmarks/results/editing/`.
"""

import pathlib
import shutil

import numpy as np
from absl import app, flags

import alae_tf.startup  # noqa: F401  (first: loads TensorFlow without its start-up notices)
from alae_tf import evaluation, features, metrics, workdir
from alae_tf.export.litert_check import LiteEncoder
from alae_tf.metrics import editing as editing_metrics
from benchmarks import harness

FLAGS = flags.FLAGS
flags.DEFINE_string("workdir", "runs/mnist_mlp_demo", "The MLP run to edit (labelled data).")
flags.DEFINE_string("feature_net", "runs/fmnist_classifier.keras", "The judge (`alae-train-judge`).")
flags.DEFINE_string("tflite", None, "A TFLite encoder of the same run whose codes are edited too.")
flags.DEFINE_string("style_workdir", None, "A StyleALAE run for the style-mixing check.")
flags.DEFINE_integer("mix_pairs", 50, "Pairs of the style-mixing check.")
flags.DEFINE_string("figures_dir", "benchmarks/results/editing", "Where the reports' editing figures are copied.")

EDIT_METRICS = ("recon_class", "class_edit", "ink_edit", "latent_edit_consistency")
COLUMNS = (("run", "run"), ("metric", "metric"), ("value", "value"))
FIGURES = ("class_edit_matrix.png", "edit_curves.png", "class_edits.png", "style_mix.png")


def tflite_class_edit(run_dir, judge, tflite_path, results):
    """Class-edit success with a TFLite encoder's codes, at the kind and strength `results` chose."""
    run = workdir.open_run(run_dir)
    train, test = run.load_split("train"), run.load_split("test")
    ctx = metrics.EvalContext(
        model=run.model,
        train_images=train.images,
        train_labels=train.labels,
        test_images=test.images,
        test_labels=test.labels,
        pixel_range=run.config.pixel_range,
        features=judge,
    )
    kind, strength = results["class_edit_kind"], results["class_edit_strength"]
    num_classes = judge.num_classes
    move = editing_metrics.class_edit_moves(
        ctx.train_codes.astype(np.float64), np.asarray(train.labels), kind, num_classes, seed=ctx.seed
    )
    labels = np.asarray(test.labels, np.int64)
    lite = LiteEncoder(pathlib.Path(tflite_path).read_bytes())
    images = np.concatenate([np.asarray(x) for x in ctx.batches(test.images)])
    codes = {"saved_model": ctx.test_codes.astype(np.float64), "tflite": lite.encode(images).astype(np.float64)}
    success = {}
    for name, c in codes.items():
        matrix = editing_metrics.pair_success(
            ctx, c, labels, move, (strength,), results["class_edit_images"], num_classes
        )[0]
        success[name] = float(np.nanmean(matrix))
    return success


def copy_figures(run_dir):
    # Runs are named by their folder (by its parent for quality_curves-style `.../NAME/run`).
    path = pathlib.Path(run_dir)
    label = path.parent.name if path.name == "run" else path.name
    target = pathlib.Path(FLAGS.figures_dir)
    target.mkdir(parents=True, exist_ok=True)
    for name in FIGURES:
        source = pathlib.Path(run_dir) / "report" / name
        if source.exists():
            shutil.copyfile(source, target / f"{label}_{name}")


def main(argv):
    del argv
    judge = features.load_feature_extractor(FLAGS.feature_net)
    rows, extra = [], {}
    results = evaluation.evaluate(FLAGS.workdir, EDIT_METRICS, features=judge)
    copy_figures(FLAGS.workdir)
    keys = [k for k in results if k.startswith(("class_edit", "ink_edit", "lec_", "judge_accuracy", "recon_class"))]
    rows += [{"run": FLAGS.workdir, "metric": k, "value": results[k]} for k in sorted(keys)]
    if FLAGS.tflite:
        success = tflite_class_edit(FLAGS.workdir, judge, FLAGS.tflite, results)
        extra["tflite_class_edit"] = {**success, "tflite": FLAGS.tflite}
        rows += [{"run": FLAGS.workdir, "metric": f"class_edit_success_{k}", "value": v} for k, v in success.items()]
    if FLAGS.style_workdir:
        mixed = evaluation.evaluate(FLAGS.style_workdir, ["style_mix", "recon_mse"], options={"seed": 0})
        copy_figures(FLAGS.style_workdir)
        rows += [
            {"run": FLAGS.style_workdir, "metric": k, "value": mixed[k]}
            for k in sorted(mixed)
            if k.startswith(("style_mix", "recon_mse"))
        ]
    settings = {
        "workdir": FLAGS.workdir,
        "feature_net": FLAGS.feature_net,
        "tflite": FLAGS.tflite,
        "style_workdir": FLAGS.style_workdir,
        "metrics": list(EDIT_METRICS),
    }
    harness.write_results("editing", settings, rows, COLUMNS, extra=extra)


if __name__ == "__main__":
    app.run(main)

r"""Quality per FLOP: the candidates' rows of `quality_curves.py`, against the training arithmetic they cost.

    python -m benchmarks.quality_per_flop --results=benchmarks/results/quality_per_flop/*.json \
        --output=benchmarks/results/quality_per_flop.json --plot=benchmarks/results/quality/pareto.png

Reads the results files `quality_curves.py --name=... --set=...` wrote (one candidate each, every
milestone and seed a row, with `training_pflop` = images x FLOPs per image of the step,
`benchmarks/step_cost.py`), and puts every row on one scale: its cost as a fraction of the demo's
old recipe (`mnist_mlp_wide`, the demo's before this work: 2.5M images at its FLOPs per image, computed here
with the same counter), and how many of the quality bar's 7 lines it meets. The plot is the
Pareto picture: lines met against training PFLOP, one marker per row, the candidates' milestones
joined, with the quarter-budget line drawn.
"""

import glob
import json
import operator
import pathlib

from absl import app, flags

from alae_tf import configs, quality
from benchmarks import harness, quality_curves, step_cost

FLAGS = flags.FLAGS
flags.DEFINE_list("results", None, "quality_curves results files (globs allowed).", required=True)
flags.DEFINE_list(
    "ablations",
    [],
    "quality_curves --collect files (quality_ablations*.json): their rows join the table, each costed from its "
    "preset and recorded changes.",
)
flags.DEFINE_string("plot", None, "Where the Pareto plot goes (PNG); none if unset.")


COLUMNS = (
    ("candidate", "candidate"),
    ("changes", "changes from mnist_mlp_wide (the previous demo)"),
    ("seed", "seed"),
    ("images", "images"),
    ("mflop_per_image", "MFLOP/image"),
    ("training_pflop", "training PFLOP"),
    ("cost_vs_old_demo", "cost / old demo"),
    ("bar_met", "bar met"),
    ("missed", "lines missed"),
    ("knn5_accuracy", "knn5"),
    ("svm_accuracy", "SVM"),
    ("recon_mse", "recon MSE"),
    ("recon_class_kept", "class kept"),
    ("fd_fmnist_classifier", "FD"),
    ("sample_hf_ratio", "HF samples"),
    ("sample_class_min_fraction", "min class"),
    ("train_seconds", "train s"),
)

_SHORT = {
    "recon_class_kept": "class kept",
    "recon_mse": "MSE",
    "sample_hf_ratio": "HF",
    "fd_fmnist_classifier": "FD",
    "sample_class_min_fraction": "min class",
    "knn5_accuracy": "knn5",
    "svm_accuracy": "SVM",
}


def load_rows(patterns):
    rows = []
    for path in sorted({p for pattern in patterns for p in glob.glob(pattern)}):
        payload = json.loads(pathlib.Path(path).read_text())
        settings = payload["settings"]
        for row in payload["results"]:
            name = settings.get("name", settings["preset"])
            rows.append({"candidate": name, "changes": settings.get("changes"), **row})
    return rows


def load_ablation_rows(paths):
    """Rows of `--collect` files (the earlier ablations), with their training PFLOP counted here."""
    rows, cache = [], {}
    for path in paths:
        for row in json.loads(pathlib.Path(path).read_text())["results"]:
            preset = configs.PRESETS[row.get("preset", "mnist_mlp")]
            settings = [] if row["changes"] == "none" else row["changes"].split()
            config = quality_curves.with_settings(preset, settings)
            if (config, row["images"]) not in cache:
                cache[config, row["images"]] = step_cost.training_flops(config, row["images"])
            rows.append(
                {
                    **row,
                    "candidate": f"{row['run']} (earlier ablation)",
                    "changes": f"{preset.name}: {row['changes']}",
                    "seed": row.get("seed", 0),
                    "mflop_per_image": round(cache[config, row["images"]] / row["images"] / 1e6, 2),
                    "training_pflop": round(cache[config, row["images"]] / 1e15, 4),
                }
            )
    return rows


def with_cost(rows, old_demo_pflop):
    for row in rows:
        if "recon_class_kept_relative" not in row and row.get("judge_accuracy_real"):
            # The rows keep both halves of the judge-relative "keeps the class"; the bar reads their ratio.
            row["recon_class_kept_relative"] = row["recon_class_kept"] / row["judge_accuracy_real"]
        checks = quality.check(row)
        row["cost_vs_old_demo"] = round(row["training_pflop"] / old_demo_pflop, 3)
        row["missed"] = ", ".join(_SHORT[t.key] for t, _, met in checks if not met) or "-"
    return rows


def plot(rows, old_demo_pflop, path):
    import matplotlib
    import matplotlib.ticker

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (axes, kept_axes) = plt.subplots(1, 2, figsize=(15, 5.5))
    by_candidate = {}
    for row in rows:
        by_candidate.setdefault((row["candidate"], row["seed"]), []).append(row)
    earlier = [r for r in rows if r["candidate"].endswith("(earlier ablation)")]
    candidates = [(k, v) for k, v in sorted(by_candidate.items()) if not k[0].endswith("(earlier ablation)")]
    for _, points in candidates:
        points.sort(key=lambda r: r["training_pflop"])
    colors = plt.get_cmap("tab20").colors
    panels = ((axes, _lines_met, (0, 7.5)), (kept_axes, operator.itemgetter("recon_class_kept"), (0.72, 0.88)))
    for panel, value, (bottom, top) in panels:
        if earlier:
            panel.scatter(
                [r["training_pflop"] for r in earlier],
                [value(r) for r in earlier],
                marker="x",
                color="grey",
                label="earlier ablations (1024 wide)",
            )
        for i, ((name, seed), points) in enumerate(candidates):
            panel.plot(
                [r["training_pflop"] for r in points],
                [value(r) for r in points],
                marker="osD^v"[i // len(colors) % 5],
                color=colors[i % len(colors)],
                label=f"{name} (seed {seed})",
            )
        label_y = bottom + 0.02 * (top - bottom)  # just above the panel's floor
        panel.axvline(old_demo_pflop / 4, color="k", linestyle="--", linewidth=1)
        panel.text(old_demo_pflop / 4, label_y, " a quarter of the old demo", fontsize=8)
        panel.axvline(old_demo_pflop, color="grey", linestyle=":", linewidth=1)
        panel.text(old_demo_pflop, label_y, " old demo", fontsize=8)
        panel.set_ylim(bottom, top)
        panel.set_xscale("log")
        panel.xaxis.set_major_formatter(matplotlib.ticker.FormatStrFormatter("%g"))
        panel.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        panel.set_xlabel("training PFLOP (images x FLOPs per image)")
        panel.grid(alpha=0.3)
    axes.set_ylabel("lines of the quality bar met (of 7)")
    kept_axes.set_ylabel("reconstructions keep the class (the line the candidates miss)")
    kept_axes.axhline(_class_kept_line(rows), color="red", linewidth=1)
    kept_axes.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))  # outside: the points fill the corners
    figure.tight_layout()
    figure.savefig(path, dpi=120)


def _lines_met(row):
    return int(row["bar_met"].split("/")[0])


def _class_kept_line(rows):
    """Where the bar's "keeps the class" line lies for these rows' judge: the lower of its two forms."""
    (target,) = [t for t in quality.DEMO_BAR if t.key == "recon_class_kept"]
    judge = min(r["judge_accuracy_real"] for r in rows if "judge_accuracy_real" in r)
    return min(target.low, target.alternative[1] * judge)


def main(argv):
    del argv
    old_demo_pflop = step_cost.training_flops_per_image(step_cost.OLD_DEMO) * step_cost.OLD_DEMO_IMAGES / 1e15
    rows = with_cost(load_rows(FLAGS.results) + load_ablation_rows(FLAGS.ablations), old_demo_pflop)
    rows.sort(key=lambda r: (r["candidate"], r["seed"], r["images"]))
    for row in rows:
        harness.print_row(row, COLUMNS)
    if FLAGS.plot:
        plot(rows, old_demo_pflop, FLAGS.plot)
    harness.write_results(
        "quality_per_flop",
        {
            "results": FLAGS.results,
            "ablations": FLAGS.ablations,
            "old_demo_pflop": old_demo_pflop,
            "old_demo_images": step_cost.OLD_DEMO_IMAGES,
        },
        rows,
        COLUMNS,
        output=FLAGS.output,
    )


if __name__ == "__main__":
    app.run(main)

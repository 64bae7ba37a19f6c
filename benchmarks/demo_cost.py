r"""The demo's recipe against the old one, in wall time: the same-run cost ratio behind README's estimates.

    python -m benchmarks.demo_cost --precision=float32
    ONEDNN_MAX_CPU_ISA=AVX2 python -m benchmarks.demo_cost --precision=float32 --label=avx2

Times the full training step (`alae_tf.precision.measure_step`: the three updates and the
EMA, traced first) of the old demo recipe (`benchmarks.step_cost.OLD_DEMO`, 2.5M images) and
of today's presets (`--presets`: the demo's and its fast recipe), in turns (old, new, old,
new, ...) so that a machine whose speed drifts affects all of them, and reports each one's
images/s, the time its run's training takes at that rate (its `train_images`), and the ratio
to the old recipe. A recipe with a refinement phase (`refine_fraction`) is timed in both of its
steps, and its run's time is the sum of its phases' at their rates. `--jit_compile` times
today's presets XLA-compiled, as `alae-train --precision=auto` trains MLP nets in float32 on a
CPU (the old recipe is timed as its measured run trained: without XLA). A machine this project
does not have is estimated as its measured old-recipe time times the ratio measured here with
the same kernels
(`ONEDNN_MAX_CPU_ISA=AVX2` caps oneDNN's kernels at AVX2; it does not change the cache sizes,
memory bandwidth or clock of this CPU, nor TF's Eigen kernels, which are compiled for AVX).
Results: `benchmarks/results/demo_cost_<label>.json`.
"""

import statistics

from absl import app, flags

import alae_tf.startup  # noqa: F401  (first: loads TensorFlow without its start-up notices)
from alae_tf import configs
from alae_tf import precision as precision_lib
from benchmarks import harness
from benchmarks.step_cost import OLD_DEMO, OLD_DEMO_IMAGES

FLAGS = flags.FLAGS
flags.DEFINE_enum("precision", "float32", ["float32", "mixed_bfloat16"], "Compute precision of both steps.")
flags.DEFINE_list("presets", ["mnist_mlp_demo", "mnist_mlp_fast"], "Recipes timed against the old demo's.")
flags.DEFINE_integer("rounds", 3, "Alternating rounds (each times both recipes).", lower_bound=1)
flags.DEFINE_float("seconds", 10.0, "Seconds each recipe is timed per round.", lower_bound=1.0)
flags.DEFINE_string("label", "native", "Names the results file (e.g. native, avx2).")
flags.DEFINE_bool("jit_compile", False, "Time today's presets' steps XLA-compiled (the old recipe's stays without).")
flags.DEFINE_float(
    "old_demo_minutes",
    None,
    "The old recipe's training time measured on another machine (e.g. 50 minutes on an AVX2-only AMD EPYC): "
    "the new recipe's time there is estimated as this times the measured ratio.",
)

COLUMNS = (
    ("recipe", "recipe"),
    ("train_images", "images"),
    ("images_per_second", "images/s (median of rounds)"),
    ("refine_images_per_second", "refinement images/s"),
    ("training_minutes", "training min at that rate"),
    ("time_vs_old", "time / old recipe"),
    ("estimated_minutes_elsewhere", "estimated min on the other machine"),
)


def main(argv):
    del argv
    recipes = {"old demo": (OLD_DEMO, OLD_DEMO_IMAGES, False)}
    for name in FLAGS.presets:
        recipes[name] = (configs.PRESETS[name], configs.PRESETS[name].train_images, FLAGS.jit_compile)
    # One timing per phase of each recipe: the three updates, and the refinement's step where it has one.
    steps = [
        (name, refining)
        for name, (config, _, _) in recipes.items()
        for refining in (False, True)[: 1 + (config.refine_fraction > 0)]
    ]
    rates = {step: [] for step in steps}
    for _ in range(FLAGS.rounds):
        for name, refining in steps:
            config, _, jit = recipes[name]
            rates[name, refining].append(
                precision_lib.measure_step(
                    config, FLAGS.precision, seconds=FLAGS.seconds, refining=refining, jit_compile=jit
                )
            )
    rows = []
    for name, (config, images, jit) in recipes.items():
        rate = statistics.median(rates[name, False])
        refine_start = config.refinement().start(images, config.batch_size)
        seconds = images / rate
        row = {"recipe": name, "train_images": images, "jit_compile": jit, "images_per_second": round(rate, 1)}
        row["rounds"] = [round(r, 1) for r in rates[name, False]]
        if refine_start is not None:
            refine_rate = statistics.median(rates[name, True])
            seconds = refine_start / rate + (images - refine_start) / refine_rate
            row["refine_images"] = images - refine_start
            row["refine_images_per_second"] = round(refine_rate, 1)
            row["refine_rounds"] = [round(r, 1) for r in rates[name, True]]
        rows.append({**row, "training_minutes": round(seconds / 60, 2)})
    old_minutes = rows[0]["training_minutes"]
    for row in rows:
        row["time_vs_old"] = round(row["training_minutes"] / old_minutes, 3)
        if FLAGS.old_demo_minutes:
            row["estimated_minutes_elsewhere"] = round(FLAGS.old_demo_minutes * row["time_vs_old"], 1)
        harness.print_row(row, COLUMNS)
    harness.write_results(
        f"demo_cost_{FLAGS.label}",
        {
            "precision": FLAGS.precision,
            "rounds": FLAGS.rounds,
            "seconds": FLAGS.seconds,
            "old_demo_minutes": FLAGS.old_demo_minutes,
            "old_demo": OLD_DEMO.to_json(),
            "presets": {name: configs.PRESETS[name].to_json() for name in FLAGS.presets},
        },
        rows,
        COLUMNS,
        output=FLAGS.output,
    )


if __name__ == "__main__":
    app.run(main)

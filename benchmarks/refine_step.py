r"""The refinement phase's step by batch size and anchor samples: images/s, timed in turns in one run.

    python -m benchmarks.refine_step --variants=128/128,128/64,128/32,256/256,256/128
    ONEDNN_MAX_CPU_ISA=AVX2 XLA_FLAGS=--xla_cpu_max_isa=AVX2 python -m benchmarks.refine_step --label=avx2_xla
    python -m benchmarks.refine_step --variants=128/32/0,128/32/3 --label=edge_term   # what the edge term costs

Each variant `B/S` is `--preset` with `refine_batch_size=B` and `refine_anchor_samples=S` (`B/S/E`:
and `refine_edge_weight=E`; otherwise the preset's): its
refinement step (`ALAE.refinement_update`, the EMA included) is built, traced, and then timed for
`--seconds` per round, the variants in turns (round 1: all of them, round 2: all of them, ...) so
that a machine whose speed drifts affects all alike; the median of the rounds is reported, with
each variant's rate over the first one's. Step FLOPs per image come from the FLOP counter
(`benchmarks/step_cost.py`). `benchmarks/quality.md` ("A sixth search") quotes it. Results:
`benchmarks/results/refine_step_<label>.json`.
"""

import os
import statistics
import time

import keras
import tensorflow as tf
from absl import app, flags

import alae_tf.startup  # noqa: F401  (first: loads TensorFlow without its start-up notices)
from alae_tf import builders, configs
from benchmarks import harness, step_cost

FLAGS = flags.FLAGS
flags.DEFINE_string("preset", "mnist_mlp_demo", "An MLP preset with a refinement phase.")
flags.DEFINE_list(
    "variants", ["128/128", "128/64", "128/32", "256/256", "256/128"], "batch/anchor samples[/edge weight]."
)
flags.DEFINE_integer("rounds", 6, "Rounds (each times every variant).", lower_bound=1)
flags.DEFINE_float("seconds", 3.0, "Seconds per variant per round.", lower_bound=0.5)
flags.DEFINE_enum(
    "precision", "float32", ["float32", "mixed_bfloat16"], "Keras precision policy (float32: as on CPUs without bf16)."
)
flags.DEFINE_bool("jit_compile", True, "XLA-compile the step (as --precision=auto trains MLP nets on a CPU).")
flags.DEFINE_string("label", "native_xla", "Names the results file.")

COLUMNS = (
    ("variant", "batch / anchor samples"),
    ("mflop_per_image", "MFLOP/image"),
    ("images_per_second", "images/s (median)"),
    ("speed_vs_first", "rate / the first variant's"),
)


def build(config):
    model = builders.build_compiled_model(config, seed=0, jit_compile=FLAGS.jit_compile)
    model.start_refinement()
    batch = config.refine_batch_size
    x = tf.random.stateless_uniform((batch, *config.image_shape), seed=(0, 7), minval=0.0, maxval=1.0)
    model.train_on_batch(x)  # build and trace
    return model, x, batch


def variant_config(preset, variant):
    """`step_cost.refinement_variant`, with a malformed variant as a usage error."""
    try:
        return step_cost.refinement_variant(preset, variant)
    except ValueError as e:
        raise app.UsageError(f"--variants: {e}") from None


def main(argv):
    del argv
    keras.mixed_precision.set_global_policy(FLAGS.precision)
    preset = configs.PRESETS[FLAGS.preset]
    if not preset.refine_fraction:
        raise app.UsageError(f"{FLAGS.preset} has no refinement phase")
    variants = {}
    for variant in FLAGS.variants:
        config = variant_config(preset, variant)
        variants[variant] = (config, build(config))
    rates = {variant: [] for variant in variants}
    for _ in range(FLAGS.rounds):
        for variant, (_, (model, x, batch)) in variants.items():
            steps, start = 0, time.perf_counter()
            while time.perf_counter() - start < FLAGS.seconds:
                model.train_on_batch(x)
                steps += 1
            rates[variant].append(steps * batch / (time.perf_counter() - start))
    rows, first = [], statistics.median(next(iter(rates.values())))
    for variant, (config, _) in variants.items():
        rate = statistics.median(rates[variant])
        rows.append(
            {
                "variant": variant,
                "mflop_per_image": round(step_cost.refinement_flops_per_image(config) / 1e6, 2),
                "images_per_second": round(rate, 1),
                "rounds": [round(r, 1) for r in rates[variant]],
                "speed_vs_first": round(rate / first, 3),
            }
        )
    settings = {
        "preset": FLAGS.preset,
        "rounds": FLAGS.rounds,
        "seconds": FLAGS.seconds,
        "jit_compile": FLAGS.jit_compile,
        "precision": FLAGS.precision,
        "kernel_caps": {name: os.environ.get(name) for name in ("ONEDNN_MAX_CPU_ISA", "XLA_FLAGS")},
    }
    harness.write_results(f"refine_step_{FLAGS.label}", settings, rows, COLUMNS)


if __name__ == "__main__":
    app.run(main)

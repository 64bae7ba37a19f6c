r"""How close the XLA-compiled MLP step runs to its own matmuls: what is left to cut in float32.

    python -m benchmarks.matmul_floor                    # mnist_mlp, float32, XLA
    python -m benchmarks.matmul_floor --presets=mnist_mlp,mnist_mlp_demo --rounds=7

Per preset: traces `ALAE.alternating_update` (steps I, II and III at the preset's batch, the
math `fit`'s train step runs) with XLA, reads every matrix product out of XLA's optimized HLO
(operand shapes and contracting dimensions), and times, interleaved round by round so the
machine's drift hits both alike:

* `step`: the compiled step;
* `matmuls`: the same products alone, on random operands of their shapes, in one XLA function
  (XLA's own matmul kernels), and in one TF function without XLA (TF's kernels: oneDNN's);
* each kind of product alone (forward-like `[B, K] x [K, N]`, and the weight gradients that
  contract over the batch), to see which shapes run below the machine's peak.

`step / matmuls` near 1 means the step runs at the speed of its matrix products: nothing
around them (activations, equalized-lr scales, Adam, EMA, the input) costs time worth
cutting, and a faster float32 step needs faster matmul kernels or fewer FLOPs. The peak is
this machine's best square float32 matmul through TF, measured in the run. With
`--official_results` (an `official_throughput.py` file for this CPU), each row also gives the
official step's images/s and the share of that peak a step would need for `--speedup` times it.
A preset with lazy R1 is measured on its R1 step (`r1_interval` 1): the compiled step holds
both branches of the `tf.cond`, so its products would count the skipped branch too.
Results: `benchmarks/results/matmul_floor.json`.
"""

import collections
import json
import pathlib
import re
import statistics

import tensorflow as tf
from absl import app, flags

import alae_tf.startup  # noqa: F401  (first: loads TensorFlow without its start-up notices)
from alae_tf import builders, configs
from benchmarks import harness

FLAGS = flags.FLAGS
flags.DEFINE_list("presets", ["mnist_mlp"], "MLP presets (alae_tf/configs.py), each at its own batch size.")
flags.DEFINE_integer("rounds", 5, "Interleaved rounds; each times every function --calls times.", lower_bound=1)
flags.DEFINE_integer("calls", 20, "Timed calls per function per round (after one untimed).", lower_bound=1)
flags.DEFINE_string("official_results", None, "official_throughput.py JSON of this CPU (its mnist_mlp row).")
flags.DEFINE_float("speedup", 1.5, "With --official_results: the share of peak a step needs for this many times it.")

COLUMNS = (
    ("preset", "preset"),
    ("batch_size", "batch"),
    ("matmuls", "matmuls"),
    ("gflop_matmuls", "GFLOP (matmuls)"),
    ("step_ms", "step ms"),
    ("matmuls_ms", "matmuls alone ms"),
    ("step_over_matmuls", "step / matmuls"),
    ("images_per_s", "images/s"),
    ("matmul_percent_of_peak", "matmuls % of peak"),
    ("matmuls_tf_kernels_ms", "the same, TF kernels ms"),
    ("tf_kernels_percent_of_peak", "TF kernels % of peak"),
    ("official_images_per_s", "official images/s"),
    ("percent_of_peak_needed", "% of peak for the speed-up"),
)

# `f32[128,1024]{1,0}`-style results and `dot(%a, %b), lhs_contracting_dims={1}, rhs_contracting_dims={0}`.
_INSTRUCTION = re.compile(r"^\s*(?:ROOT )?(%[\w.\-]+) = f32\[([\d,]*)\]")
_DOT = re.compile(
    r"= f32\[[\d,]*\]\S* dot\((%[\w.\-]+), (%[\w.\-]+)\), "
    r"lhs_contracting_dims=\{(\d*)\}, rhs_contracting_dims=\{(\d*)\}"
)


def matrix_products(hlo_text):
    """`[(m, k, n), ...]`: every 2-D x 2-D product of an HLO module as `[m, k] x [k, n]`.

    Products with a vector operand (D's last layer, tiny) are left out, as are batched ones.
    """
    shapes = {}
    for line in hlo_text.splitlines():
        match = _INSTRUCTION.match(line)
        if match:
            shapes[match.group(1)] = tuple(int(v) for v in match.group(2).split(",") if v)
    products = []
    for line in hlo_text.splitlines():
        match = _DOT.search(line)
        if not match:
            continue
        lhs, rhs = shapes.get(match.group(1)), shapes.get(match.group(2))
        if lhs is None or rhs is None or len(lhs) != 2 or len(rhs) != 2 or not match.group(3) or not match.group(4):
            continue
        lhs_k, rhs_k = int(match.group(3)), int(match.group(4))
        if lhs[lhs_k] != rhs[rhs_k]:
            raise ValueError(f"matrix_products: contracting sizes differ in {line.strip()[:160]}")
        products.append((lhs[1 - lhs_k], lhs[lhs_k], rhs[1 - rhs_k]))
    return products


def products_function(products, seed=0, jit_compile=True):
    """A blocking callable that runs `products` on random operands in one TF function (XLA by default;
    without it, TF's own kernels: oneDNN's matmul on x86)."""
    operands = [
        (tf.random.stateless_normal((m, k), seed=(seed, i)), tf.random.stateless_normal((k, n), seed=(seed + 1, i)))
        for i, (m, k, n) in enumerate(products)
    ]

    @tf.function(jit_compile=jit_compile)
    def run(pairs):
        # Each product feeds the result, so XLA can drop none of them.
        return tf.add_n([tf.reduce_sum(tf.linalg.matmul(a, b)) for a, b in pairs])

    return lambda: float(run(operands))


def compiled_step(config):
    """`(step, inputs, products)`: the XLA-compiled `alternating_update` of a fresh model of `config`,
    its inputs (a random batch and three z batches) and its `matrix_products`.

    Lazy R1's `tf.cond` holds both kinds of step in one module and runs one: the R1 step is taken.
    """
    config = config.replace(r1_interval=1)
    batch = config.batch_size
    model = builders.build_compiled_model(config, seed=0, jit_compile=True)
    images = tf.random.stateless_uniform((batch, *config.image_shape), seed=(0, 0))
    latents = [tf.random.stateless_normal((batch, config.latent_size), seed=(1, i)) for i in range(3)]
    step = tf.function(model.alternating_update, jit_compile=True)
    products = matrix_products(step.experimental_get_compiler_ir(images, *latents)(stage="optimized_hlo"))
    return step, (images, *latents), products


def kind_of(product, batch_size):
    """ "batch-contracting" (weight gradients: k is the batch) or "batch-rows" (forward and input gradients)."""
    return "batch-contracting" if product[1] == batch_size and product[0] != batch_size else "batch-rows"


def interleaved_medians(functions, rounds, calls):
    """`{name: median seconds}` over `rounds` rounds, each timing every function `calls` times in turn."""
    times = {name: [] for name in functions}
    for _ in range(rounds):
        for name, fn in functions.items():
            times[name] += harness.time_calls(fn, calls, warmup=1)
    return {name: statistics.median(seconds) for name, seconds in times.items()}


def official_rate(path):
    if not path:
        return None
    payload = json.loads(pathlib.Path(path).read_text())
    rows = [row for row in payload["results"] if row.get("case") == "mnist_mlp" and row.get("status") == "ok"]
    return rows[0]["images_per_s"] if rows else None


def peak_gflops():
    def make_matmul(n):
        a, b = (tf.random.stateless_normal((n, n), seed=(i, 0)) for i in range(2))
        matmul = tf.function(tf.linalg.matmul)
        return lambda: matmul(a, b).numpy()

    return harness.matmul_peak_gflops(make_matmul)


def measure(preset, peak, official):
    config = configs.PRESETS[preset]
    if config.model != "mlp":
        raise app.UsageError(f"--presets: {preset} is not an MLP preset")
    batch = config.batch_size
    step, (images, *latents), products = compiled_step(config)
    kinds = sorted({kind_of(p, batch) for p in products})
    functions = {
        "step": lambda: [float(v) for v in step(images, *latents).values()],
        "matmuls": products_function(products),
        "matmuls_tf_kernels": products_function(products, jit_compile=False),
        **{kind: products_function([p for p in products if kind_of(p, batch) == kind]) for kind in kinds},
    }
    seconds = interleaved_medians(functions, FLAGS.rounds, FLAGS.calls)
    flop = {"matmuls": sum(2.0 * m * k * n for m, k, n in products)}
    for kind in kinds:
        flop[kind] = sum(2.0 * m * k * n for m, k, n in products if kind_of((m, k, n), batch) == kind)
    row = {
        "preset": preset,
        "batch_size": batch,
        "matmuls": len(products),
        "gflop_matmuls": flop["matmuls"] / 1e9,
        "step_ms": 1e3 * seconds["step"],
        "matmuls_ms": 1e3 * seconds["matmuls"],
        "step_over_matmuls": seconds["step"] / seconds["matmuls"],
        "images_per_s": batch / seconds["step"],
        "matmul_percent_of_peak": 100.0 * flop["matmuls"] / seconds["matmuls"] / 1e9 / peak,
        "matmuls_tf_kernels_ms": 1e3 * seconds["matmuls_tf_kernels"],
        "tf_kernels_percent_of_peak": 100.0 * flop["matmuls"] / seconds["matmuls_tf_kernels"] / 1e9 / peak,
        "peak_gflops_per_s": peak,
        "by_kind": {
            kind: {
                "matmuls": sum(kind_of(p, batch) == kind for p in products),
                "gflop": flop[kind] / 1e9,
                "ms": 1e3 * seconds[kind],
                "percent_of_peak": 100.0 * flop[kind] / seconds[kind] / 1e9 / peak,
            }
            for kind in kinds
        },
        # `[m, k, n, count]`: what `official_matmuls.py` times in torch.
        "products": [[*shape, count] for shape, count in sorted(collections.Counter(products).items())],
    }
    if official is not None and preset == "mnist_mlp":
        row["official_images_per_s"] = official
        # The step's FLOPs at `speedup` x the official images/s, over the peak.
        needed = FLAGS.speedup * official / batch * flop["matmuls"] / 1e9
        row["percent_of_peak_needed"] = 100.0 * needed / peak
    return row


def main(argv):
    del argv
    peak = peak_gflops()
    official = official_rate(FLAGS.official_results)
    rows = []
    for preset in FLAGS.presets:
        rows.append(measure(preset, peak, official))
        harness.print_row(rows[-1], COLUMNS)
        for kind, values in rows[-1]["by_kind"].items():
            print(f"  {kind}: {values}", flush=True)
    harness.write_results(
        "matmul_floor",
        {**harness.flag_values(["presets", "rounds", "calls", "official_results", "speedup"]), "peak_gflops": peak},
        rows,
        COLUMNS,
        output=FLAGS.output,
    )


if __name__ == "__main__":
    app.run(main)

r"""The MLP step's matrix products timed in torch: the kernels the official code's step runs on.

`matmul_floor.py` lists every product of our compiled MLP step (`products` in its result file)
and times them with XLA's kernels and TF's; this binary times the same list with torch's
(`a @ b`, MKL or oneDNN on x86), in the official code's PyTorch venv (no TensorFlow):

    /work/torchvenv/bin/python -m benchmarks.official_matmuls \
        --products_from=benchmarks/results/matmul_floor.json

Per preset row of that file: median milliseconds of the whole list (each product computed on
random operands and read back as a sum), over `--rounds` x `--calls` calls, and GFLOP/s.
Results: `benchmarks/results/official_matmuls.json`.
"""

import json
import pathlib
import statistics

import torch
from absl import app, flags

from benchmarks import harness
from benchmarks.official_throughput import machine_info  # also defines --threads (torch.set_num_threads)

FLAGS = flags.FLAGS
flags.DEFINE_string("products_from", "benchmarks/results/matmul_floor.json", "A matmul_floor.py result file.")
flags.DEFINE_integer("rounds", 5, "Rounds of --calls timed calls.", lower_bound=1)
flags.DEFINE_integer("calls", 20, "Timed calls per round (after one untimed).", lower_bound=1)

COLUMNS = (
    ("preset", "preset"),
    ("matmuls", "matmuls"),
    ("gflop", "GFLOP"),
    ("torch_ms", "torch ms"),
    ("torch_gflops_per_s", "GFLOP/s"),
)


def products_call(products, seed=0):
    """A blocking callable running `[[m, k, n, count], ...]` on random operands."""
    generator = torch.Generator().manual_seed(seed)
    operands = [
        (torch.randn(m, k, generator=generator), torch.randn(k, n, generator=generator))
        for m, k, n, count in products
        for _ in range(count)
    ]

    def run():
        return sum(float((a @ b).sum()) for a, b in operands)

    return run


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    torch.set_num_threads(FLAGS.threads)
    source = json.loads(pathlib.Path(FLAGS.products_from).read_text())
    rows = []
    for case in source["results"]:
        products = case["products"]
        call = products_call(products)
        seconds = []
        for _ in range(FLAGS.rounds):
            seconds += harness.time_calls(call, FLAGS.calls, warmup=1)
        median = statistics.median(seconds)
        flop = sum(2.0 * m * k * n * count for m, k, n, count in products)
        rows.append(
            {
                "preset": case["preset"],
                "matmuls": sum(count for *_, count in products),
                "gflop": flop / 1e9,
                "torch_ms": 1e3 * median,
                "torch_gflops_per_s": flop / median / 1e9,
            }
        )
        harness.print_row(rows[-1], COLUMNS)
    harness.write_results(
        "official_matmuls",
        harness.flag_values(["products_from", "threads", "rounds", "calls"]),
        rows,
        COLUMNS,
        output=FLAGS.output,
        machine=machine_info(),
    )


if __name__ == "__main__":
    app.run(main)

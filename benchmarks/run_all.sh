#!/usr/bin/env bash
# Runs every benchmark with its default settings; results go to benchmarks/results/*.json.
# Slow (the StyleALAE cases take tens of minutes on a CPU): run on a quiet machine, never in CI.
# Extra arguments are passed to every script, e.g. `bash benchmarks/run_all.sh --verbosity=-1`.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-.venv/bin/python}
export TF_CPP_MIN_LOG_LEVEL=${TF_CPP_MIN_LOG_LEVEL:-3}
for benchmark in data_throughput export_latency train_throughput; do
  echo "=== ${benchmark}"
  "$PYTHON" -m "benchmarks.${benchmark}" "$@"
done

"""On-demand benchmarks (never run in CI, never collected by pytest): see benchmarks/README.md."""

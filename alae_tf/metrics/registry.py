"""The metric registry: metrics by name, what each needs, and running them on an `EvalContext`."""

METRICS = {}
# What each metric needs beyond a model and images, from `REQUIREMENTS`: a caller checks
# these before any (slow) encoding, so a run that cannot finish fails at once.
NEEDS = {}
REQUIREMENTS = ("features", "labels")


def register(name, needs=()):
    """Decorator: `@register("knn5", needs=("labels",))` makes `fn(ctx) -> dict[str, float]` a metric.

    `needs`: what of `REQUIREMENTS` the metric cannot run without (a feature network, labels).
    """
    unknown = set(needs) - set(REQUIREMENTS)
    if unknown:
        raise ValueError(f"metric {name!r}: unknown needs {sorted(unknown)}; known: {REQUIREMENTS}")

    def wrap(fn):
        if name in METRICS:
            raise ValueError(f"metric {name!r} registered twice")
        METRICS[name] = fn
        NEEDS[name] = frozenset(needs)
        return fn

    return wrap


def compute(names, ctx):
    """Run the metrics `names` on `ctx`; returns one merged dict of results."""
    unknown = [n for n in names if n not in METRICS]
    if unknown:
        raise ValueError(f"unknown metrics {unknown}; known: {sorted(METRICS)}")
    results = {}
    for name in names:
        results.update(METRICS[name](ctx))
    return results

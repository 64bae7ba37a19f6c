"""The text of `report.md`: the run's header, metric tables, the demo's quality bar and figure links.

Pure string work on the numbers `alae_tf.evaluation` gathered; the figures themselves are
drawn and written by `alae_tf.report.writer`.
"""

import numpy as np

from alae_tf import quality

# Result keys that say how a number was measured, not what it measured (see `split_results`).
_SETTING_SUFFIXES = ("_samples", "_subsets", "_subset_size", "_steps", "_epsilon", "_filter_size")


def split_results(results: dict) -> tuple[dict, dict]:
    """`(values, settings)`: a metric's result dict split into what it measured and how.

    Settings are the sample counts and parameters the metrics report beside their values
    (`*_samples`, `*_subsets`, `*_subset_size`, `*_steps`, `*_epsilon`, `*_filter_size`).
    """
    values, settings = {}, {}
    for key, value in results.items():
        (settings if key.endswith(_SETTING_SUFFIXES) else values)[key] = value
    return values, settings


def format_number(value) -> str:
    """A result as a table shows it: ints whole, floats to 6 significant digits, lists comma-separated,
    dicts as `key: value` pairs, strings and None as they are."""
    if isinstance(value, (list, tuple)):
        return ", ".join(format_number(v) for v in value)
    if isinstance(value, dict):
        return "; ".join(f"{key}: {format_number(v)}" for key, v in value.items())
    if value is None or isinstance(value, (str, bool, np.bool_)):
        return str(value)
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    return f"{value:.6g}"


def markdown_table(header, rows) -> list[str]:
    """The lines of a Markdown table with `header` and `rows` (cells as `str()` shows them)."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return lines


def report_markdown(
    workdir, summary: dict, by_metric: dict, image_figures: dict[str, str], curves: list, zoom_factor: int, side: int
) -> str:
    """The text of report.md.

    Args:
        workdir: the run's folder (as the header names it).
        summary: `metrics.json`'s dict (see `alae_tf.report.write_report`).
        by_metric: `{metric name: its result dict}` in the order they ran.
        image_figures: `{file name: title}` of the image grids, in the order they are shown.
        curves: `(tag, file name, title, values [n])` of each training curve, in order.
        zoom_factor: the grids' nearest-neighbour enlargement.
        side: the model's resolution in px.
    """
    features = summary.get("features")
    options = summary.get("options", {})
    nets = summary.get("nets", "ema")
    lines = [
        f"# ALAE evaluation: {summary.get('preset')} on {summary.get('dataset')}",
        "",
        f"- Run: `{workdir}`, checkpoint at step {summary.get('step')}, "
        f"**{summary.get('images_seen'):,} images seen**.",
        f"- Nets: **{'EMA' if nets == 'ema' else 'trained (not EMA)'}** "
        f"({'exponential moving averages of F, G, E, D, as the paper evaluates' if nets == 'ema' else '--nouse_ema'}).",
        f"- Resolution: {summary.get('resolution')}"
        + (
            f" (style nets at level {summary['level']}, blend {summary.get('blend', 1.0):g})"
            if summary.get("level") is not None
            else ""
        )
        + ".",
        f"- Evaluation split: `{summary.get('split')}` ({summary.get('eval_images')} images); k-NN and SVM are "
        f"fitted on the encodings of `train` ({summary.get('train_images')} images).",
    ]
    if features:
        source = f" from `{features['source']}`" if features.get("source") else ""
        lines.append(
            f"- **Feature network for FD / KID / PPL: `{features['name']}`**{source}; its name is in "
            f"the result keys (`fd_{features['name']}`). "
            + (
                "Inception-v3 pool features: FD is the usual FID."
                if features["name"] == "inception"
                else "Not Inception-v3: these numbers compare runs of this project, not published FIDs."
            )
        )
    else:
        lines.append("- Feature network: none (no FD / KID / PPL metric was asked for).")
    if "seconds_total" in summary:
        lines.append(
            f"- Metrics computed in {summary['seconds_total']:.1f} s (with restoring the run and loading the data)."
        )

    lines += ["", "## Metrics", ""]
    rows = []
    seconds = summary.get("seconds", {})
    for name, results in by_metric.items():
        values, _ = split_results(results)
        for i, (key, value) in enumerate(values.items()):
            rows.append(
                (
                    f"`{name}`" if i == 0 else "",
                    f"`{key}`",
                    format_number(value),
                    f"{seconds[name]:.1f}" if i == 0 and name in seconds else "",
                )
            )
    lines += markdown_table(("metric", "result", "value", "seconds"), rows)

    results = {key: value for result in by_metric.values() for key, value in result.items()}
    checks = [(t, v, m) for t, v, m in quality.check(results) if m is not None]
    if checks and summary.get("dataset") == "fashion_mnist":
        lines += [
            "",
            "## The demo's quality bar",
            "",
            "Fashion-MNIST lines of `alae_tf.quality.DEMO_BAR` (the judge is the feature network above); "
            f"{sum(m for _, _, m in checks)} of {len(checks)} measured here are met.",
            "",
        ]
        lines += markdown_table(
            ("target", "result", "value", "met"),
            [(t.description, f"`{t.key}`", format_number(v), "yes" if m else "**no**") for t, v, m in checks],
        )
    lines += ["", "## Sample counts", "", "What each metric was computed on (as the metrics report it):", ""]
    count_rows = [
        (f"`{name}`", f"`{key}`", format_number(value))
        for name, results in by_metric.items()
        for key, value in split_results(results)[1].items()
    ]
    for name in by_metric:
        if name in ("knn1", "knn5", "svm"):
            count_rows.append(
                (
                    f"`{name}`",
                    "train / evaluation images",
                    f"{summary.get('train_images')} / {summary.get('eval_images')}",
                )
            )
    lines += markdown_table(("metric", "setting", "value"), count_rows) if count_rows else ["(none)"]
    if options:
        lines += [
            "",
            "Options of this run (`alae-evaluate --help`): "
            + ", ".join(f"`{k}={v}`" for k, v in options.items())
            + ".",
        ]

    lines += [
        "",
        "## Figures",
        "",
        f"Drawn with the {'EMA' if nets == 'ema' else 'trained'} nets at {side}x{side} px"
        + (f", enlarged {zoom_factor}x (nearest neighbour) to be seen" if zoom_factor > 1 else "")
        + ".",
    ]
    for name, title in image_figures.items():
        lines += ["", f"### {title}", "", f"![{name}]({name})"]
    lines += ["", "## Training curves", ""]
    if curves:
        lines += [
            "From the TensorBoard scalars in `logs/` (x: images seen; y: the mean over each logging "
            "window). Where a few outlying values (the first steps, a spike) would flatten the rest, the "
            "y axis leaves them off and the plot says how many; the table gives the full range.",
            "",
        ]
        lines += markdown_table(
            ("scalar", "points", "first", "last", "min", "max"),
            [
                (
                    f"`{tag}`",
                    len(values),
                    format_number(values[0]),
                    format_number(values[-1]),
                    format_number(np.nanmin(values)),
                    format_number(np.nanmax(values)),
                )
                for tag, _, _, values in curves
            ],
        )
        for _, name, title, _ in curves:
            lines += ["", f"### {title}", "", f"![{name}]({name})"]
    else:
        lines.append("No TensorBoard scalars found in `logs/`.")
    return "\n".join(lines) + "\n"

"""The evaluation report: `WORKDIR/report/report.md` and its PNG figures.

Figures (EMA nets unless told otherwise, all at the model's current resolution):

- `samples.png`: G(F(z)) for fixed z, without truncation;
- `samples_truncated.png`: the same z with w moved towards `dlatent_avg` by psi (style nets
  truncate only their first `truncation_cutoff` style layers, as `ALAE.generate` does);
- `reconstructions.png`: test images, each followed by G(E(x));
- `interpolation.png`: one row per pair of test images `a`, `b`: `a`, then
  G((1 - t) E(a) + t E(b)) for t = 0 .. 1, then `b`;
- `curve_<tag>.png`: the training scalars (losses, images/s) over images seen, read from
  the TensorBoard event files in `WORKDIR/logs`.

No plotting library is used: the curves are drawn into numpy arrays (`line_plot`) with
axis labels in a 3x5 pixel font, and every PNG goes through `alae_tf.images.write_png`.
The folder is written beside its final place and renamed, so a reader sees either the
previous report or the whole new one.
"""

import pathlib

import numpy as np
import tensorflow as tf

from alae_tf import atomic, data, quality
from alae_tf import images as image_utils

REPORT_DIR = "report"
# What the training monitor logs (alae_tf/monitor.py), in the order the report shows it.
CURVE_TAGS = ("loss_d", "r1", "loss_g", "loss_ae", "images_per_second")
CURVE_TITLES = {
    "loss_d": "loss_d (step I: E and D, with R1)",
    "r1": "r1 (the R1 penalty inside loss_d)",
    "loss_g": "loss_g (step II: F and G)",
    "loss_ae": "loss_ae (step III: latent autoencoding)",
    "images_per_second": "images/s (training throughput)",
}
# Sample truncation when neither the caller nor the model's preset gives one.
DEFAULT_TRUNCATION_PSI = 0.7
# Result keys that say how a number was measured, not what it measured (see `split_results`).
_SETTING_SUFFIXES = ("_samples", "_subsets", "_subset_size", "_steps", "_epsilon", "_filter_size")
# Small images are enlarged (nearest neighbour) to at least this many px per tile, to be seen.
_MIN_TILE_PX = 64


# ------------------------------------------------------------------ figures
def zoom(image_uint8, factor):
    """Nearest-neighbour enlargement of `[H, W, C]` by an integer `factor`."""
    return np.repeat(np.repeat(image_uint8, factor, axis=0), factor, axis=1)


def tile_zoom(side):
    """The enlargement that brings a `side`-px tile to at least `_MIN_TILE_PX` (1 if it is already)."""
    return max(1, _MIN_TILE_PX // side)


def sample_images(model, z, truncation_psi=None, use_ema=True, noise_seed=(0, 0)):
    """G(F(z)) `[B, H, W, C]` float32 numpy, optionally truncated (fixed noise for style nets)."""
    return np.asarray(model.generate(tf.constant(z), truncation_psi=truncation_psi, use_ema=use_ema,
                                     noise_seed=tf.constant(noise_seed, tf.int32)), np.float32)


def reconstruction_images(model, images, use_ema=True, noise_seed=(0, 1)):
    """G(E(x)) `[B, H, W, C]` float32 numpy of float images `[B, H, W, C]` in the pixel range."""
    return np.asarray(model.reconstruct(tf.constant(images), use_ema=use_ema,
                                        noise_seed=tf.constant(noise_seed, tf.int32)), np.float32)


def interpolation_images(model, images_a, images_b, steps, use_ema=True, noise_seed=(0, 1)):
    """Decoded straight lines in w between encoded image pairs: `[P, steps, H, W, C]` float32.

    Row p holds G((1 - t) E(a_p) + t E(b_p)) for `steps` values of t evenly from 0 to 1. Each t
    is decoded as one batch of the P pairs with the same `noise_seed`, so a row keeps its
    noise along the line (only w moves) and its ends are exactly
    `reconstruction_images(model, images_a)` and `(..., images_b)` with that seed.

    Args:
        images_a, images_b: float images `[P, H, W, C]` in the pixel range.
        steps: points per line, at least 2.
    """
    if steps < 2:
        raise ValueError(f"an interpolation needs at least 2 steps, got {steps}")
    w_a = tf.cast(model.encode(tf.constant(images_a), use_ema=use_ema), tf.float32)
    w_b = tf.cast(model.encode(tf.constant(images_b), use_ema=use_ema), tf.float32)
    seed = tf.constant(noise_seed, tf.int32)
    # (1 - t) a + t b, not a + t (b - a): only this form gives E(a) and E(b) exactly at the ends.
    decoded = [np.asarray(model.decode((1.0 - t) * w_a + t * w_b, use_ema=use_ema, noise_seed=seed), np.float32)
               for t in np.linspace(0.0, 1.0, steps, dtype=np.float32)]
    return np.stack(decoded, axis=1)


# -------------------------------------------------------------- TB scalars
def read_scalars(logdir):
    """Scalars of the TensorBoard event files in `logdir`: `{tag: (steps [n] int64, values [n] float64)}`.

    Steps are the image counts the monitor logs at, sorted. A resumed run logs again the steps
    after its last checkpoint; where a step was written twice the later write wins (the run
    that went on), so every step appears once. No event files: an empty dict.
    """
    by_tag = {}  # tag -> {step: (wall_time, value)}
    for path in sorted(pathlib.Path(logdir).glob("events.out.tfevents.*")):
        for event in _events(path):
            for value in event.summary.value:
                if value.metadata.plugin_data.plugin_name != "scalars":
                    continue  # image grids
                scalar = float(tf.make_ndarray(value.tensor))
                steps = by_tag.setdefault(value.tag, {})
                if event.step not in steps or steps[event.step][0] <= event.wall_time:
                    steps[event.step] = (event.wall_time, scalar)
    return {tag: (np.array(sorted(steps), np.int64), np.array([steps[s][1] for s in sorted(steps)], np.float64))
            for tag, steps in by_tag.items()}


def _events(path):
    """The `Event` protos of one event file; a file cut short (a killed run) yields what it holds."""
    try:
        for record in tf.data.TFRecordDataset(str(path)):
            yield tf.compat.v1.Event.FromString(record.numpy())
    except tf.errors.DataLossError:
        return


# 3x5 pixel glyphs for axis labels: five rows each, "#" marks ink ("M" is 5 wide).
_GLYPHS = {
    "0": ("###", "#.#", "#.#", "#.#", "###"), "1": (".#.", "##.", ".#.", ".#.", "###"),
    "2": ("###", "..#", "###", "#..", "###"), "3": ("###", "..#", "###", "..#", "###"),
    "4": ("#.#", "#.#", "###", "..#", "..#"), "5": ("###", "#..", "###", "..#", "###"),
    "6": ("###", "#..", "###", "#.#", "###"), "7": ("###", "..#", "..#", "..#", "..#"),
    "8": ("###", "#.#", "###", "#.#", "###"), "9": ("###", "#.#", "###", "..#", "###"),
    ".": ("...", "...", "...", "...", ".#."), "-": ("...", "...", "###", "...", "..."),
    "+": ("...", ".#.", "###", ".#.", "..."), "e": ("...", "##.", "###", "#..", ".##"),
    "k": ("#..", "#.#", "##.", "#.#", "#.#"), "M": ("#...#", "##.##", "#.#.#", "#...#", "#...#"),
    " ": ("...", "...", "...", "...", "..."),
}
_FONT_SCALE = 2  # glyph pixels per font pixel
_GLYPH_HEIGHT = 5 * _FONT_SCALE


def _text_width(text):
    return sum((len(_GLYPHS[c][0]) + 1) * _FONT_SCALE for c in text) - _FONT_SCALE


def draw_text(canvas, text, x, y, color=(0, 0, 0)):
    """Write `text` (digits, `.-+ekM` and space) into `canvas` `[H, W, 3]` with its top left at (x, y)."""
    for char in text:
        glyph = np.array([[c == "#" for c in row] for row in _GLYPHS[char]])
        ink = zoom(glyph[:, :, None], _FONT_SCALE)[:, :, 0]
        h, w = ink.shape
        region = canvas[y:y + h, x:x + w]
        region[ink[:region.shape[0], :region.shape[1]]] = color
        x += w + _FONT_SCALE


def format_value(value):
    """A short axis label, 3 significant digits: `0.0123`, `1.5e-05`, `712`, `1.55k`, `2.1M`."""
    for divisor, suffix in ((1e6, "M"), (1e3, "k")):
        if abs(value) >= divisor:
            return f"{value / divisor:.3g}{suffix}"
    return f"{value:.3g}"


def format_count(count):
    """A short image count: `0`, `950`, `60k`, `1.2M`."""
    return format_value(count) if abs(count) >= 1000 else str(int(count))


def line_plot(x, y, width=480, height=240, color=(31, 90, 200)):
    """A line plot of `y` over `x` (both `[n]`, n >= 1) as uint8 RGB `[height, width, 3]`.

    A white canvas with a frame and quartile gridlines; the y axis is labelled with its bottom,
    middle and top values, the x axis with its ends (as image counts). The y range is the data's,
    padded by 5 % (a constant series gets +-1), but not below 0 for non-negative data.
    """
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    if x.shape != y.shape or x.ndim != 1 or len(x) == 0:
        raise ValueError(f"line_plot needs two equal 1-D series of at least 1 point, got {x.shape} and {y.shape}")
    finite = np.isfinite(y)
    y_lo, y_hi = (float(np.min(y[finite])), float(np.max(y[finite]))) if finite.any() else (0.0, 1.0)
    pad = 0.05 * (y_hi - y_lo) if y_hi > y_lo else 1.0
    # Losses, penalties and rates are >= 0: the padding does not invent a negative axis for them.
    y_lo, y_hi = (max(y_lo - pad, 0.0) if y_lo >= 0.0 else y_lo - pad), y_hi + pad
    x_lo, x_hi = float(x.min()), float(x.max())
    if x_hi == x_lo:
        x_lo, x_hi = x_lo - 1.0, x_hi + 1.0

    labels = [format_value(v) for v in (y_hi, (y_lo + y_hi) / 2, y_lo)]
    left = max(_text_width(s) for s in labels) + 8
    top, right, bottom = 8, 12, _GLYPH_HEIGHT + 10
    x0, x1, y0, y1 = left, width - right - 1, top, height - bottom - 1  # plot area, inclusive
    if x1 - x0 < 10 or y1 - y0 < 10:
        raise ValueError(f"a {width}x{height} plot leaves no room for the curve")
    canvas = np.full((height, width, 3), 255, np.uint8)
    for frac in (0.25, 0.5, 0.75):
        canvas[round(y0 + frac * (y1 - y0)), x0:x1 + 1] = 225
        canvas[y0:y1 + 1, round(x0 + frac * (x1 - x0))] = 225
    canvas[[y0, y1], x0:x1 + 1] = 0
    canvas[y0:y1 + 1, [x0, x1]] = 0
    for label, row in zip(labels, (y0, (y0 + y1) // 2, y1)):
        draw_text(canvas, label, x0 - 4 - _text_width(label), min(max(row - _GLYPH_HEIGHT // 2, 0),
                                                                  height - _GLYPH_HEIGHT))
    for label, col in ((format_count(x_lo), x0), (format_count(x_hi), x1 - _text_width(format_count(x_hi)) + 1)):
        draw_text(canvas, label, col, y1 + 5)

    # Data -> pixel centres; each segment is drawn as densely sampled points, 2 px thick.
    px = x0 + (x[finite] - x_lo) / (x_hi - x_lo) * (x1 - x0)
    py = y1 - (y[finite] - y_lo) / (y_hi - y_lo) * (y1 - y0)
    if len(px) == 1:
        cols, rows = px, py
    else:
        n = int(np.ceil(np.max(np.abs(np.diff(px)) + np.abs(np.diff(py))))) + 2
        t = np.linspace(0.0, 1.0, n)[:, None]
        cols = (px[:-1] + t * np.diff(px)).ravel()
        rows = (py[:-1] + t * np.diff(py)).ravel()
    cols, rows = np.rint(cols).astype(int), np.rint(rows).astype(int)
    for dr, dc in ((0, 0), (1, 0), (0, 1), (1, 1)):
        canvas[np.clip(rows + dr, y0, y1), np.clip(cols + dc, x0, x1)] = color
    return canvas


# ------------------------------------------------------------------ report
def split_results(results):
    """`(values, settings)`: a metric's result dict split into what it measured and how.

    Settings are the sample counts and parameters the metrics report beside their values
    (`*_samples`, `*_subsets`, `*_subset_size`, `*_steps`, `*_epsilon`, `*_filter_size`).
    """
    values, settings = {}, {}
    for key, value in results.items():
        (settings if key.endswith(_SETTING_SUFFIXES) else values)[key] = value
    return values, settings


def _format_number(value):
    if isinstance(value, (list, tuple)):
        return ", ".join(_format_number(v) for v in value)
    if isinstance(value, (bool, np.bool_)):
        return str(value)
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    return f"{value:.6g}"


def _markdown_table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return lines


def write_report(workdir, model, summary, by_metric, test_images, pixel_range, *, use_ema=True, truncation_psi=None,
                 num_samples=64, num_reconstructions=32, interpolation_pairs=4, interpolation_steps=10, seed=0):
    """Write `WORKDIR/report/` (report.md and figures); returns the path of report.md.

    Args:
        workdir: the run's folder.
        model: the restored `ALAE`, at its trained level.
        summary: `metrics.json`'s dict (header fields: images_seen, step, dataset, preset,
            split, nets, features, options, seconds).
        by_metric: `{metric name: its result dict}` in the order they ran.
        test_images: uint8 `[N, H, W, C]` evaluation images at the model's current resolution
            (the first ones are reconstructed and interpolated).
        pixel_range: the model's pixel range.
        use_ema: draw the figures with the EMA nets (as the metrics) or the trained ones.
        truncation_psi: psi of `samples_truncated.png`; None takes the model's preset value,
            or `DEFAULT_TRUNCATION_PSI` if it has none.
        num_samples, num_reconstructions: images in the sample and reconstruction grids.
        interpolation_pairs, interpolation_steps: rows and decoded points per row.
        seed: seed of the samples' z.
    """
    workdir = pathlib.Path(workdir)
    pixel_range = tuple(pixel_range)
    if truncation_psi is None:
        truncation_psi = model.truncation_psi if model.truncation_psi is not None else DEFAULT_TRUNCATION_PSI
    needed = max(num_reconstructions, 2 * interpolation_pairs)
    if len(test_images) < needed:
        raise ValueError(f"the report needs {needed} evaluation images, the split has {len(test_images)}")
    side = test_images.shape[1]
    factor = tile_zoom(side)

    def show(images_float, columns=None):
        return zoom(image_utils.grid(image_utils.to_uint8(images_float, pixel_range), columns=columns), factor)

    figures = {}  # file name -> (title, uint8 image)
    z = np.random.default_rng([seed, 4]).standard_normal((num_samples, model.latent_size)).astype(np.float32)
    figures["samples.png"] = ("Samples G(F(z)), no truncation", show(sample_images(model, z, None, use_ema)))
    cutoff = "" if not model.is_style or model.truncation_cutoff is None else \
        f", first {model.truncation_cutoff} style layers"
    figures["samples_truncated.png"] = (
        f"The same z with truncation psi = {truncation_psi:g}{cutoff} (w towards dlatent_avg)",
        show(sample_images(model, z, truncation_psi, use_ema)))
    real = np.asarray(data.to_pixel_range(test_images[:needed], pixel_range), np.float32)
    recon = reconstruction_images(model, real[:num_reconstructions], use_ema)
    figures["reconstructions.png"] = (
        f"Reconstructions: the first {num_reconstructions} {summary.get('split', 'test')} images, each followed "
        f"by G(E(x))", show(image_utils.interleave(real[:num_reconstructions], recon), columns=16))
    pairs = interpolation_pairs
    lines = interpolation_images(model, real[:pairs], real[pairs:2 * pairs], interpolation_steps, use_ema)
    rows = np.concatenate([real[:pairs, None], lines, real[pairs:2 * pairs, None]], axis=1)
    figures["interpolation.png"] = (
        f"Interpolation in w: each row is image a, G(lerp(E(a), E(b), t)) for {interpolation_steps} t from 0 "
        f"to 1, then image b ({summary.get('split', 'test')} images 0..{pairs - 1} to "
        f"{pairs}..{2 * pairs - 1})",
        show(rows.reshape((-1,) + rows.shape[2:]), columns=interpolation_steps + 2))
    scalars = read_scalars(workdir / "logs")
    curves = []
    for tag in CURVE_TAGS:
        if tag in scalars:
            steps, values = scalars[tag]
            name = f"curve_{tag}.png"
            figures[name] = (f"{CURVE_TITLES[tag]} over images seen", line_plot(steps, values))
            curves.append((tag, name, steps, values))

    text = _report_markdown(workdir, summary, by_metric, figures, curves, truncation_psi, factor, side)
    final = workdir / REPORT_DIR
    with atomic.directory(final, overwrite=True) as tmp:
        for name, (_, picture) in figures.items():
            image_utils.write_png(tmp / name, picture)
        atomic.write_text(tmp / "report.md", text)
    return final / "report.md"


def _report_markdown(workdir, summary, by_metric, figures, curves, truncation_psi, factor, side):
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
        + (f" (style nets at level {summary['level']}, blend {summary.get('blend', 1.0):g})"
           if summary.get("level") is not None else "") + ".",
        f"- Evaluation split: `{summary.get('split')}` ({summary.get('eval_images')} images); k-NN and SVM are "
        f"fitted on the encodings of `train` ({summary.get('train_images')} images).",
    ]
    if features:
        source = f" from `{features['source']}`" if features.get("source") else ""
        lines.append(f"- **Feature network for FD / KID / PPL: `{features['name']}`**{source}; its name is in "
                     f"the result keys (`fd_{features['name']}`). "
                     + ("Inception-v3 pool features: FD is the usual FID." if features["name"] == "inception" else
                        "Not Inception-v3: these numbers compare runs of this project, not published FIDs."))
    else:
        lines.append("- Feature network: none (no FD / KID / PPL metric was asked for).")
    if "seconds_total" in summary:
        lines.append(f"- Metrics computed in {summary['seconds_total']:.1f} s (with restoring the run and "
                     f"loading the data).")

    lines += ["", "## Metrics", ""]
    rows = []
    seconds = summary.get("seconds", {})
    for name, results in by_metric.items():
        values, _ = split_results(results)
        for i, (key, value) in enumerate(values.items()):
            rows.append((f"`{name}`" if i == 0 else "", f"`{key}`", _format_number(value),
                         f"{seconds[name]:.1f}" if i == 0 and name in seconds else ""))
    lines += _markdown_table(("metric", "result", "value", "seconds"), rows)

    results = {key: value for result in by_metric.values() for key, value in result.items()}
    checks = [(t, v, m) for t, v, m in quality.check(results) if m is not None]
    if checks and summary.get("dataset") == "fashion_mnist":
        lines += ["", "## The demo's quality bar", "",
                  "Fashion-MNIST lines of `alae_tf.quality.DEMO_BAR` (the judge is the feature network above); "
                  f"{sum(m for _, _, m in checks)} of {len(checks)} measured here are met.", ""]
        lines += _markdown_table(("target", "result", "value", "met"),
                                 [(t.description, f"`{t.key}`", _format_number(v), "yes" if m else "**no**")
                                  for t, v, m in checks])
    lines += ["", "## Sample counts", "",
              "What each metric was computed on (as the metrics report it):", ""]
    count_rows = [(f"`{name}`", f"`{key}`", _format_number(value))
                  for name, results in by_metric.items() for key, value in split_results(results)[1].items()]
    for name, results in by_metric.items():
        if name in ("knn1", "knn5", "svm"):
            count_rows.append((f"`{name}`", "train / evaluation images",
                               f"{summary.get('train_images')} / {summary.get('eval_images')}"))
    lines += _markdown_table(("metric", "setting", "value"), count_rows) if count_rows else ["(none)"]
    if options:
        lines += ["", "Options of this run (`python -m alae_tf.evaluate --help`): "
                  + ", ".join(f"`{k}={v}`" for k, v in options.items()) + "."]

    lines += ["", "## Figures", "",
              f"Drawn with the {'EMA' if nets == 'ema' else 'trained'} nets at {side}x{side} px"
              + (f", enlarged {factor}x (nearest neighbour) to be seen" if factor > 1 else "") + "."]
    for name, (title, picture) in figures.items():
        if name.startswith("curve_"):
            continue
        lines += ["", f"### {title}", "", f"![{name}]({name})"]
    lines += ["", "## Training curves", ""]
    if curves:
        lines += ["From the TensorBoard scalars in `logs/` (x: images seen; y: the mean over each logging "
                  "window). Axis labels give the y range and the first and last image counts.", ""]
        lines += _markdown_table(
            ("scalar", "points", "first", "last", "min", "max"),
            [(f"`{tag}`", len(values), _format_number(values[0]), _format_number(values[-1]),
              _format_number(np.nanmin(values)), _format_number(np.nanmax(values))) for tag, _, _, values in curves])
        for tag, name, steps, _ in curves:
            lines += ["", f"### {figures[name][0]}", "", f"![{name}]({name})"]
    else:
        lines.append("No TensorBoard scalars found in `logs/`.")
    return "\n".join(lines) + "\n"

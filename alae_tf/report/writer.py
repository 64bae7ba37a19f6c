"""`write_report`: draws the report's figures and writes them with report.md into `WORKDIR/report/`.

The folder is written beside its final place and renamed, so a reader sees either the
previous report or the whole new one.
"""

import pathlib

import numpy as np

from alae_tf import atomic, data, editing, storage
from alae_tf import image_grids as image_utils
from alae_tf.report import curves as curves_lib
from alae_tf.report import editing_figures, figures, markdown
from alae_tf.report.scalars import read_scalars

REPORT_DIR = "report"
# What the training monitor (alae_tf/monitor.py) always logs, in the order the report shows it;
# any other logged scalar (recon_pixels, with a pixel reconstruction term) follows them.
CURVE_TAGS = ("loss_d", "r1", "loss_g", "loss_ae", "images_per_second")
CURVE_TITLES = {
    "loss_d": "loss_d (step I: E and D, with R1)",
    "r1": "r1 (the R1 penalty inside loss_d)",
    "loss_g": "loss_g (step II: F and G)",
    "loss_ae": "loss_ae (step III: latent autoencoding)",
    "recon_pixels": "recon_pixels (step III's pixel term, mean (G(E(x)) - x)^2)",
    "images_per_second": "images/s (training throughput)",
}
_Y_LABELS = {"images_per_second": "images/s"}
# Sample truncation when neither the caller nor the model's preset gives one.
DEFAULT_TRUNCATION_PSI = 0.7


def curve_tags(tags) -> list[str]:
    """The logged scalar `tags` in the report's order: `CURVE_TAGS` first, then the others by name."""
    return [t for t in CURVE_TAGS if t in tags] + sorted(t for t in tags if t not in CURVE_TAGS)


def write_report(
    workdir,
    model,
    summary,
    by_metric,
    test_images,
    pixel_range,
    *,
    use_ema=True,
    truncation_psi=None,
    num_samples=64,
    num_reconstructions=32,
    interpolation_pairs=4,
    interpolation_steps=10,
    seed=0,
    test_labels=None,
    class_move=None,
    num_classes=None,
    edit_rows=8,
    mix_pairs=6,
) -> pathlib.Path:
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
        test_labels, class_move, num_classes: labels of `test_images`, the move of the kind of class edit the
            `class_edit` metric chose (`metrics.editing.class_edit_moves`) and the number of classes: with all
            three (and a `class_edit` result), a grid of class edits of the first `edit_rows` images at the
            metric's kind and strength. Style nets also get a style-mixing grid of
            `mix_pairs` pairs.
    """
    workdir = storage.path(workdir)
    pixel_range = tuple(pixel_range)
    if truncation_psi is None:
        truncation_psi = model.truncation_psi if model.truncation_psi is not None else DEFAULT_TRUNCATION_PSI
    needed = max(num_reconstructions, 2 * interpolation_pairs, edit_rows, 2 * mix_pairs if model.is_style else 0)
    if len(test_images) < needed:
        raise ValueError(f"the report needs {needed} evaluation images, the split has {len(test_images)}")
    side = test_images.shape[1]
    factor = figures.tile_zoom(side)

    def show(images_float, columns=None):
        return figures.image_grid(images_float, pixel_range, factor, columns)

    grids = {}  # file name -> (title, uint8 image)
    z = np.random.default_rng([seed, 4]).standard_normal((num_samples, model.latent_size)).astype(np.float32)
    grids["samples.png"] = ("Samples G(F(z)), no truncation", show(figures.sample_images(model, z, None, use_ema)))
    cutoff = (
        ""
        if not model.is_style or model.truncation_cutoff is None
        else f", first {model.truncation_cutoff} style layers"
    )
    grids["samples_truncated.png"] = (
        f"The same z with truncation psi = {truncation_psi:g}{cutoff} (w towards dlatent_avg)",
        show(figures.sample_images(model, z, truncation_psi, use_ema)),
    )
    real = np.asarray(data.to_pixel_range(test_images[:needed], pixel_range), np.float32)
    recon = figures.reconstruction_images(model, real[:num_reconstructions], use_ema)
    grids["reconstructions.png"] = (
        f"Reconstructions: the first {num_reconstructions} {summary.get('split', 'test')} images, each followed "
        f"by G(E(x))",
        show(image_utils.interleave(real[:num_reconstructions], recon), columns=16),
    )
    pairs = interpolation_pairs
    lines = figures.interpolation_images(model, real[:pairs], real[pairs : 2 * pairs], interpolation_steps, use_ema)
    rows = np.concatenate([real[:pairs, None], lines, real[pairs : 2 * pairs, None]], axis=1)
    grids["interpolation.png"] = (
        f"Interpolation in w: each row is image a, G(lerp(E(a), E(b), t)) for {interpolation_steps} t from 0 "
        f"to 1, then image b ({summary.get('split', 'test')} images 0..{pairs - 1} to "
        f"{pairs}..{2 * pairs - 1})",
        show(rows.reshape((-1,) + rows.shape[2:]), columns=interpolation_steps + 2),
    )

    class_edits = (class_move, num_classes)
    grids.update(_editing_grids(model, by_metric, real, test_labels, class_edits, edit_rows, mix_pairs, use_ema, show))
    scalars = read_scalars(workdir / "logs")
    pictures = {name: picture for name, (_, picture) in grids.items()}
    curves = []  # (tag, file name, title, values)
    for tag in curve_tags(scalars):
        steps, values = scalars[tag]
        name, title = f"curve_{tag}.png", f"{CURVE_TITLES.get(tag, tag)} over images seen"
        pictures[name] = curves_lib.curve_image(
            steps, values, title=CURVE_TITLES.get(tag, tag), ylabel=_Y_LABELS.get(tag, tag)
        )
        curves.append((tag, name, title, values))

    text = markdown.report_markdown(
        workdir, summary, by_metric, {name: title for name, (title, _) in grids.items()}, curves, factor, side
    )
    final = workdir / REPORT_DIR
    with atomic.directory(final, overwrite=True) as tmp:
        for name, picture in pictures.items():
            image_utils.write_png(tmp / name, picture)
        atomic.write_text(tmp / "report.md", text)
    return final / "report.md"


def _editing_grids(model, by_metric, real, test_labels, class_edits, edit_rows, mix_pairs, use_ema, show):
    """`{file name: (title, picture)}` of the editing figures that the run's metrics and nets allow."""
    grids = {}
    class_edit, ink_edit = by_metric.get("class_edit"), by_metric.get("ink_edit")
    if class_edit is not None:
        grids["class_edit_matrix.png"] = (
            "Class edits: share of edited evaluation images the judge gives the target class, per ordered pair",
            editing_figures.class_edit_matrix_image(class_edit),
        )
    if class_edit is not None or ink_edit is not None:
        grids["edit_curves.png"] = (
            "Edit success against strength (class edits) and against preservation (ink edits)",
            editing_figures.edit_curves_image(class_edit, ink_edit),
        )
    class_move, num_classes = class_edits
    if class_edit is not None and class_move is not None and test_labels is not None:
        strength, kind = class_edit["class_edit_strength"], class_edit["class_edit_kind"]
        rows = editing_figures.class_edit_rows(
            model, real[:edit_rows], test_labels[:edit_rows], class_move, num_classes, strength, use_ema
        )
        grids["class_edits.png"] = (
            f"Class edits ({kind}) at strength {strength:g}: each row an evaluation image, G(E(x)), then E(x) moved "
            f"towards each class 0..{num_classes - 1} and decoded",
            show(rows.reshape((-1,) + rows.shape[2:]), columns=rows.shape[1]),
        )
    if model.is_style and editing.style_layer_groups(model):
        rows, cutoffs = editing_figures.style_mix_rows(
            model, real[:mix_pairs], real[mix_pairs : 2 * mix_pairs], use_ema
        )
        if cutoffs:
            grids["style_mix.png"] = (
                f"Style mixing: each row A, B, then G with A's styles below each cutoff {cutoffs} and B's from it on",
                show(rows.reshape((-1,) + rows.shape[2:]), columns=rows.shape[1]),
            )
    return grids

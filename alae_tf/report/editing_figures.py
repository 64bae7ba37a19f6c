"""The report's editing figures: the class-edit matrix and curves (matplotlib), class-edit and style-mixing grids.

The matrix and the curves are drawn from the editing metrics' results (`alae_tf.metrics.editing`);
the grids run the model (`alae_tf.editing`) on the report's evaluation images.
"""

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from alae_tf import editing

_DPI = 100


def _render(figure) -> np.ndarray:
    canvas = FigureCanvasAgg(figure)
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[..., :3].copy()


def class_edit_matrix_image(results: dict, class_names=None) -> np.ndarray:
    """uint8 RGB heatmap of `class_edit_matrix`: rows the source class, columns the target, cells the success."""
    matrix = np.array([[np.nan if v is None else v for v in row] for row in results["class_edit_matrix"]], float)
    n = len(matrix)
    names = list(class_names) if class_names is not None else [str(i) for i in range(n)]
    figure = Figure(figsize=(6.4, 5.6), dpi=_DPI, layout="constrained")
    axes = figure.add_subplot()
    shown = axes.imshow(matrix, vmin=0.0, vmax=1.0, cmap="viridis")
    for i in range(n):
        for j in range(n):
            if np.isfinite(matrix[i, j]):
                axes.text(
                    j,
                    i,
                    f"{matrix[i, j]:.2f}",
                    ha="center",
                    va="center",
                    fontsize=7,
                    color="white" if matrix[i, j] < 0.6 else "black",
                )
    axes.set_xticks(range(n), names, rotation=45, ha="right", fontsize=8)
    axes.set_yticks(range(n), names, fontsize=8)
    axes.set_xlabel("target class")
    axes.set_ylabel("source class (the image's label)")
    axes.set_title(
        f"Class edits judged as the target: {results['class_edit_kind']} directions at strength "
        f"{results['class_edit_strength']:g} (mean {results['class_edit_success']:.3f})",
        fontsize=9,
    )
    figure.colorbar(shown, ax=axes, shrink=0.8)
    return _render(figure)


def edit_curves_image(class_results: dict | None, ink_results: dict | None) -> np.ndarray:
    """uint8 RGB: class-edit success against strength per kind of direction, and ink edits' success
    (mean relative ink change) against preservation (judged class kept), one point per strength."""
    panels = [p for p in (class_results, ink_results) if p is not None]
    figure = Figure(figsize=(5.0 * len(panels), 3.6), dpi=_DPI, layout="constrained")
    index = 1
    if class_results is not None:
        axes = figure.add_subplot(1, len(panels), index)
        index += 1
        for kind, curve in class_results["class_edit_curves"].items():
            axes.plot(class_results["class_edit_strengths"][kind], curve, marker="o", label=kind)
        axes.axhline(0.8, color="grey", linewidth=0.8, linestyle="--")
        axes.set_xscale("log", base=2)
        axes.set_xlabel("strength (1 = the class-mean gap)")
        axes.set_ylabel("edits judged as the target")
        axes.set_ylim(0.0, 1.0)
        axes.set_title("Class edits, mean over the ordered class pairs", fontsize=9)
        axes.legend(fontsize=8)
    if ink_results is not None:
        axes = figure.add_subplot(1, len(panels), index)
        change = np.asarray(ink_results["ink_edit_mean_change"]) * 100.0
        axes.plot(change, ink_results["ink_edit_class_kept"], marker="o")
        axes.axvline(100.0 * ink_results["ink_edit_target"], color="grey", linewidth=0.8, linestyle="--")
        axes.set_xlabel("mean ink change (%)")
        axes.set_ylabel("judged class kept")
        axes.set_ylim(0.0, 1.02)
        axes.set_title(
            f"Ink edits: success against preservation (Spearman {ink_results['ink_edit_rank_correlation']:.3f})",
            fontsize=9,
        )
    return _render(figure)


def class_edit_rows(model, images, labels, class_move, num_classes, strength, use_ema=True):
    """Float images `[R, 2 + classes, H, W, C]`: each image, its reconstruction, then it edited towards every class.

    `class_move(codes, sources, targets, strength) -> codes` moves E(x) from its label's class to each
    target (`alae_tf.metrics.editing.class_edit_moves`: the kind the `class_edit` metric chose).
    """
    w = editing.encode(model, images, use_ema=use_ema).numpy().astype(np.float64)
    labels = np.asarray(labels)
    rows = [images[:, None], model.decode(w.astype(np.float32), use_ema=use_ema).numpy()[:, None]]
    for target in range(num_classes):
        moved = class_move(w, labels, np.full_like(labels, target), strength)
        rows.append(model.decode(moved.astype(np.float32), use_ema=use_ema).numpy()[:, None])
    return np.concatenate(rows, axis=1)


def style_mix_rows(model, images_a, images_b, use_ema=True):
    """Float images `[R, 2 + groups, H, W, C]`: A, B, then A's styles up to each group's end and B's after it."""
    groups = editing.style_layer_groups(model)
    total = editing.active_style_layers(model)
    # Every group boundary inside the styles the model draws: A's coarse (then coarse + middle) styles.
    cutoffs = sorted({end for start, end in groups.values() if start < end < total})
    rows = [images_a[:, None], images_b[:, None]]
    for cutoff in cutoffs:
        rows.append(np.asarray(editing.style_mix(model, images_a, images_b, cutoff, use_ema=use_ema))[:, None])
    return np.concatenate(rows, axis=1), cutoffs

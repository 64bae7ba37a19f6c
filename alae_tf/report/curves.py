"""Training curves (one scalar over images seen) as RGB images, drawn by matplotlib.

matplotlib's object API (`Figure` + `FigureCanvasAgg`) is used, not pyplot: it selects no
global backend (headless processes need none) and keeps no registry of open figures, so a
figure is freed with its last reference instead of piling up over a long evaluation.
"""

import numpy as np
from matplotlib import ticker
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

CURVE_WIDTH, CURVE_HEIGHT = 480, 240  # px of a curve image
LINE_COLOR = "#1f5ac8"
_DPI = 100
# Shorter series are few enough that every point is read: full y range, and a marker on each.
_ROBUST_MIN_POINTS = 20


def y_view(values) -> tuple[float, float]:
    """The y limits `(lo, hi)` a curve of `values` is shown in; non-finite values are ignored.

    A few huge values (a run's first steps, a spike at a level change) would flatten the rest of
    a loss into a line along the bottom. So, as TensorBoard's "ignore outliers in chart scaling"
    does, a series of at least 20 points is centred on its 5th..95th percentiles, widened to hold
    its last tenth whole (the end of a run is what one reads the curve for); values further than
    that range's own width beyond it run off the plot. The limits are padded by 5 %, but not
    below 0 for non-negative data (losses, penalties and rates). A constant series gets +-10 %.
    """
    y = np.asarray(values, np.float64)
    y = y[np.isfinite(y)]
    if len(y) == 0:
        return 0.0, 1.0
    lo, hi = float(y.min()), float(y.max())
    if len(y) >= _ROBUST_MIN_POINTS:
        tail = y[-max(1, len(y) // 10) :]
        core_lo, core_hi = np.percentile(y, [5.0, 95.0])
        core_lo, core_hi = min(core_lo, tail.min()), max(core_hi, tail.max())
        width = core_hi - core_lo
        lo, hi = max(lo, float(core_lo - width)), min(hi, float(core_hi + width))
    pad = 0.05 * (hi - lo) if hi > lo else (0.1 * abs(hi) or 1.0)
    return (max(lo - pad, 0.0) if lo >= 0.0 else lo - pad), hi + pad


def curve_image(
    steps,
    values,
    *,
    title: str | None = None,
    ylabel: str = "value",
    xlabel: str = "images seen",
    width: int = CURVE_WIDTH,
    height: int = CURVE_HEIGHT,
) -> np.ndarray:
    """A line plot of `values` over `steps` (both `[n]`, n >= 1) as uint8 RGB `[height, width, 3]`.

    x is an image count from 0 (ticks as `60k`, `1.2M`); the y range is `y_view(values)`, and a
    note in the corner counts the values it leaves off and gives their range. Non-finite values
    are not drawn.
    """
    x, y = np.asarray(steps, np.float64), np.asarray(values, np.float64)
    if x.shape != y.shape or x.ndim != 1 or len(x) == 0:
        raise ValueError(f"a curve needs two equal 1-D series of at least 1 point, got {x.shape} and {y.shape}")
    finite = np.isfinite(y)
    # Agg truncates the figure's size to whole pixels: half a pixel more keeps float error from losing one.
    figure = Figure(figsize=((width + 0.5) / _DPI, (height + 0.5) / _DPI), dpi=_DPI, layout="constrained")
    canvas = FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    few = finite.sum() < _ROBUST_MIN_POINTS
    axes.plot(x[finite], y[finite], color=LINE_COLOR, linewidth=1.2, marker="o" if few else None, markersize=3)

    # From image 0: the first logged point is a logging window in, and the start is where a run begins.
    x_lo, x_hi = min(float(x.min()), 0.0), float(x.max())
    axes.set_xlim(*((x_lo, x_hi) if x_hi > x_lo else (x_lo - 1.0, x_hi + 1.0)))
    y_lo, y_hi = y_view(y)
    axes.set_ylim(y_lo, y_hi)
    outside = y[finite][(y[finite] < y_lo) | (y[finite] > y_hi)]
    if len(outside):
        span = f"{outside[0]:.3g}" if len(outside) == 1 else f"{outside.min():.3g} .. {outside.max():.3g}"
        axes.text(
            0.99,
            0.97,
            f"{len(outside)} outlying value{'s' if len(outside) > 1 else ''} off scale: {span}",
            transform=axes.transAxes,
            ha="right",
            va="top",
            fontsize=7,
            color="0.35",
        )
    if not finite.any():
        axes.text(0.5, 0.5, "no finite values", transform=axes.transAxes, ha="center", va="center", fontsize=9)

    axes.xaxis.set_major_locator(ticker.MaxNLocator(nbins=6, integer=True))
    axes.xaxis.set_major_formatter(ticker.EngFormatter(sep=""))  # 60k, 1.2M: image counts read at a glance
    axes.tick_params(labelsize=8)
    axes.yaxis.get_offset_text().set_fontsize(7)
    axes.grid(True, color="0.88", linewidth=0.6)
    axes.set_xlabel(xlabel, fontsize=8)
    axes.set_ylabel(ylabel, fontsize=8)
    if title:
        axes.set_title(title, fontsize=9)
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[:height, :width, :3].copy()

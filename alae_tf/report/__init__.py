"""The evaluation report: `WORKDIR/report/report.md` and its PNG figures.

Figures (EMA nets unless told otherwise, all at the model's current resolution):

- `samples.png`: G(F(z)) for fixed z, without truncation;
- `samples_truncated.png`: the same z with w moved towards `dlatent_avg` by psi (style nets
  truncate only their first `truncation_cutoff` style layers, as `ALAE.generate` does);
- `reconstructions.png`: test images, each followed by G(E(x));
- `interpolation.png`: one row per pair of test images `a`, `b`: `a`, then
  G((1 - t) E(a) + t E(b)) for t = 0 .. 1, then `b`;
- `curve_<tag>.png`: each training scalar (losses, images/s) over images seen, read from
  the TensorBoard event files in `WORKDIR/logs`.

One job a module:

- `scalars`: reads the TensorBoard scalars of a run (`read_scalars`);
- `figures`: the model's samples, reconstructions and interpolations, tiled into image grids;
- `curves`: a training curve as an image, drawn by matplotlib;
- `markdown`: the text of report.md (header, metric and quality-bar tables, figure links);
- `writer`: `write_report`, which draws all of it and writes the folder atomically.

The names below are re-exported so `alae_tf.report.write_report(...)` and friends keep working.
"""

from alae_tf.report.curves import curve_image, y_view
from alae_tf.report.figures import (
    image_grid,
    interpolation_images,
    reconstruction_images,
    sample_images,
    tile_zoom,
    zoom,
)
from alae_tf.report.markdown import report_markdown, split_results
from alae_tf.report.scalars import read_scalars
from alae_tf.report.writer import CURVE_TAGS, CURVE_TITLES, DEFAULT_TRUNCATION_PSI, REPORT_DIR, curve_tags, write_report

__all__ = [
    "CURVE_TAGS",
    "CURVE_TITLES",
    "DEFAULT_TRUNCATION_PSI",
    "REPORT_DIR",
    "curve_image",
    "curve_tags",
    "image_grid",
    "interpolation_images",
    "read_scalars",
    "reconstruction_images",
    "report_markdown",
    "sample_images",
    "split_results",
    "tile_zoom",
    "write_report",
    "y_view",
    "zoom",
]

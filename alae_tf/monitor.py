"""Training monitor: progress bar, TensorBoard scalars and image grids."""

import time

import keras
import numpy as np
import tensorflow as tf

from alae_tf import image_grids as image_utils
from alae_tf import storage


class TrainingMonitor(keras.callbacks.Callback):
    """Logs every `log_every_steps` steps; draws sample and reconstruction grids on demand.

    Scalars (the loss means over the last window, `images_per_second`) go to
    TensorBoard under `WORKDIR/logs` with the image count as the step. Grids
    (EMA nets, fixed z and fixed real images) go to `WORKDIR/grids/` as PNG,
    the newest also to `WORKDIR/samples.png` and `WORKDIR/reconstructions.png`,
    and to TensorBoard.

    Args:
        workdir: run folder.
        total_steps: the run's last step (for the progress bar).
        pixel_range: range of model images.
        fixed_z: `[n, latent]` latents for the sample grid.
        fixed_images: `[m, H, W, C]` real images (pixel range, full resolution:
            pooled to the model's current level) for reconstructions.
        log_every_steps: logging period.
        verbose: 0 silent, 1 progress bar.
    """

    def __init__(self, workdir, total_steps, pixel_range, fixed_z, fixed_images, log_every_steps=50, verbose=1):
        super().__init__()
        self.workdir = storage.path(workdir)
        self.total_steps = int(total_steps)
        self.pixel_range = tuple(pixel_range)
        self.fixed_z = fixed_z
        self.fixed_images = fixed_images
        self.log_every_steps = int(log_every_steps)
        self.verbose = int(verbose)
        self.writer = tf.summary.create_file_writer(str(self.workdir / "logs"))
        self.progbar = None
        self._window_start = None

    def on_train_begin(self, logs=None):
        if self.verbose and self.progbar is None:
            self.progbar = keras.utils.Progbar(
                self.total_steps, stateful_metrics=["images_per_second"], unit_name="step"
            )
        self._window_start = (time.perf_counter(), int(self.model.images_seen.numpy()))

    def on_train_batch_end(self, batch, logs=None):
        step = int(self.model.step.numpy())
        if step % self.log_every_steps and step != self.total_steps:
            return
        now, images = time.perf_counter(), int(self.model.images_seen.numpy())
        start_time, start_images = self._window_start
        values = {k: float(v) for k, v in (logs or {}).items()}
        values["images_per_second"] = (images - start_images) / max(now - start_time, 1e-9)
        with self.writer.as_default(step=images):
            for name, value in values.items():
                tf.summary.scalar(name, value)
        if self.progbar is not None:
            self.progbar.update(step, list(values.items()))
        self.model.reset_metrics()
        self._window_start = (time.perf_counter(), images)

    def write_grids(self):
        """Sample and reconstruction grids of the EMA nets at the current image count."""
        images = int(self.model.images_seen.numpy())
        # Truncated as the preset says (samples only), with fixed noise so grids are comparable.
        generated = self.model.generate(self.fixed_z, truncation_psi=self.model.truncation_psi, noise_seed=(0, 0))
        samples = image_utils.to_uint8(generated, self.pixel_range)
        fixed_images = self.model.at_current_resolution(self.fixed_images)
        recon = image_utils.to_uint8(self.model.reconstruct(fixed_images, noise_seed=(0, 1)), self.pixel_range)
        real = image_utils.to_uint8(fixed_images, self.pixel_range)
        grids = {
            "samples": image_utils.grid(samples),
            "reconstructions": image_utils.grid(image_utils.interleave(real, recon), columns=16),
        }
        for name, picture in grids.items():
            image_utils.write_png(self.workdir / "grids" / f"{name}_{images:09d}.png", picture)
            image_utils.write_png(self.workdir / f"{name}.png", picture)
        with self.writer.as_default(step=images):
            for name, picture in grids.items():
                tf.summary.image(name, picture[np.newaxis])
        self.writer.flush()

"""A run folder opened for use after training: its config, its restored nets at their level, its data.

Everything downstream of training (evaluation, export, editing, benchmarks) opens a workdir
here, so none of them imports the training loop. A workdir is what `alae-train` (or
`alae-convert`) writes: `config.json` and `checkpoints/`.
"""

from __future__ import annotations

import dataclasses
import pathlib

import numpy as np
import tensorflow as tf

from alae_tf import builders, data, storage
from alae_tf.checkpoint import CheckpointError, CheckpointManager
from alae_tf.configs import ALAEConfig
from alae_tf.layers import downsample_avg_to
from alae_tf.model import ALAE


@dataclasses.dataclass(frozen=True)
class Run:
    """A restored run.

    Attributes:
        path: the workdir.
        config: the config it trained with (`config.json`).
        model: its compiled `ALAE`, newest checkpoint restored, style nets at the level
            and blend of the last batch they trained.
        meta: the checkpoint's metadata (`step`, `images_seen`, ...).
    """

    path: pathlib.Path
    config: ALAEConfig
    model: ALAE
    meta: dict

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """`(r, r, C)`: the shape the nets read and write at their level."""
        return (self.model.resolution, self.model.resolution, self.config.image_shape[2])

    def load_split(self, split: str, data_dir: str | None = None) -> data.ImageSet:
        """`split` of the run's dataset as uint8 images at the nets' level (`pool_to_resolution`)."""
        image_set = data.load_split(self.config.dataset, split, self.config.image_shape, data_dir=data_dir)
        return dataclasses.replace(image_set, images=pool_to_resolution(image_set.images, self.model.resolution))


def read_config(workdir: str | pathlib.Path) -> ALAEConfig:
    """The `ALAEConfig` a workdir trained with.

    Raises:
        CheckpointError: no config.json in `workdir`, or one this version cannot read.
    """
    path = storage.path(workdir) / "config.json"
    if not path.exists():
        raise CheckpointError(f"{workdir} has no config.json: train into it first (alae-train --workdir={workdir} ...)")
    try:
        return ALAEConfig.from_json(path.read_text())
    except (ValueError, TypeError) as error:  # JSONDecodeError is a ValueError
        raise CheckpointError(f"{path} cannot be read as an alae-tf config: {error}") from None


def open_run(workdir: str | pathlib.Path) -> Run:
    """The run in `workdir`, its newest checkpoint restored.

    Raises:
        CheckpointError: no config or no checkpoint in `workdir`, or a checkpoint of other nets.
    """
    workdir = storage.path(workdir)
    config = read_config(workdir)
    model = builders.build_compiled_model(config)
    meta = CheckpointManager(workdir, model, config).restore()
    if meta is None:
        raise CheckpointError(f"{workdir} has no checkpoint: train into it first")
    builders.place_at_trained_level(model, config)
    return Run(workdir, config, model, meta)


def pool_to_resolution(images_uint8: np.ndarray, resolution: int, batch_size: int = 500) -> np.ndarray:
    """uint8 `[N, H, W, C]` pooled (2x2 average per halving, as training feeds a level) to `[N, r, r, C]`.

    Images already at `resolution` are returned as they are. Pooling is linear, so pooling the
    uint8 values equals pooling in the pixel range and mapping back; the only change is rounding
    to uint8 again (at most half a grey level), as a per-level dataset has.
    """
    if images_uint8.shape[1] == resolution:
        return images_uint8
    parts = []
    for start in range(0, len(images_uint8), batch_size):
        pooled = downsample_avg_to(tf.cast(images_uint8[start : start + batch_size], tf.float32), resolution)
        parts.append(np.clip(np.rint(pooled.numpy()), 0, 255).astype(np.uint8))
    return np.concatenate(parts)

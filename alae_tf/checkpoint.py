"""Atomic, resumable checkpoints of an `ALAE` and its two optimizers in a workdir.

Layout: `WORKDIR/checkpoints/step-000001234/{ckpt.index, ckpt.data-*, meta.json}`.
Each checkpoint is written into a temp folder and renamed into place, so a
run killed mid-write leaves the previous checkpoint intact; `meta.json` holds
the config it was trained with, so a workdir is never resumed by nets of
another architecture.
"""

import json
import pathlib
import re
import shutil

import tensorflow as tf

from alae_tf import atomic

_STEP_DIR = re.compile(r"^step-(\d{9})$")


def _by_path(variables):
    # Keyed by Keras variable path ("encoder/dense_0/kernel"): TF's object-graph
    # tracking does not see Keras' tracked lists of sublayers, so a plain
    # tf.train.Checkpoint(model=...) would silently skip the EMA nets.
    table = {v.path: v for v in variables}
    if len(table) != len(variables):
        raise ValueError("variable paths are not unique; name the nets and layers")
    return table


def _loss_scaled(model):
    """`{"ed": optimizer, "fg": optimizer}` for the optimizers wrapped in a LossScaleOptimizer."""
    pairs = (("ed", model.ed_optimizer), ("fg", model.fg_optimizer))
    return {name: opt for name, opt in pairs if hasattr(opt, "inner_optimizer")}


def _adam(optimizer):
    return getattr(optimizer, "inner_optimizer", optimizer)


class CheckpointError(RuntimeError):
    """A checkpoint cannot be used here (other architecture, unreadable)."""


class CheckpointManager:
    """Saves and restores `model`, `model.ed_optimizer`, `model.fg_optimizer`.

    Args:
        workdir: the run's folder.
        model: a compiled `ALAE`.
        config: the `ALAEConfig` of `model` (its architecture is checked on restore).
        keep: how many checkpoints to keep.
    """

    def __init__(self, workdir, model, config, keep=3):
        self.directory = pathlib.Path(workdir) / "checkpoints"
        self.model = model
        self.config = config
        self.keep = int(keep)
        self._checkpoint = tf.train.Checkpoint(
            # blend is derived state (the schedule at images_seen, set before every step),
            # so it is not stored: checkpoints stay the same for MLP and style runs.
            model=_by_path([v for v in model.weights if v is not model.blend]),
            # Adam's state only: the same checkpoint serves every precision. A
            # float16 run's loss scales (two numbers) go to meta.json.
            ed_optimizer=_by_path(_adam(model.ed_optimizer).variables),
            fg_optimizer=_by_path(_adam(model.fg_optimizer).variables),
        )

    def all(self):
        """Completed checkpoint folders, oldest first."""
        if not self.directory.is_dir():
            return []
        return sorted(p for p in self.directory.iterdir() if p.is_dir() and _STEP_DIR.match(p.name))

    def latest(self):
        found = self.all()
        return found[-1] if found else None

    def save(self):
        """Write a checkpoint of the current step; returns its folder."""
        step = int(self.model.step.numpy())
        final = self.directory / f"step-{step:09d}"
        with atomic.directory(final, overwrite=True) as tmp:
            self._checkpoint.write(str(tmp / "ckpt"))
            meta = {
                "step": step,
                "images_seen": int(self.model.images_seen.numpy()),
                "config": json.loads(self.config.to_json()),
                "loss_scales": {
                    name: {"scale": float(opt.dynamic_scale.numpy()), "counter": int(opt.step_counter.numpy())}
                    for name, opt in _loss_scaled(self.model).items()
                },
            }
            (tmp / "meta.json").write_text(json.dumps(meta, indent=2, sort_keys=True))
        for old in self.all()[: -self.keep]:
            shutil.rmtree(old, ignore_errors=True)
        return final

    def check_architecture(self, path):
        meta = json.loads((path / "meta.json").read_text())
        want = json.loads(self.config.to_json())
        # Fields added after a checkpoint was written hold their defaults there.
        defaults = json.loads(type(self.config)(name=self.config.name).to_json())
        saved = {**defaults, **meta["config"]}
        differ = [k for k in self.config.architecture() if saved.get(k) != want.get(k)]
        if differ:
            details = ", ".join(f"{k}: {saved.get(k)} in the checkpoint vs {want.get(k)} now" for k in differ)
            raise CheckpointError(
                f"{path} holds a checkpoint of another architecture ({details}). "
                f"Use a new --workdir, or the preset and flags it was trained with "
                f"(preset {saved.get('name')!r}; see its meta.json)."
            )
        return meta

    def restore(self, path=None):
        """Restore `path` (default: the latest). Returns its meta, or None if there is none."""
        path = path or self.latest()
        if path is None:
            return None
        meta = self.check_architecture(path)
        try:
            self._checkpoint.read(str(path / "ckpt")).assert_consumed()
        except (ValueError, AssertionError, tf.errors.OpError) as e:
            raise CheckpointError(f"cannot restore {path}: {e}. Use a new --workdir.") from e
        # A run that switches to float16 here starts from the initial scales.
        for name, opt in _loss_scaled(self.model).items():
            saved = meta.get("loss_scales", {}).get(name)
            if saved is not None:
                opt.dynamic_scale.assign(saved["scale"])
                opt.step_counter.assign(saved["counter"])
        return meta

"""Atomic, resumable checkpoints of an `ALAE` and its two optimizers in a workdir.

Layout: `WORKDIR/checkpoints/step-000001234/{ckpt.index, ckpt.data-*, meta.json}`.
Each checkpoint is written into a temp folder and renamed into place, so a
run killed mid-write leaves the previous checkpoint intact; `meta.json` holds
the config it was trained with, so a workdir is never resumed by nets of
another architecture.

A checkpoint damaged after it was written (a data file cut short by a full disk
or a crashed copy, flipped bits, a lost meta.json) is not a reason to give a
run up: `restore` verifies the newest, and when it does not restore cleanly or
its meta disagrees with what it restored, says which and why in one line, moves
it to `checkpoints/damaged/` (when training) and falls back to the next newest.
Nothing intact is ever deleted because of a damaged one, and `keep` counts
intact checkpoints only.
"""

import json
import re

import tensorflow as tf
from absl import logging

from alae_tf import atomic, storage

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


class CheckpointWriteError(CheckpointError):
    """A checkpoint could not be written (disk full, read-only folder): nothing partial is left."""


class DamagedCheckpointError(CheckpointError):
    """A checkpoint's files do not restore cleanly, or its meta.json disagrees with them."""


class CheckpointManager:
    """Saves and restores `model`, `model.ed_optimizer`, `model.fg_optimizer`.

    Args:
        workdir: the run's folder.
        model: a compiled `ALAE`.
        config: the `ALAEConfig` of `model` (its architecture is checked on restore).
        keep: how many checkpoints to keep.
    """

    def __init__(self, workdir, model, config, keep=3):
        self.directory = storage.path(workdir) / "checkpoints"
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
        """Write a checkpoint of the current step; returns its folder.

        Raises:
            CheckpointWriteError: the folder cannot be written (disk full, read-only, permissions). Nothing
                partial is left, and the previous checkpoints are untouched.
        """
        step = int(self.model.step.numpy())
        final = self.directory / f"step-{step:09d}"
        try:
            # meta.json last: on object storage the folder is copied into place, and a folder without it is
            # never taken for a checkpoint (`_read_meta`).
            with atomic.directory(final, overwrite=True, commit_last=("meta.json",)) as tmp:
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
        except (OSError, tf.errors.OpError) as e:
            cause = getattr(e, "strerror", None) or getattr(e, "message", None) or str(e)
            previous = self.latest()
            kept = f"the newest checkpoint, {previous}, is intact" if previous else "there is no earlier checkpoint"
            raise CheckpointWriteError(
                f"cannot write checkpoint {final}: {str(cause).strip().splitlines()[0][:300]}; {kept}. Free disk "
                f"space or fix the permissions of {self.directory}, then rerun to resume."
            ) from e
        for old in self.all()[: -self.keep]:
            storage.rmtree(old, ignore_errors=True)
        return final

    @property
    def damaged_directory(self):
        """Where damaged checkpoints are moved: `WORKDIR/checkpoints/damaged/`."""
        return self.directory / "damaged"

    def damaged(self):
        """Checkpoint folders moved aside as damaged, oldest first."""
        folder = self.damaged_directory
        return sorted(p for p in folder.iterdir() if p.is_dir()) if folder.is_dir() else []

    def remove_stale_temps(self):
        """Delete the temp folders of checkpoint writes a killed run left behind (`.step-*.tmp`).

        Only for the workdir's one writer (`alae_tf.workdir_lock`): a live writer's temp folder
        would go too.
        """
        if self.directory.is_dir():
            for stale in self.directory.glob(".step-*.tmp"):
                storage.rmtree(stale, ignore_errors=True)

    def _read_meta(self, path):
        try:
            meta = json.loads((path / "meta.json").read_text())
        except FileNotFoundError as e:
            raise DamagedCheckpointError("meta.json is missing") from e
        except (OSError, ValueError) as e:  # unreadable, or not JSON (cut short, bits flipped)
            raise DamagedCheckpointError(f"meta.json is unreadable: {e}") from e
        if not isinstance(meta, dict) or not {"step", "images_seen", "config"} <= set(meta):
            raise DamagedCheckpointError("meta.json lacks step, images_seen or config")
        return meta

    def check_architecture(self, path, meta=None):
        meta = self._read_meta(path) if meta is None else meta
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

    def _restore_one(self, path):
        """Restore `path` and check it against its meta. Raises `DamagedCheckpointError` if it is damaged."""
        meta = self._read_meta(path)
        self.check_architecture(path, meta)  # another architecture is the user's mistake, not damage
        try:
            self._checkpoint.read(str(path / "ckpt")).assert_consumed()
        except Exception as e:  # a torn file fails anywhere in TF's reader: IndexError, DataLossError, ...
            cause = str(e).strip().splitlines()[0] if str(e).strip() else ""
            raise DamagedCheckpointError(f"its weights do not restore ({type(e).__name__}: {cause[:300]})") from e
        restored = {"step": int(self.model.step.numpy()), "images_seen": int(self.model.images_seen.numpy())}
        named = _STEP_DIR.match(path.name)
        if restored != {k: meta[k] for k in restored} or (named is not None and int(named.group(1)) != meta["step"]):
            raise DamagedCheckpointError(
                f"its meta.json (step {meta['step']}, {meta['images_seen']} images) disagrees with its folder "
                f"name or its weights (step {restored['step']}, {restored['images_seen']} images)"
            )
        # A run that switches to float16 here starts from the initial scales.
        for name, opt in _loss_scaled(self.model).items():
            saved = meta.get("loss_scales", {}).get(name)
            if saved is not None:
                opt.dynamic_scale.assign(saved["scale"])
                opt.step_counter.assign(saved["counter"])
        return meta

    def _set_aside(self, path):
        self.damaged_directory.mkdir(parents=True, exist_ok=True)
        target, n = self.damaged_directory / path.name, 1
        while target.exists():  # the same step damaged twice (e.g. after a resume rewrote it)
            target, n = self.damaged_directory / f"{path.name}.{n}", n + 1
        path.rename(target)
        return target

    def restore(self, path=None, set_aside_damaged=False):
        """Restore `path`, or the newest intact checkpoint. Returns its meta, or None if there is none.

        Without `path`, checkpoints are tried newest first; each damaged one is named in a warning
        (and with `set_aside_damaged`, moved to `checkpoints/damaged/`: only the workdir's writer
        should) and the next older one tried.

        Raises:
            CheckpointError: another architecture's checkpoint, or `path` unusable.
            DamagedCheckpointError: `path` is damaged, or every checkpoint is (also those moved aside
                before): the run will not silently start over.
        """
        if path is not None:
            return self._restore_one(storage.path(path))
        for candidate in reversed(self.all()):
            try:
                meta = self._restore_one(candidate)
            except DamagedCheckpointError as e:
                if set_aside_damaged:
                    moved = self._set_aside(candidate)
                    logging.warning("checkpoint %s is damaged: %s; moved to %s", candidate, e, moved)
                else:
                    logging.warning("checkpoint %s is damaged: %s; skipped", candidate, e)
                continue
            return meta
        damaged = self.damaged() if set_aside_damaged else [p for p in self.all()]
        if damaged:
            raise DamagedCheckpointError(
                f"no intact checkpoint in {self.directory}: the damaged ones are in "
                f"{self.damaged_directory if set_aside_damaged else self.directory} "
                f"({', '.join(p.name for p in damaged)}). Restore a copy of the run, or delete them to "
                "start over from scratch."
            )
        return None

"""Evaluation behind `python -m alae_tf.evaluate`: restore a workdir, run metrics, write metrics.json."""

import json
import pathlib

from alae_tf import atomic, configs, metrics
from alae_tf.checkpoint import CheckpointError, CheckpointManager
from alae_tf.training import build_compiled_model, load_training_images, position_model

DEFAULT_METRICS = ("knn5", "recon_mse")


def load_workdir(workdir):
    """`(config, model, meta)` for the newest checkpoint in `workdir` (style nets at their trained level).

    Raises:
        CheckpointError: no config or no checkpoint in `workdir`.
    """
    workdir = pathlib.Path(workdir)
    config_path = workdir / "config.json"
    if not config_path.exists():
        raise CheckpointError(f"{workdir} has no config.json: train into it first (python -m alae_tf.train --workdir={workdir} ...)")
    config = configs.ALAEConfig.from_json(config_path.read_text())
    model = build_compiled_model(config)
    meta = CheckpointManager(workdir, model, config).restore()
    if meta is None:
        raise CheckpointError(f"{workdir} has no checkpoint: train into it first")
    position_model(model, config)
    return config, model, meta


def evaluate(workdir, metric_names=DEFAULT_METRICS, split="test", data_dir=None, use_ema=True, batch_size=500):
    """Compute `metric_names` for the run in `workdir`; writes and returns `WORKDIR/metrics.json`'s dict."""
    config, model, meta = load_workdir(workdir)
    train_set = load_training_images(config, "train", data_dir)
    test_set = load_training_images(config, split, data_dir)
    ctx = metrics.EvalContext(
        model=model,
        train_images=train_set.images, train_labels=train_set.labels,
        test_images=test_set.images, test_labels=test_set.labels,
        pixel_range=config.pixel_range, batch_size=batch_size, use_ema=use_ema,
    )
    results = metrics.compute(list(metric_names), ctx)
    report = {
        "images_seen": meta["images_seen"],
        "step": meta["step"],
        "nets": "ema" if use_ema else "trained",
        "split": split,
        "dataset": config.dataset,
        "preset": config.name,
        **results,
    }
    atomic.write_text(pathlib.Path(workdir) / "metrics.json", json.dumps(report, indent=2, sort_keys=True))
    return report

"""Evaluation behind `alae-evaluate`: restore a workdir, run metrics, write
`metrics.json` and the report (`alae_tf.report`).

Style nets are evaluated at the level they trained last: every image (train and evaluation
split) is first pooled to that level's resolution, as training feeds them, so each metric
sees images of the shape the nets read and write.
"""

import dataclasses
import json
import pathlib
import time
from collections.abc import Sequence

from alae_tf import atomic, metrics, storage
from alae_tf import features as features_lib
from alae_tf import report as report_lib
from alae_tf import workdir as workdir_lib
from alae_tf.metrics import editing as editing_metrics

DEFAULT_METRICS = ("knn5", "recon_mse")
# The `EvalContext` fields a caller may set: sample counts and metric parameters. The report
# states every one of them.
CONTEXT_OPTIONS = (
    "num_samples",
    "kid_subsets",
    "kid_subset_size",
    "ppl_samples",
    "ppl_epsilon",
    "svm_steps",
    "svm_l2",
    "seed",
)


def load_features(feature_net: str | None = None, inception_weights: str | None = None):
    """The feature network of FD / KID / PPL from the files the user gave, or None for neither.

    Args:
        feature_net: a classifier saved by `alae-train-judge` (.keras).
        inception_weights: Inception-v3 `include_top=False` ImageNet weights (.h5).
    Raises:
        ValueError: both were given.
        features.FeatureError: the file is missing or unreadable.
    """
    if feature_net and inception_weights:
        raise ValueError(
            "give one feature network: --feature_net (the project's classifier) or "
            "--inception_weights (Inception-v3), not both"
        )
    if inception_weights:
        return features_lib.InceptionFeatures(inception_weights)
    if feature_net:
        return features_lib.load_feature_extractor(feature_net)
    return None


def check_metrics(metric_names, features):
    """Refuse, before anything slow, metrics that are unknown or lack their feature network.

    Raises:
        ValueError: the message names the metrics and the fix.
    """
    unknown = [n for n in metric_names if n not in metrics.METRICS]
    if unknown:
        raise ValueError(f"unknown metrics {unknown}; known: {sorted(metrics.METRICS)}")
    if not metric_names:
        raise ValueError("no metrics asked for")
    if features is None:
        wanting = [n for n in metric_names if "features" in metrics.NEEDS[n]]
        if wanting:
            raise ValueError(
                f"{_names_need(wanting)} a feature network: train one with `alae-train-judge "
                f"--dataset=... --output=FILE.keras` and pass --feature_net=FILE.keras "
                f"(or pass Inception-v3 weights with --inception_weights=FILE.h5)"
            )


def check_labels(metric_names, *image_sets):
    """Refuse metrics that need labels when a split has none (`data.ImageSet`s)."""
    wanting = [n for n in metric_names if "labels" in metrics.NEEDS[n]]
    unlabelled = [s.name for s in image_sets if s.labels is None]
    if wanting and unlabelled:
        raise ValueError(
            f"{_names_need(wanting)} labels; {' and '.join(unlabelled)} "
            f"{'has' if len(unlabelled) == 1 else 'have'} none"
        )


def _names_need(names):
    return f"{', '.join(names)} need{'s' if len(names) == 1 else ''}"


def check_feature_shape(features, image_shape):
    """Refuse a classifier that reads another image shape than the model makes (before any metric runs)."""
    wanted = getattr(features, "input_shape", None)  # Inception resizes anything, so it has none
    if wanted is not None and tuple(wanted) != tuple(image_shape):
        raise features_lib.FeatureError(
            f"feature network {features.name} reads images of shape {tuple(wanted)}, the model makes "
            f"{tuple(image_shape)}: train one at the model's resolution and channels "
            f"(alae-train-judge --resolution={image_shape[0]} --channels={image_shape[2]} ...)"
        )


def context_options(options: dict | None = None) -> dict:
    """Every `CONTEXT_OPTIONS` value: `options` (a dict) over `EvalContext`'s defaults.

    Raises:
        ValueError: an unknown option name.
    """
    options = dict(options or {})
    unknown = sorted(set(options) - set(CONTEXT_OPTIONS))
    if unknown:
        raise ValueError(f"unknown evaluation options {unknown}; known: {CONTEXT_OPTIONS}")
    defaults = {f.name: f.default for f in dataclasses.fields(metrics.EvalContext) if f.name in CONTEXT_OPTIONS}
    return {name: options.get(name, defaults[name]) for name in CONTEXT_OPTIONS}


def evaluate(
    workdir: str | pathlib.Path,
    metric_names: Sequence[str] = DEFAULT_METRICS,
    split: str = "test",
    data_dir: str | None = None,
    use_ema: bool = True,
    batch_size: int = 500,
    features=None,
    options: dict | None = None,
    report: bool = True,
    truncation_psi: float | None = None,
) -> dict:
    """Compute `metric_names` for the run in `workdir`; writes `WORKDIR/metrics.json` and returns its dict.

    Args:
        workdir: a run folder written by `alae-train`.
        metric_names: names from `metrics.METRICS`.
        split: the evaluation split (k-NN and SVM are fitted on "train").
        data_dir: overrides the dataset's default location.
        use_ema: evaluate (and draw) the EMA nets, or the trained ones.
        batch_size: inference batch size.
        features: the feature network of FD / KID / PPL (`load_features`), or None.
        options: `{name: value}` of `CONTEXT_OPTIONS` (sample counts ...); others keep
            `EvalContext`'s defaults.
        report: also write `WORKDIR/report/` (report.md and figures, `alae_tf.report`).
        truncation_psi: psi of the truncated sample grid (None: the preset's, else 0.7).

    Returns:
        The metric results (flat, as the metrics name them) with: images_seen, step, nets,
        split, dataset, preset, resolution, level, blend, train_images, eval_images, metrics
        (names run), features (`{name, source}` or None), options (every context option and
        the batch size), seconds (per metric), seconds_total, and report (report.md's path).

    Raises:
        ValueError: unknown metrics or options, a metric without its feature network or
            labels (checked before anything slow), or a feature network of another shape.
        CheckpointError, data.DatasetError: no usable checkpoint or dataset.
    """
    start = time.perf_counter()
    metric_names = list(metric_names)
    check_metrics(metric_names, features)
    resolved = context_options(options)
    run = workdir_lib.open_run(workdir)
    config, model, meta, image_shape = run.config, run.model, run.meta, run.image_shape
    if features is not None:
        check_feature_shape(features, image_shape)
    train_set, test_set = run.load_split("train", data_dir), run.load_split(split, data_dir)
    check_labels(metric_names, train_set, test_set)
    train_images, test_images = train_set.images, test_set.images
    ctx = metrics.EvalContext(
        model=model,
        train_images=train_images,
        train_labels=train_set.labels,
        test_images=test_images,
        test_labels=test_set.labels,
        pixel_range=config.pixel_range,
        batch_size=batch_size,
        use_ema=use_ema,
        features=features,
        **resolved,
    )
    by_metric, seconds = {}, {}
    for name in metric_names:
        # One at a time, to time each; shared work (encoding the splits, real-image features)
        # is counted in the first metric that needs it.
        metric_start = time.perf_counter()
        by_metric[name] = metrics.compute([name], ctx)
        seconds[name] = time.perf_counter() - metric_start
    summary = {
        "images_seen": meta["images_seen"],
        "step": meta["step"],
        "nets": "ema" if use_ema else "trained",
        "split": split,
        "dataset": config.dataset,
        "preset": config.name,
        "resolution": f"{image_shape[0]}x{image_shape[1]}",
        "level": model.level,
        "blend": float(model.blend.numpy()) if model.is_style else None,
        "train_images": len(train_images),
        "eval_images": len(test_images),
        "metrics": metric_names,
        "features": None if features is None else {"name": features.name, "source": getattr(features, "source", None)},
        "options": {**resolved, "batch_size": batch_size},
        "seconds": seconds,
    }
    for results in by_metric.values():
        summary.update(results)
    workdir = storage.path(workdir)
    # Written before the figures too, so the numbers are kept if drawing them fails.
    summary["seconds_total"] = time.perf_counter() - start
    atomic.write_text(workdir / "metrics.json", json.dumps(summary, indent=2, sort_keys=True))
    if report:
        summary["report"] = str(
            report_lib.write_report(
                workdir,
                model,
                summary,
                by_metric,
                test_images,
                config.pixel_range,
                use_ema=use_ema,
                truncation_psi=truncation_psi,
                seed=resolved["seed"],
                test_labels=test_set.labels,
                **_class_edits(ctx, by_metric.get("class_edit")),
            )
        )
        summary["seconds_total"] = time.perf_counter() - start
        atomic.write_text(workdir / "metrics.json", json.dumps(summary, indent=2, sort_keys=True))
    return summary


def _class_edits(ctx, class_edit):
    """The report's class-edit grid arguments: the move of the kind the `class_edit` metric chose, on training codes."""
    if class_edit is None:
        return {}
    move = editing_metrics.context_class_edit_move(ctx, class_edit["class_edit_kind"])
    return {"class_move": move, "num_classes": ctx.require_judge().num_classes}

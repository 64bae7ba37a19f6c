"""`alae-evaluate` end to end on tiny runs: metrics.json, the report, style levels, clear errors.

The runs use a toy labelled dataset written as TFRecords (three classes, each bright in its
own horizontal band), so the tests need no downloaded data and take seconds.
"""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from alae_tf import atomic, builders, configs, data, evaluation, features, report, training
from alae_tf.checkpoint import CheckpointManager
from tests.conftest import REPO

TINY = configs.PRESETS["mnist_mlp_tiny"]
MUST_SHOW = ["knn1", "knn5", "svm", "recon", "fd", "kid"]
# Small enough for seconds; the report must state them.
OPTIONS = {"num_samples": 48, "kid_subsets": 4, "kid_subset_size": 16, "svm_steps": 20}
TRAIN_STEPS = 4  # of 16 images, logged after every step


def toy_images(n, seed, side=28):
    """uint8 `[n, side, side, 1]` and labels `[n]`: class c is bright in band c of three."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 3, n)
    images = rng.integers(0, 60, size=(n, side, side, 1))
    band = side // 3
    for i, label in enumerate(labels):
        images[i, label * band : (label + 1) * band] += 180
    return images.astype(np.uint8), labels.astype(np.int64)


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    """`(labelled spec, unlabelled spec, folder)` of the toy dataset (train 160, test 48 images)."""
    root = tmp_path_factory.mktemp("toy")
    for split, n, seed in (("train", 160, 0), ("test", 48, 1)):
        images, labels = toy_images(n, seed)
        data.write_tfrecords(str(root / f"toy-{split}.tfrecord"), images, labels)
        data.write_tfrecords(str(root / f"unlabelled-{split}.tfrecord"), images)
    return f"tfrecord:{root}/toy-{{split}}.tfrecord", f"tfrecord:{root}/unlabelled-{{split}}.tfrecord", root


def train_feature_net(spec, path):
    train_set, test_set = (data.load_images(spec, split) for split in ("train", "test"))
    model, _ = features.train_classifier(train_set, test_set, "toy_classifier", epochs=1, batch_size=32, verbose=0)
    features.save_classifier(model, path)
    return path


@pytest.fixture(scope="module")
def mlp_run(toy, tmp_path_factory):
    """`(workdir, feature net path)`: the tiny MLP trained TRAIN_STEPS steps on the toy data."""
    workdir = tmp_path_factory.mktemp("mlp_run")
    config = TINY.replace(dataset=toy[0])
    training.train(
        config,
        training.TrainOptions(
            workdir=str(workdir),
            train_images=TRAIN_STEPS * config.batch_size,
            checkpoint_every_images=32,
            log_every_steps=1,
            verbose=0,
        ),
    )
    return workdir, train_feature_net(toy[0], toy[2] / "toy_classifier.keras")


def png_shape(path):
    return tuple(tf.io.decode_png(path.read_bytes()).shape)


def test_must_show_metrics_and_report(mlp_run):
    workdir, feature_path = mlp_run
    extractor = evaluation.load_features(feature_net=feature_path)
    summary = evaluation.evaluate(workdir, MUST_SHOW, features=extractor, options=OPTIONS)

    saved = json.loads((workdir / "metrics.json").read_text())
    assert saved == json.loads(json.dumps(summary))
    for key in ("knn1_accuracy", "knn5_accuracy", "svm_accuracy"):
        assert 0.0 <= saved[key] <= 1.0, key
    assert 0.0 < saved["recon_mse"] < 1.0 and np.isfinite(saved["recon_psnr"]) and -1 <= saved["recon_ssim"] <= 1
    assert np.isfinite(saved["fd_toy_classifier"]) and np.isfinite(saved["kid_toy_classifier"])
    assert saved["fd_toy_classifier_samples"] == 48 and saved["kid_toy_classifier_subsets"] == 4
    assert saved["features"] == {"name": "toy_classifier", "source": str(feature_path)}
    assert saved["nets"] == "ema" and saved["images_seen"] == TRAIN_STEPS * TINY.batch_size
    assert saved["options"]["num_samples"] == 48 and saved["options"]["svm_steps"] == 20
    assert saved["options"]["ppl_samples"] == 10000  # not given: EvalContext's default, still stated
    assert set(saved["seconds"]) == set(MUST_SHOW)

    report_md = workdir / "report" / "report.md"
    assert saved["report"] == str(report_md)
    text = report_md.read_text()
    for name in MUST_SHOW:
        assert f"| `{name}` |" in text, name
    for key in (
        "knn1_accuracy",
        "knn5_accuracy",
        "svm_accuracy",
        "recon_mse",
        "recon_psnr",
        "recon_ssim",
        "fd_toy_classifier",
        "kid_toy_classifier",
        "kid_toy_classifier_std",
    ):
        assert f"`{key}`" in text, key
    assert "Feature network for FD / KID / PPL: `toy_classifier`" in text and str(feature_path) in text
    assert "**EMA**" in text and "num_samples=48" in text and "kid_subsets=4" in text
    assert "| `kid` | `kid_toy_classifier_subset_size` | 16 |" in text
    # The curves hold every logged step: one per training step.
    scalars = report.read_scalars(workdir / "logs")
    for tag in report.CURVE_TAGS:
        assert len(scalars[tag][0]) == TRAIN_STEPS, tag
        assert f"| `{tag}` | {TRAIN_STEPS} |" in text, tag
        assert png_shape(workdir / "report" / f"curve_{tag}.png") == (240, 480, 3)
    assert png_shape(workdir / "report" / "samples.png") == (2 * (8 * 29 + 1),) * 2 + (1,)
    assert png_shape(workdir / "report" / "reconstructions.png") == (2 * (4 * 29 + 1), 2 * (16 * 29 + 1), 1)


def test_options_and_missing_parts_fail_before_any_work(mlp_run, toy, tmp_path):
    workdir, feature_path = mlp_run
    with pytest.raises(ValueError, match=r"unknown evaluation options \['num_sample'\]"):
        evaluation.evaluate(tmp_path, ["knn5"], options={"num_sample": 5})  # checked before the workdir
    with pytest.raises(ValueError, match="fd, kid need a feature network.*--feature_net"):
        evaluation.evaluate(tmp_path, ["knn5", "fd", "kid"])
    with pytest.raises(ValueError, match="not both"):
        evaluation.load_features(feature_net=feature_path, inception_weights=feature_path)
    assert evaluation.load_features() is None
    # A run on unlabelled data: k-NN cannot be scored, and says why before encoding anything.
    unlabelled = tmp_path / "unlabelled"
    unlabelled.mkdir()
    os.symlink(workdir / "checkpoints", unlabelled / "checkpoints")
    config = configs.ALAEConfig.from_json((workdir / "config.json").read_text()).replace(dataset=toy[1])
    (unlabelled / "config.json").write_text(config.to_json())
    with pytest.raises(ValueError, match="knn5 needs labels; .*unlabelled-.*/train and .*/test have none"):
        evaluation.evaluate(unlabelled, ["recon", "knn5"])
    assert not (unlabelled / "metrics.json").exists()


TINY_STYLE = configs.PRESETS["faces_micro"].replace(name="style_eval_test", image_shape=(16, 16, 1), layer_count=3)


def test_style_nets_are_evaluated_at_their_level(toy, tmp_path):
    # A style run stopped at level 1 (8 px) of 3: checkpointed as training leaves it, without
    # training (the metrics' numbers do not matter here, their shapes do).
    config = TINY_STYLE.replace(dataset=toy[0])
    model = builders.build_compiled_model(config)
    model.images_seen.assign(2 * config.images_per_level)  # the last batch was level 1's last
    CheckpointManager(tmp_path, model, config).save()
    atomic.write_text(tmp_path / "config.json", config.to_json())

    # Untrained classifiers: only their input shapes matter here.
    full_size_net = features.ClassifierFeatures(features.build_classifier((16, 16, 1), 3, "toy_classifier"))
    with pytest.raises(features.FeatureError, match=r"\(16, 16, 1\).*\(8, 8, 1\).*--resolution=8"):
        evaluation.evaluate(tmp_path, ["fd"], features=full_size_net)

    level_net = features.ClassifierFeatures(features.build_classifier((8, 8, 1), 3, "toy_classifier"))
    summary = evaluation.evaluate(tmp_path, ["knn5", "recon", "fd"], features=level_net, options=OPTIONS)
    assert (summary["level"], summary["resolution"], summary["blend"]) == (1, "8x8", 1.0)
    assert summary["recon_ssim_filter_size"] == 8  # SSIM saw 8 px images
    assert np.isfinite(summary["fd_toy_classifier"]) and 0 <= summary["knn5_accuracy"] <= 1
    text = (tmp_path / "report" / "report.md").read_text()
    assert "level 1" in text and "No TensorBoard scalars" in text
    assert "truncation psi = 0.7, first 8 style layers" in text  # the preset's truncation
    # 8 px tiles are shown 8x: 32 pairs in rows of 16 tiles of (8 + 1) px.
    assert png_shape(tmp_path / "report" / "reconstructions.png") == (8 * (4 * 9 + 1), 8 * (16 * 9 + 1), 1)


def run_evaluate(*args):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=str(REPO))
    return subprocess.run(
        [sys.executable, "-m", "alae_tf.commands.evaluate", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=300,
    )


def test_binary_flags(mlp_run, tmp_path):
    workdir, feature_path = mlp_run
    result = run_evaluate(
        f"--workdir={workdir}",
        "--metrics=knn5,kid",
        f"--feature_net={feature_path}",
        "--num_samples=32",
        "--kid_subsets=3",
        "--kid_subset_size=8",
        "--noreport",
        "--truncation_psi=0.5",
    )
    assert result.returncode == 0, result.stderr[-2000:]
    saved = json.loads((workdir / "metrics.json").read_text())
    assert saved["kid_toy_classifier_subsets"] == 3 and saved["options"]["num_samples"] == 32
    assert "report" not in saved

    bad = [
        ((f"--feature_net={feature_path}", f"--inception_weights={feature_path}"), "not both"),
        ((f"--feature_net={tmp_path / 'absent.keras'}", "--metrics=fd"), "absent.keras not found"),
    ]
    for args, expect in bad:
        result = run_evaluate(f"--workdir={workdir}", *args)
        assert result.returncode != 0 and expect in result.stderr, (args, result.stderr[-2000:])
        assert "Traceback" not in result.stderr

"""`alae_tf.workdir`: opening a run after training, its data at the nets' level, clear errors."""

import json

import numpy as np
import pytest
import tensorflow as tf

from alae_tf import atomic, builders, configs, data, workdir
from alae_tf.checkpoint import CheckpointError, CheckpointManager
from alae_tf.layers import downsample_avg_to

TINY = configs.PRESETS["mnist_mlp_tiny"]


def _save_run(path, config, images_seen=4096):
    model = builders.build_compiled_model(config, seed=5)
    model.images_seen.assign(images_seen)
    model.step.assign(images_seen // 16)
    atomic.write_text(path / "config.json", config.to_json())
    CheckpointManager(path, model, config).save()
    return model


def test_open_run_restores_the_newest_checkpoint(tmp_path):
    saved = _save_run(tmp_path, TINY)
    run = workdir.open_run(tmp_path)
    assert run.config == TINY and run.meta["images_seen"] == 4096 and run.path == tmp_path
    assert run.image_shape == TINY.image_shape
    for a, b in zip(saved.ema_nets[1].weights, run.model.ema_nets[1].weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_open_run_refuses_a_folder_without_config_or_checkpoint(tmp_path):
    with pytest.raises(CheckpointError, match="no config.json.*alae-train"):
        workdir.open_run(tmp_path)
    atomic.write_text(tmp_path / "config.json", TINY.to_json())
    with pytest.raises(CheckpointError, match="no checkpoint"):
        workdir.open_run(tmp_path)


def test_open_run_refuses_a_config_it_cannot_read_and_names_the_fields(tmp_path):
    _save_run(tmp_path, TINY)
    fields = json.loads(TINY.to_json())
    atomic.write_text(tmp_path / "config.json", json.dumps({**fields, "real_cycle_weight": 1.0}))
    unknown = r"config.json cannot be read.*does not know: real_cycle_weight \(written"
    with pytest.raises(CheckpointError, match=unknown):
        workdir.open_run(tmp_path)
    atomic.write_text(tmp_path / "config.json", TINY.to_json()[:-5])
    with pytest.raises(CheckpointError, match="cannot be read as an alae-tf config"):
        workdir.open_run(tmp_path)
    atomic.write_text(tmp_path / "config.json", TINY.to_json())
    assert workdir.open_run(tmp_path).config == TINY


def test_a_style_run_opens_at_the_level_and_blend_of_its_last_batch(tmp_path):
    config = configs.PRESETS["faces_tiny"]
    schedule = config.growth_schedule()
    # Halfway through level 1's fade-in.
    images_seen = schedule.level_start(1) + int(schedule.fade_in_images(1) / 2)
    _save_run(tmp_path, config, images_seen)
    run = workdir.open_run(tmp_path)
    level, blend = schedule.last_batch_position(images_seen)
    assert run.model.level == level == 1
    assert float(run.model.blend.numpy()) == pytest.approx(blend) and 0.0 < blend < 1.0
    assert run.image_shape == (8, 8, 3)


def test_pool_to_resolution_is_the_training_pooling_rounded_to_uint8():
    images = np.random.default_rng(0).integers(0, 256, size=(7, 32, 32, 3), dtype=np.uint8)
    pooled = workdir.pool_to_resolution(images, 8, batch_size=3)  # batches do not change the result
    expected = downsample_avg_to(tf.cast(images, tf.float32), 8).numpy()
    assert pooled.dtype == np.uint8 and pooled.shape == (7, 8, 8, 3)
    assert np.max(np.abs(pooled - expected)) <= 0.5
    assert workdir.pool_to_resolution(images, 32) is images
    with pytest.raises(ValueError, match="by halving"):
        workdir.pool_to_resolution(images, 12)


def test_data_load_split_refuses_images_of_another_shape(tmp_path):
    folder = tmp_path / "imgs"
    folder.mkdir()
    for i in range(3):
        tf.io.write_file(str(folder / f"{i}.png"), tf.io.encode_png(np.full((16, 16, 3), 40 * i, np.uint8)))
    image_set = data.load_split(f"folder:{folder}", "train", (16, 16, 3))
    assert image_set.images.shape == (3, 16, 16, 3)
    with pytest.raises(data.DatasetError, match="the model wants"):
        data.load_split(f"folder:{folder}", "train", (16, 12, 3))

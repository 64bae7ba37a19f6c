"""Presets: every paper StyleALAE preset builds and trains a step; every flagfile parses."""

import dataclasses

import numpy as np
import pytest
import tensorflow as tf

from alae_tf import builders, configs
from tests.conftest import REPO

PAPER_PRESETS = ("ffhq", "celeba-hq256", "celeba", "bedroom", "mnist")


def one_level_zero_step(config):
    """Build `config`'s model, run one eager training step at level 0 on random data; returns (model, logs)."""
    model = builders.build_model(config, seed=0)
    model.compile(*builders.make_optimizers(config.learning_rates[0]))
    assert model.level == config.layer_count - 1  # built at full resolution: every level's layers exist
    assert model.generator.resolutions[-1] == config.image_shape[0]
    model.set_level(0)
    batch = tf.random.uniform((2, 4, 4, config.image_shape[2]), -1.0, 1.0, seed=1)
    before = [v.numpy().copy() for v in model.encoder.trainable_variables]
    logs = {k: float(v) for k, v in model.train_step(batch).items()}  # eager: no trace to pay for
    assert all(np.isfinite(v) for v in logs.values()), logs
    moved = [not np.array_equal(a, v.numpy()) for a, v in zip(before, model.encoder.trainable_variables)]
    assert any(moved)
    return model, logs


@pytest.mark.parametrize("name", PAPER_PRESETS)
def test_paper_preset_builds_and_steps_with_reduced_channels(name):
    preset = configs.PRESETS[name]
    model, _ = one_level_zero_step(preset.replace(start_channels=1, max_channels=4, latent_size=16))
    # Only channels and latent differ from the paper: depth, resolution and image channels are the preset's.
    assert len(model.generator.blocks) == len(model.encoder.blocks) == preset.layer_count
    assert model.generate(tf.zeros((1, 16))).shape == (1, 4, 4, preset.image_shape[2])


@pytest.mark.slow
@pytest.mark.parametrize("name", PAPER_PRESETS)
def test_paper_preset_builds_and_steps_at_full_width(name):
    one_level_zero_step(configs.PRESETS[name])


def test_unknown_model_and_inconsistent_shapes_are_refused():
    with pytest.raises(ValueError, match="unknown model"):
        builders.build_model(configs.PRESETS["faces_tiny"].replace(model="conv"))
    with pytest.raises(ValueError, match="does not fit layer_count"):
        builders.build_model(configs.PRESETS["faces_tiny"].replace(image_shape=(64, 64, 3)))


@pytest.mark.parametrize("flagfile", sorted((REPO / "flags").glob("*.cfg")), ids=lambda p: p.name)
def test_every_flagfile_parses_into_a_config(flagfile):
    from alae_tf import config_flags
    from alae_tf.commands import train

    try:
        train.FLAGS(["train", f"--flagfile={flagfile}", "--workdir=unused"])
        config = config_flags.config_from_flags()
    finally:
        train.FLAGS.unparse_flags()
    # The config is the named preset with exactly the file's overrides of preset fields.
    given = dict(
        line.removeprefix("--").split("=", 1) for line in flagfile.read_text().splitlines() if line[:2] == "--"
    )
    preset = configs.PRESETS[given["preset"]]
    assert config.name == given["preset"]
    fields = {f.name: f for f in dataclasses.fields(config)}
    overrides = {key: value for key, value in given.items() if key in fields}
    for key, value in overrides.items():
        assert str(getattr(config, key)) == value, (flagfile.name, key)
    assert config == preset.replace(**{key: getattr(config, key) for key in overrides})


def changed_from_the_paper(name):
    paper, preset = configs.PRESETS["mnist_mlp"], configs.PRESETS[name]
    return {k for k, v in dataclasses.asdict(preset).items() if getattr(paper, k) != v}


def test_the_demo_presets_differ_from_the_paper_only_where_benchmarks_quality_says():
    wide = {"name", "latent_size", "pixel_reconstruction_weight", "train_images"}
    fast = wide | {"hidden_units", "learning_rate", "r1_gamma", "r1_interval"}
    assert changed_from_the_paper("mnist_mlp_wide") == wide
    assert changed_from_the_paper("mnist_mlp_fast") == fast
    # The demo is the fast recipe's game, longer, with a refinement phase (and its edge term) at its end.
    refinement = {"refine_fraction", "refine_anchor_samples", "refine_edge_weight"}
    assert changed_from_the_paper("mnist_mlp_demo") == fast | refinement
    demo, fast_preset = configs.PRESETS["mnist_mlp_demo"], configs.PRESETS["mnist_mlp_fast"]
    game_only = dict(
        train_images=fast_preset.train_images, refine_fraction=0.0, refine_anchor_samples=0, refine_edge_weight=0.0
    )
    assert demo.replace(name=fast_preset.name, **game_only) == fast_preset

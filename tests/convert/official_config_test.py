"""Official YAML configs (podgorskiy/ALAE configs/*.yaml) -> the architecture of an ALAEConfig, without yacs."""

import json

import pytest
import yaml

from alae_tf import configs
from alae_tf.convert import ConversionError
from alae_tf.convert.official_config import config_from_official, official_model, read_official_config
from tests.conftest import FIXTURES

# The MODEL and TRAIN sections of the official configs/ffhq.yaml (the rest of the file is data paths).
FFHQ_YAML = """\
NAME: ffhq
MODEL:
  LATENT_SPACE_SIZE: 512
  LAYER_COUNT: 9
  MAX_CHANNEL_COUNT: 512
  START_CHANNEL_COUNT: 16
  DLATENT_AVG_BETA: 0.995
  MAPPING_LAYERS: 8
TRAIN:
  BASE_LEARNING_RATE: 0.002
  #                    4    8   16    32    64    128    256
  LOD_2_BATCH_1GPU: [512, 256, 128,   64,   32,    16]
  LEARNING_RATES: [0.0015,  0.0015,   0.0015,   0.0015,  0.0015,   0.0015,     0.002,     0.003,    0.003]
"""


def test_the_ffhq_config_gives_the_ffhq_presets_architecture(tmp_path):
    path = tmp_path / "ffhq.yaml"
    path.write_text(FFHQ_YAML)
    config = config_from_official(read_official_config(path), base=configs.PRESETS["ffhq"])
    preset = configs.PRESETS["ffhq"]
    for field in preset.architecture():
        assert getattr(config, field) == getattr(preset, field), field
    # Left out of the YAML: the official defaults (CHANNELS 3, psi 0.7, cutoff 8, mixing 0.9).
    assert config.image_shape == (1024, 1024, 3)
    assert (config.truncation_psi, config.truncation_cutoff, config.style_mixing_prob) == (0.7, 8, 0.9)


def test_the_style_tiny_checkpoints_own_config_fits_it(tmp_path):
    from alae_tf.convert.architecture import check_config, infer_config
    from alae_tf.convert.pth_to_workdir import load_torch_checkpoint

    checkpoints = FIXTURES / "checkpoints"
    official = json.loads((checkpoints / "style_tiny_expected.json").read_text())["config"]
    path = tmp_path / "style_tiny.yaml"
    path.write_text(yaml.safe_dump(official))
    config = config_from_official(read_official_config(path))
    state_dicts = load_torch_checkpoint(checkpoints / "style_tiny.pth")
    check_config(config, state_dicts)  # fits: no error
    inferred = infer_config(state_dicts)
    for field in inferred.architecture():
        assert getattr(config, field) == getattr(inferred, field), field


@pytest.mark.parametrize(
    "text, message",
    [
        ("MODEL: [1, 2", "not valid YAML"),
        ("- just a list", "not an official ALAE config"),
        ("MODEL:\n  LAYER_COUNT: nine", "MODEL.LAYER_COUNT must be a positive integer"),
        ("MODEL:\n  LATENT_SIZE: 512", "unknown MODEL keys in the official config: LATENT_SIZE"),
        ("MODEL:\n  Z_REGRESSION: true", "MODEL.Z_REGRESSION = True is not implemented here"),
        ("MODEL:\n  CHANNELS: 4", "MODEL.CHANNELS must be 1 or 3"),
    ],
)
def test_bad_configs_are_refused_clearly(tmp_path, text, message):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ConversionError, match=message):
        config_from_official(read_official_config(path))


def test_a_missing_file_and_a_python_tag_are_refused(tmp_path):
    with pytest.raises(ConversionError, match="cannot read the official config"):
        read_official_config(tmp_path / "nope.yaml")
    path = tmp_path / "evil.yaml"
    path.write_text("MODEL: !!python/object/apply:os.system ['echo owned']")
    with pytest.raises(ConversionError, match="not valid YAML"):  # the safe loader builds no objects
        read_official_config(path)


def test_defaults_apply_to_what_the_yaml_leaves_out():
    model = official_model({"MODEL": {"LAYER_COUNT": 4}})
    assert (model["LAYER_COUNT"], model["LATENT_SPACE_SIZE"], model["MAPPING_LAYERS"]) == (4, 256, 5)


def test_the_binary_converts_with_the_official_config_and_refuses_two_architecture_sources(tmp_path):
    from alae_tf import workdir as workdir_lib
    from tests.convert.style_tiny_pth_test import convert_binary

    official = json.loads((FIXTURES / "checkpoints" / "style_tiny_expected.json").read_text())["config"]
    path = tmp_path / "style_tiny.yaml"
    path.write_text(yaml.safe_dump(official))
    workdir = tmp_path / "w"
    result = convert_binary("--preset=faces_tiny", f"--official_config={path}", f"--workdir={workdir}")
    assert result.returncode == 0, result.stderr
    config = workdir_lib.read_config(workdir)
    assert (config.layer_count, config.start_channels, config.max_channels, config.latent_size) == (4, 8, 32, 32)
    both = convert_binary(f"--official_config={path}", "--infer_architecture", f"--workdir={tmp_path / 'x'}")
    assert both.returncode != 0 and "give one" in both.stderr and not (tmp_path / "x").exists()

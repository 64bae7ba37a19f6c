"""Every published ALAE architecture, as the official code lays out its checkpoints: shapes, configs, parameter maps.

`data/published_architectures.json` was written by `benchmarks/official_fullsize.py` from the
official code's own nets (podgorskiy/ALAE 42bcf2e): per architecture (ffhq 1024 px,
celeba-hq256 and bedroom 256, celeba 128, the conv mnist 32), the official YAML's MODEL
section and every state-dict entry of the checkpoint's nets with its shape; the `_s` EMA
copies have the same entries. `data/official_configs/*.yaml` are the official configs
themselves. The state dicts here are zero-memory (`np.broadcast_to`), so full-size
architectures cost nothing to describe; the full 650 MB checkpoints and the outputs at full
resolution are `benchmarks/fullsize_parity.py`'s.
"""

import json
import pathlib

import numpy as np
import pytest

from alae_tf import builders, configs, networks
from alae_tf.convert import ConversionError
from alae_tf.convert.architecture import ARCHITECTURE_FIELDS, check_config, infer_config
from alae_tf.convert.official import LAYOUTS, style_parameter_map
from alae_tf.convert.official_config import config_from_official, read_official_config
from alae_tf.convert.pth_to_workdir import import_state_dicts, official_tensors

DATA = pathlib.Path(__file__).parent / "data"
PUBLISHED = json.loads((DATA / "published_architectures.json").read_text())["architectures"]
ARCHS = ("ffhq", "celeba-hq256", "bedroom", "celeba", "mnist")
# The preset of ours each official config is (same name), and one whose architecture differs.
WRONG_PRESET = {"ffhq": "celeba-hq256", "celeba-hq256": "bedroom", "bedroom": "celeba-hq256", "celeba": "ffhq"}
WRONG_PRESET["mnist"] = "celeba"
EMA = ("discriminator", "generator", "mapping_tl", "mapping_fl")


def state_dicts(arch, ema=True):
    """The official checkpoint's `models` for `arch`, every tensor a zero-memory float32 zero of its shape."""
    nets = {
        net: {name: np.broadcast_to(np.float32(0), tuple(shape)) for name, shape in entries.items()}
        for net, entries in PUBLISHED[arch]["nets"].items()
    }
    if ema:
        nets.update({f"{net}_s": nets[net] for net in EMA})
    return nets


def architecture_of(config):
    return {field: getattr(config, field) for field in ARCHITECTURE_FIELDS}


def test_the_data_covers_every_published_architecture():
    assert set(PUBLISHED) == set(ARCHS)
    for arch in ARCHS:
        assert set(PUBLISHED[arch]["nets"]) == set(EMA) | {"dlatent_avg"}
        official = read_official_config(DATA / "official_configs" / f"{arch}.yaml")
        assert official["MODEL"] == PUBLISHED[arch]["model"]  # the stored YAML is the one the nets came from


def test_parameter_counts_are_the_published_models():
    """54.2M parameters per copy for ffhq (the published model), from the entry shapes alone (blur kernels
    are buffers)."""
    counts = {
        arch: sum(
            int(np.prod(shape))
            for net in EMA
            for name, shape in PUBLISHED[arch]["nets"][net].items()
            if not name.endswith("blur.weight")
        )
        for arch in ARCHS
    }
    assert round(counts["ffhq"] / 1e6, 1) == 54.2, counts


@pytest.mark.parametrize("arch", ARCHS)
def test_the_architecture_is_inferred_as_our_preset(arch):
    preset = configs.PRESETS[arch]
    sd = state_dicts(arch)
    assert architecture_of(infer_config(sd, base=preset)) == architecture_of(preset)
    # From the default base too (everything but the channel cap, which only has to give the same widths).
    inferred = architecture_of(infer_config(sd))
    mine = architecture_of(preset)
    assert {k: v for k, v in inferred.items() if k != "max_channels"} == {
        k: v for k, v in mine.items() if k != "max_channels"
    }
    check_config(preset, sd)  # fits
    check_config(preset, state_dicts(arch, ema=False))  # weights of the trained nets only
    weights_only = {f"{net}_s": v for net, v in state_dicts(arch, ema=False).items() if net in EMA}
    check_config(preset, {**weights_only, "dlatent_avg": sd["dlatent_avg"]})  # the demo's EMA-only file


@pytest.mark.parametrize("arch", ARCHS)
def test_the_official_yaml_gives_our_preset_and_is_checked_against_the_file(arch):
    preset = configs.PRESETS[arch]
    official = read_official_config(DATA / "official_configs" / f"{arch}.yaml")
    config = config_from_official(official, base=preset)
    assert architecture_of(config) == architecture_of(preset)
    assert (config.truncation_psi, config.truncation_cutoff, config.style_mixing_prob) == (0.7, 8, 0.9)
    assert config.dlatent_avg_beta == 0.995
    check_config(config, state_dicts(arch))
    # The YAML over another base gives the same architecture: the file, not the preset, decides.
    assert architecture_of(config_from_official(official, base=configs.PRESETS["faces_tiny"])) == architecture_of(
        preset
    )


@pytest.mark.parametrize("arch", ARCHS)
def test_a_wrong_preset_or_yaml_is_refused(arch):
    wrong = WRONG_PRESET[arch]
    with pytest.raises(ConversionError, match="does not fit the checkpoint's architecture"):
        check_config(configs.PRESETS[wrong], state_dicts(arch))
    official = read_official_config(DATA / "official_configs" / f"{wrong}.yaml")
    with pytest.raises(ConversionError, match="--infer_architecture"):
        check_config(config_from_official(official, base=configs.PRESETS[arch]), state_dicts(arch))


def style_nets(config):
    """One copy of our F, G, E, D for `config` (what `build_model` builds, without the EMA copies)."""
    resolution, _, channels = config.image_shape
    args = dict(
        latent_size=config.latent_size,
        layer_count=config.layer_count,
        start_channels=config.start_channels,
        max_channels=config.max_channels,
        channels=channels,
    )
    return (
        networks.MappingNetwork(config.latent_size, num_layers=config.mapping_layers, name="mapping"),
        networks.StyleGenerator(**args, name="generator"),
        networks.StyleEncoder(**args, name="encoder"),
        networks.LatentDiscriminator(config.latent_size, num_layers=config.discriminator_layers, name="discriminator"),
    )


def keras_shape(parameter, official):
    """The Keras shape `parameter.to_keras` gives for an official tensor, without materializing it."""
    value = official if parameter.rows is None else official[parameter.rows]
    return tuple(LAYOUTS[parameter.effective_layout][0](value).shape)


@pytest.mark.parametrize("arch", ARCHS)
def test_our_parameter_map_covers_every_official_entry_with_its_shape(arch):
    config = configs.PRESETS[arch]
    tensors = official_tensors(state_dicts(arch), "style")  # blur kernels left out: fixed buffers
    parameters = style_parameter_map(*style_nets(config))
    assert sorted(p.name for p in parameters) == sorted(tensors)
    wrong = {
        p.name: (keras_shape(p, tensors[p.name]), tuple(p.variable.shape))
        for p in parameters
        if keras_shape(p, tensors[p.name]) != tuple(p.variable.shape)
    }
    assert not wrong, wrong
    # Every official entry but the blur kernels has a place; dlatent_avg is one row per style layer.
    blur = [n for net in EMA for n in PUBLISHED[arch]["nets"][net] if n.endswith("blur.weight")]
    assert len(tensors) + len(blur) == sum(len(PUBLISHED[arch]["nets"][net]) for net in EMA)
    assert PUBLISHED[arch]["nets"]["dlatent_avg"]["buff"] == [2 * config.layer_count, config.latent_size]


@pytest.mark.slow
@pytest.mark.parametrize("arch", ARCHS)
def test_zero_state_dicts_import_into_the_full_model(arch):
    """The whole import (trained, EMA, dlatent_avg) into the full-size compiled model: seconds to a minute each."""
    model = builders.build_model(configs.PRESETS[arch])
    import_state_dicts(model, state_dicts(arch))
    for net in model.training_nets + model.ema_nets:
        for variable in net.trainable_variables:
            assert not np.any(variable.numpy()), variable.path

"""The official code's YAML configs (`configs/*.yaml` of podgorskiy/ALAE) -> an `ALAEConfig`.

The official trainer reads yacs `CfgNode`s, which are plain YAML merged over `defaults.py`.
`read_official_config` parses the file with PyYAML's safe loader (no yacs, no code from the
file) and `config_from_official` merges its MODEL section over the official defaults and
maps it onto a style preset: layer count, widths, latent size, mapping depth, channels,
resolution, and the model's own hyperparameters (truncation, style mixing, the running
mean of w). The training recipe (batches, learning rates, data) stays the preset's: a
converted run's recipe is ours.
"""

from __future__ import annotations

import numbers
import pathlib

import yaml

from alae_tf import configs
from alae_tf.convert.official import ConversionError

# `defaults.py` of the official code: what a YAML config leaves out takes these values.
OFFICIAL_MODEL_DEFAULTS = {
    "LAYER_COUNT": 6,
    "START_CHANNEL_COUNT": 64,
    "MAX_CHANNEL_COUNT": 512,
    "LATENT_SPACE_SIZE": 256,
    "DLATENT_AVG_BETA": 0.995,
    "TRUNCATIOM_PSI": 0.7,  # sic: the official key
    "TRUNCATIOM_CUTOFF": 8,
    "STYLE_MIXING_PROB": 0.9,
    "MAPPING_LAYERS": 5,
    "CHANNELS": 3,
    "GENERATOR": "GeneratorDefault",
    "ENCODER": "EncoderDefault",
    "Z_REGRESSION": False,
}
_POSITIVE_INTS = ("LAYER_COUNT", "START_CHANNEL_COUNT", "MAX_CHANNEL_COUNT", "LATENT_SPACE_SIZE", "MAPPING_LAYERS")
_SUPPORTED = {"GENERATOR": "GeneratorDefault", "ENCODER": "EncoderDefault", "Z_REGRESSION": False}
DEFAULT_BASE = "faces_tiny"


def read_official_config(path) -> dict:
    """The YAML file as a dict (top-level sections such as MODEL, TRAIN, DATASET).

    Raises:
        ConversionError: the file is missing, not YAML, or not a mapping of sections.
    """
    path = pathlib.Path(path)
    try:
        text = path.read_text()
    except OSError as e:
        raise ConversionError(f"cannot read the official config {path}: {e.strerror or e}") from e
    try:
        loaded = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise ConversionError(f"{path} is not valid YAML: {e}") from e
    if not isinstance(loaded, dict) or not isinstance(loaded.get("MODEL", {}), dict):
        raise ConversionError(f"{path} is not an official ALAE config (a YAML mapping with a MODEL section)")
    return loaded


def official_model(official: dict) -> dict:
    """The MODEL section merged over the official defaults, checked.

    Raises:
        ConversionError: an unknown key, a value of the wrong type, or a variant this port does not implement.
    """
    given = dict(official.get("MODEL") or {})
    unknown = sorted(
        set(given)
        - set(OFFICIAL_MODEL_DEFAULTS)
        - {"MAPPING_D", "MAPPING_F", "MAPPING_TO_LATENT", "MAPPING_FROM_LATENT"}
    )
    if unknown:
        raise ConversionError(f"unknown MODEL keys in the official config: {', '.join(unknown)}")
    model = {**OFFICIAL_MODEL_DEFAULTS, **given}
    for key in _POSITIVE_INTS + ("TRUNCATIOM_CUTOFF",):
        value = model[key]
        if isinstance(value, bool) or not isinstance(value, int) or value < (0 if key == "TRUNCATIOM_CUTOFF" else 1):
            raise ConversionError(f"MODEL.{key} must be a positive integer, got {value!r}")
    for key in ("DLATENT_AVG_BETA", "TRUNCATIOM_PSI", "STYLE_MIXING_PROB"):
        if isinstance(model[key], bool) or not isinstance(model[key], numbers.Real):
            raise ConversionError(f"MODEL.{key} must be a number, got {model[key]!r}")
    if model["CHANNELS"] not in (1, 3):
        raise ConversionError(f"MODEL.CHANNELS must be 1 or 3, got {model['CHANNELS']!r}")
    for key, supported in _SUPPORTED.items():
        if model[key] != supported:
            raise ConversionError(f"MODEL.{key} = {model[key]!r} is not implemented here (only {supported!r})")
    return model


def config_from_official(official: dict, base: configs.ALAEConfig | None = None) -> configs.ALAEConfig:
    """`base` (default: `faces_tiny`; an MLP base is replaced by it) with the official config's model.

    Raises:
        ConversionError: see `official_model`.
    """
    if base is None or base.model != "style":
        base = configs.PRESETS[DEFAULT_BASE]
    model = official_model(official)
    resolution = 4 * 2 ** (model["LAYER_COUNT"] - 1)
    return base.replace(
        layer_count=model["LAYER_COUNT"],
        start_channels=model["START_CHANNEL_COUNT"],
        max_channels=model["MAX_CHANNEL_COUNT"],
        latent_size=model["LATENT_SPACE_SIZE"],
        mapping_layers=model["MAPPING_LAYERS"],
        image_shape=(resolution, resolution, model["CHANNELS"]),
        dlatent_avg_beta=float(model["DLATENT_AVG_BETA"]),
        truncation_psi=float(model["TRUNCATIOM_PSI"]),
        truncation_cutoff=model["TRUNCATIOM_CUTOFF"],
        style_mixing_prob=float(model["STYLE_MIXING_PROB"]),
    )

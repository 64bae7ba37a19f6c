"""The StyleALAE architecture of an official checkpoint, read from its tensor shapes.

`infer_config` builds the `ALAEConfig` whose nets have exactly the checkpoint's
parameters (layer count, start / max channels, latent size, depth of F and D,
image channels and resolution), keeping everything else (recipe, dataset,
truncation, ...) from a base config. `check_config` compares a given config with
the checkpoint and names every field that does not fit.

Shapes used (official names, torch layouts): G's `to_rgb.<i>.to_rgb.weight`
`(channels, C_i, 1, 1)`, one per `decode_block.<i>`, with
`C_i = min(MAX_CHANNEL_COUNT, START_CHANNEL_COUNT * 2**(LAYER_COUNT - 1 - i))`;
F's `map_blocks.<k>.fc.weight` `(latent, latent)`; D's `map_blocks.<k>.weight`.
"""

import re

from alae_tf import configs
from alae_tf.convert.official import ConversionError

# Fields `infer_config` sets from the file (and `check_config` compares).
ARCHITECTURE_FIELDS = (
    "model",
    "layer_count",
    "start_channels",
    "max_channels",
    "latent_size",
    "mapping_layers",
    "discriminator_layers",
    "image_shape",
)
DEFAULT_BASE = "faces_tiny"


def block_channels(layer_count, start_channels, max_channels):
    """G's channels per block (block 0 at 4 px), as the official Generator and our StyleGenerator build them."""
    return [min(max_channels, start_channels * 2 ** (layer_count - 1 - i)) for i in range(layer_count)]


def _net(state_dicts, name):
    for candidate in (name, name + "_s"):
        if candidate in state_dicts:
            return state_dicts[candidate]
    raise ConversionError(f"the checkpoint has no {name!r} state dict (it has {sorted(state_dicts)})")


def _indices(state, pattern):
    found = {int(m.group(1)) for key in state if (m := re.match(pattern, key))}
    if found != set(range(len(found))):
        raise ConversionError(f"blocks {sorted(found)} matching {pattern!r} are not numbered 0..n-1")
    return len(found)


def _shape(state, key):
    if key not in state:
        raise ConversionError(f"the checkpoint has no {key!r}")
    return tuple(state[key].shape)


def architecture(state_dicts):
    """The architecture fields of a StyleALAE checkpoint, plus `block_channels` (G's, block 0 first).

    Raises:
        ConversionError: not a StyleALAE checkpoint (no G `const`), or incomplete.
    """
    generator = _net(state_dicts, "generator")
    if "const" not in generator:
        raise ConversionError("only StyleALAE checkpoints (a generator with 'const') have an inferable architecture")
    mapping_f, mapping_d = _net(state_dicts, "mapping_fl"), _net(state_dicts, "mapping_tl")
    layer_count = _indices(generator, r"decode_block\.(\d+)\.")
    rgb = [_shape(generator, f"to_rgb.{i}.to_rgb.weight") for i in range(layer_count)]
    channels = [shape[1] for shape in rgb]
    mapping_layers = _indices(mapping_f, r"map_blocks\.(\d+)\.")
    resolution = 4 * 2 ** (layer_count - 1)
    return {
        "model": "style",
        "layer_count": layer_count,
        "start_channels": channels[-1],
        "max_channels": max(channels),
        "latent_size": _shape(mapping_f, "map_blocks.0.fc.weight")[1],
        "mapping_layers": mapping_layers,
        "discriminator_layers": _indices(mapping_d, r"map_blocks\.(\d+)\."),
        "image_shape": (resolution, resolution, rgb[0][0]),
        "block_channels": channels,
    }


def _mismatches(config, arch):
    fields = [f for f in ARCHITECTURE_FIELDS if f not in ("start_channels", "max_channels")]
    wrong = {f: (getattr(config, f), arch[f]) for f in fields if getattr(config, f) != arch[f]}
    if config.model == "style" and config.layer_count == arch["layer_count"]:
        ours = block_channels(config.layer_count, config.start_channels, config.max_channels)
        if ours != arch["block_channels"]:
            # Only the channel list matters: a cap above every block's width is as good as the file's maximum.
            for f in ("start_channels", "max_channels"):
                if getattr(config, f) != arch[f]:
                    wrong[f] = (getattr(config, f), arch[f])
            wrong.setdefault("max_channels", (config.max_channels, arch["max_channels"]))
    elif config.model == "style":
        for f in ("start_channels", "max_channels"):
            if getattr(config, f) != arch[f]:
                wrong[f] = (getattr(config, f), arch[f])
    return wrong


def infer_config(state_dicts, base=None):
    """`base` (default: the `faces_tiny` preset; an MLP base is replaced by it) with the checkpoint's architecture.

    The recipe, dataset, truncation etc. stay the base's; `max_channels` stays the base's when it gives
    the file's channels too. Raises `ConversionError` as `architecture`.
    """
    arch = architecture(state_dicts)
    if base is None or base.model != "style":
        base = configs.PRESETS[DEFAULT_BASE]
    fields = {f: arch[f] for f in ARCHITECTURE_FIELDS}
    if block_channels(arch["layer_count"], arch["start_channels"], base.max_channels) == arch["block_channels"]:
        fields["max_channels"] = base.max_channels
    config = base.replace(**fields)
    if config.truncation_cutoff is not None:
        config = config.replace(truncation_cutoff=min(config.truncation_cutoff, 2 * arch["layer_count"]))
    return config


def check_config(config, state_dicts):
    """Raise `ConversionError` naming every architecture field of `config` that does not fit the checkpoint.

    MLP configs and checkpoints are left to the import's shape checks.
    """
    generator = _net(state_dicts, "generator")
    if config.model != "style" and "const" not in generator:
        return
    wrong = _mismatches(config, architecture(state_dicts))
    if wrong:
        listed = "; ".join(
            f"{f}: {ours!r} in the preset, {theirs!r} in the file" for f, (ours, theirs) in wrong.items()
        )
        raise ConversionError(
            f"the config {config.name!r} does not fit the checkpoint's architecture ({listed}); "
            "pass --infer_architecture to take the architecture from the file"
        )

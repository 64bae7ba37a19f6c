"""An official ALAE checkpoint (torch .pth) -> a workdir that `train` resumes and `evaluate` / export read.

The official training script saves a dict whose `"models"` entry holds one
state dict per net, under the names of its model dict: `discriminator` (E),
`generator` (G), `mapping_fl` (F), `mapping_tl` (D), their EMA copies
`<name>_s`, and `dlatent_avg` (a buffer `buff`, one row per style layer).
The name/layout mapping is plain numpy (`style_parameter_map`,
`mlp_parameter_map`); the .pth file is read with numpy only (`alae_tf.convert.pth`).
"""

import pathlib
import re

import numpy as np
from absl import logging

from alae_tf import atomic, builders
from alae_tf.checkpoint import CheckpointManager
from alae_tf.convert.official import ConversionError, import_official, mlp_parameter_map, style_parameter_map

# Checkpoint model-dict name -> the prefix our parameter maps use, per model kind.
# F and D are `mapping_fl` / `mapping_tl` in the training script for both kinds;
# the style nets' own classes are registered as MappingF / MappingD, hence the prefixes.
NET_PREFIXES = {
    "style": {"discriminator": "encoder", "generator": "decoder", "mapping_fl": "mapping_f", "mapping_tl": "mapping_d"},
    "mlp": {"discriminator": "encoder", "generator": "decoder", "mapping_fl": "mapping_fl", "mapping_tl": "mapping_tl"},
}
# Other spellings of the same nets found in configs and fixtures.
NET_ALIASES = {"encoder": "discriminator", "decoder": "generator", "mapping_f": "mapping_fl", "mapping_d": "mapping_tl"}
EMA_SUFFIX = "_s"
# State-dict entries that are fixed buffers or unused layers, not parameters:
# the blur kernels, and the MLP nets' BatchNorm statistics that forward() never uses.
UNUSED_ENTRIES = (
    re.compile(r"(^|\.)blur\.weight$"),
    re.compile(r"(^|\.)bn_\d+\.(running_mean|running_var|num_batches_tracked)$"),
)


def load_torch_checkpoint(path, salvage=False):
    """The official `.pth` as `{net name: {parameter name: float32 array}}` (plus `dlatent_avg` when present).

    Read by `alae_tf.convert.pth.read_pth`: numpy only, no torch, nothing from the file is executed. With
    `salvage`, damage outside the nets (the optimizer state, the loss tracker: what a conversion does not use)
    is logged and ignored; damage in the nets is still refused.

    Raises:
        ConversionError: not a torch checkpoint (zip or legacy format), truncated or corrupt, refers to code,
            holds no state dicts, or a tensor with NaN or infinite values.
        OSError: the file cannot be opened.
    """
    from alae_tf.convert.pth import damaged_parts, read_pth, state_dicts_from_checkpoint

    data = read_pth(path, salvage=salvage)
    try:
        state_dicts = state_dicts_from_checkpoint(data)
    except ConversionError as e:
        raise ConversionError(f"{path}: {e}") from e
    out = {
        net: {name: np.asarray(value, np.float32) for name, value in state.items()}
        for net, state in state_dicts.items()
    }
    if salvage:
        for where, reason in damaged_parts(data):  # outside the nets, or state_dicts_from_checkpoint refused
            logging.warning("%s: ignored, damaged: %s: %s", path, where, reason)
    for net, state in out.items():
        for name, value in state.items():
            if not np.isfinite(value).all():
                # The legacy format has no checksum: a damaged byte in a tensor often shows only this way.
                raise ConversionError(
                    f"{path}: {net}.{name} holds {np.size(value) - np.isfinite(value).sum()} non-finite values: "
                    "the file is damaged (download it again) or the run it comes from diverged"
                )
    return out


def checkpoint_level(path):
    """The level an official checkpoint was saved at, from its record name, or None (a final model).

    The official trainer saves `model_tmp_lod<N>` while it trains level N and `model_final` at the end;
    the zip keeps that name as its records' folder when the file is renamed; a legacy-format file keeps no
    name, so its file name is read instead.
    """
    from alae_tf.convert.pth import archive_name

    name = archive_name(path)
    if name is None:  # the legacy format records no name: the file's own
        name = pathlib.Path(path).stem
    match = re.fullmatch(r"model_tmp_lod(\d+)", name)
    return int(match.group(1)) if match else None


def _canonical(state_dicts):
    """Rename aliases (`encoder`, `mapping_f`, ...) to the training script's names."""
    out = {}
    for name, state in state_dicts.items():
        base, ema = (name[: -len(EMA_SUFFIX)], EMA_SUFFIX) if name.endswith(EMA_SUFFIX) else (name, "")
        out[NET_ALIASES.get(base, base) + ema] = state
    return out


def official_tensors(state_dicts, model_kind, ema=False):
    """`{prefix/parameter: array}` for one set of nets (trained, or the `_s` EMA copies).

    Raises:
        ConversionError: a net is missing.
    """
    prefixes = NET_PREFIXES[model_kind]
    suffix = EMA_SUFFIX if ema else ""
    tensors = {}
    for net, prefix in prefixes.items():
        state = state_dicts.get(net + suffix)
        if state is None:
            raise ConversionError(f"the checkpoint has no {net + suffix!r} state dict (it has {sorted(state_dicts)})")
        for name, value in state.items():
            if not any(pattern.search(name) for pattern in UNUSED_ENTRIES):
                tensors[f"{prefix}/{name}"] = np.asarray(value)
    return tensors


def parameter_map(model, nets):
    build = style_parameter_map if model.is_style else mlp_parameter_map
    return build(*nets)


def import_state_dicts(model, state_dicts):
    """Assign an official checkpoint's nets to `model`'s trained and EMA nets (and `dlatent_avg`).

    Args:
        model: an `ALAE` whose nets have the checkpoint's architecture.
        state_dicts: `{net name: {parameter name: array}}` as the official
            checkpoint's `"models"` holds them. Without the `_s` EMA copies the
            EMA nets start as copies of the trained ones; with only the `_s`
            copies (what the official demo loads: an inference-only file), the
            trained nets start as copies of the EMA ones, so `train` fine-tunes
            from the published weights.

    Returns:
        which sets the file held: `{"trained": bool, "ema": bool}`.

    Raises:
        ConversionError: a net or parameter is missing, a shape does not fit,
            or a parameter has no place in these nets.
    """
    state_dicts = _canonical(state_dicts)
    kind = "style" if model.is_style else "mlp"
    held = {
        "trained": any(net in state_dicts for net in NET_PREFIXES[kind]),
        "ema": any(net + EMA_SUFFIX in state_dicts for net in NET_PREFIXES[kind]),
    }
    if held["trained"] or not held["ema"]:  # neither: the error names the first missing trained net
        import_official(parameter_map(model, model.training_nets), official_tensors(state_dicts, kind))
    if held["ema"]:
        import_official(parameter_map(model, model.ema_nets), official_tensors(state_dicts, kind, ema=True))
    source, target = (model.training_nets, model.ema_nets) if held["trained"] else (model.ema_nets, model.training_nets)
    if not (held["trained"] and held["ema"]):
        for net, copy in zip(source, target):
            for value, variable in zip(net.weights, copy.weights):
                variable.assign(value)
    dlatent_avg = state_dicts.get("dlatent_avg", {}).get("buff")
    if dlatent_avg is not None:
        # One identical row per style layer (w is broadcast): any row is the mean of w.
        rows = np.reshape(dlatent_avg, (-1, model.dlatent_size))
        model.dlatent_avg.assign(rows[0])
    return held


def convert_to_workdir(state_dicts, config, workdir, seed=0, level=None):
    """Write a workdir holding the official nets, trained up to `level` (default: `config`'s last level).

    The checkpoint is stamped as a run of `config` that has just finished
    `level` at blend 1: at the last level, a finished run (its `train_images`);
    at an earlier level (an official `model_tmp_lod<level>` checkpoint), the
    image count where `level` ends. `open_run`, `evaluate` and the exporters
    then put the nets at that level, and `train` (with a larger
    `--train_images` for a finished run) continues from there, growing on from
    an earlier level. Optimizer state starts at zero: the official optimizer
    state is not imported.

    Returns:
        the checkpoint folder written.

    Raises:
        ConversionError: see `import_state_dicts`; `level` outside the config's levels; or `workdir`
            already holds checkpoints.
    """
    workdir = pathlib.Path(workdir)
    schedule = config.growth_schedule()
    last = schedule.max_level
    level = last if level is None else int(level)
    if not 0 <= level <= last:
        raise ConversionError(f"level {level} is outside {config.name}'s levels 0..{last}")
    if level < last and config.model != "style":
        raise ConversionError(f"level {level}: {config.name} is an MLP ALAE, it has one level")
    model = builders.build_compiled_model(config, seed=seed)
    manager = CheckpointManager(workdir, model, config)
    if manager.latest() is not None:
        raise ConversionError(f"{workdir} already holds checkpoints; convert into a new --workdir")
    import_state_dicts(model, state_dicts)
    stop = config.train_images if level == last else schedule.level_end(level)
    steps, images = 0, 0
    for segment_level, level_steps in schedule.segments(0, stop):
        steps += level_steps
        images += level_steps * schedule.batch_size(segment_level)
    model.step.assign(steps)
    model.images_seen.assign(images)
    model.blend.assign(1.0)
    atomic.write_text(workdir / "config.json", config.to_json())
    return manager.save()

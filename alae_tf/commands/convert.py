r"""Convert an official ALAE checkpoint into a workdir.

    alae-convert --official_checkpoint=FILE.pth --flagfile=flags/ffhq.cfg --workdir=W
    alae-convert --official_checkpoint=FILE.pth --preset=faces_tiny --infer_architecture --workdir=W

The preset (and any architecture overrides) come from the same flags as
`alae-train`, so the flagfile a run trains with also converts; the
workdir then holds the official trained and EMA nets at the preset's final
level (or, for an official `model_tmp_lodN` checkpoint saved while training, at level N,
from where `train` grows on): `evaluate` scores it, the exporters read it, and `train` with a
larger `--train_images` fine-tunes it. A preset whose architecture does not fit the file is
refused with the mismatching fields listed; with `--infer_architecture` the architecture (layer
count, channels, latent size, depths of F and D, resolution) comes from the file's tensor shapes
and the rest (recipe, dataset, truncation) from the preset (`alae_tf.convert.architecture`); with
`--official_config=FILE` the architecture comes from the official YAML config instead
(`alae_tf.convert.official_config`, parsed without yacs), and is checked against the file.
The .pth is read without PyTorch and without running code from the file
(`alae_tf.convert.pth`: a restricted unpickler; anything but tensors and the official loss
tracker's objects is refused).
"""

import sys

from absl import app, flags

import alae_tf.startup  # noqa: F401  (first: loads TensorFlow without its start-up notices)
from alae_tf import command_runner, config_flags  # config_flags: the preset flags, shared with alae-train
from alae_tf.convert.architecture import check_config, infer_config
from alae_tf.convert.official import ConversionError
from alae_tf.convert.official_config import config_from_official, read_official_config
from alae_tf.convert.pth_to_workdir import checkpoint_level, convert_to_workdir, load_torch_checkpoint

FLAGS = flags.FLAGS
flags.adopt_module_key_flags(config_flags)  # --helpshort lists the preset flags too

flags.DEFINE_string("official_checkpoint", None, "Official .pth checkpoint (podgorskiy/ALAE).", required=True)
flags.DEFINE_bool(
    "infer_architecture",
    False,
    "Take the architecture from the checkpoint's tensor shapes (the preset gives the rest); "
    "without it a preset that does not fit the file is refused.",
)
flags.DEFINE_string(
    "official_config",
    None,
    "The official YAML config the checkpoint was trained with (configs/*.yaml of podgorskiy/ALAE): its MODEL "
    "section (over the official defaults) sets the architecture; the preset gives the recipe. Checked against "
    "the file's tensors.",
)
flags.register_multi_flags_validator(
    ["official_config", "infer_architecture"],
    lambda f: not (f["official_config"] and f["infer_architecture"]),
    message="--official_config and --infer_architecture both set the architecture: give one",
)
flags.DEFINE_bool(
    "salvage",
    False,
    "Convert a file whose training state (optimizer, loss tracker) is damaged or unreadable: what the nets need "
    "must still be intact; the rest is ignored with a warning. Never runs code from the file.",
)
flags.DEFINE_integer(
    "level",
    None,
    "Style nets: the level the checkpoint was trained to (default: N for an official `model_tmp_lodN` "
    "checkpoint, else the last level). The workdir resumes growing from there.",
    lower_bound=0,
)


def _salvage_hint(error):
    """Advice when a strict read failed but the nets themselves are intact (damage in the training state only)."""
    if FLAGS.salvage or not isinstance(error, ConversionError):
        return ""
    try:
        load_torch_checkpoint(FLAGS.official_checkpoint, salvage=True)
    except (ConversionError, OSError):
        return ""
    return (
        "\nThe nets in the file are intact; only its training state (optimizer, loss tracker) is damaged. "
        "--salvage converts the nets and ignores the rest."
    )


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    config = config_flags.config_from_flags()
    try:
        state_dicts = load_torch_checkpoint(FLAGS.official_checkpoint, salvage=FLAGS.salvage)
        if FLAGS.infer_architecture:
            config = infer_config(state_dicts, base=config)
        else:
            if FLAGS.official_config:
                config = config_from_official(read_official_config(FLAGS.official_config), base=config)
            check_config(config, state_dicts)
        level = FLAGS.level if FLAGS.level is not None else checkpoint_level(FLAGS.official_checkpoint)
        path = convert_to_workdir(state_dicts, config, FLAGS.workdir, seed=FLAGS.seed, level=level)
    except (ConversionError, OSError) as e:
        sys.exit(f"alae-convert: error: {e}{_salvage_hint(e)}")
    resolution = config.growth_schedule().resolution(level) if level is not None else config.image_shape[0]
    print(f"wrote {path} ({config.name}, trained to {resolution} px of {config.image_shape[0]})")


def run():
    """The `alae-convert` console script: `app.run(main)` (`alae_tf.command_runner`)."""
    command_runner.run(main, __name__)


if __name__ == "__main__":
    run()

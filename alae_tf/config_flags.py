"""The flags that pick and override a preset, shared by the binaries that build a run's config.

`alae-train` and `alae-convert` (`alae_tf.commands.train`, `alae_tf.commands.convert`) define them by
importing this module (absl flags are defined once per process, at import), and `config_from_flags()`
turns them into the `ALAEConfig` of the run: the preset with every given override applied.
"""

from absl import flags

from alae_tf import configs, data, storage

FLAGS = flags.FLAGS

flags.DEFINE_enum("preset", "mnist_mlp", sorted(configs.PRESETS), "Architecture and recipe (alae_tf/configs.py).")
flags.DEFINE_string("workdir", None, "Run folder: checkpoints, grids, TensorBoard logs. Reruns resume.", required=True)
flags.register_validator("workdir", storage.flag_validator)
flags.DEFINE_integer("train_images", None, "Total length of the run in images (default: the preset's).", lower_bound=1)
flags.DEFINE_float(
    "train_minutes",
    None,
    "Instead of --train_images: train for about this many minutes. The length in images is set from a few "
    "seconds' measurement of the step at the start (WORKDIR/time_budget.json) and kept by a resume.",
)
flags.DEFINE_integer("seed", 0, "Seed of the initial weights, of z and of the data order.")
flags.DEFINE_string("dataset", None, "Data source (default: the preset's). " + data.SPEC_HELP)
flags.DEFINE_string("data_dir", None, "Overrides the dataset's default location.")
# Overrides of single preset fields; None keeps the preset's value.
flags.DEFINE_integer("latent_size", None, "Size of z and w.", lower_bound=1)
flags.DEFINE_integer("mapping_layers", None, "Depth of F.", lower_bound=1)
flags.DEFINE_integer("batch_size", None, "Batch size (style presets: at every level).", lower_bound=1)
flags.DEFINE_float(
    "learning_rate", None, "Adam learning rate of both optimizers (style presets: at every level).", lower_bound=0.0
)
flags.DEFINE_integer("images_per_level", None, "Style presets: images trained per resolution level.", lower_bound=1)
flags.DEFINE_float("r1_gamma", None, "R1 weight.", lower_bound=0.0)
flags.DEFINE_integer(
    "r1_interval",
    None,
    "Lazy R1: the penalty every this many steps, weighted by this factor (1, the paper's: every step).",
    lower_bound=1,
)
flags.DEFINE_list("hidden_units", None, "MLP presets: widths of G's and E's hidden layers, e.g. 1024,1024.")
flags.DEFINE_float("ema_halflife_images", None, "Half-life of the EMA nets, in images (> 0).")
flags.DEFINE_enum(
    "learning_rate_decay",
    None,
    ["none", "cosine", "linear"],
    "Decay of the learning rate over the run (--train_images long); none is the paper's.",
)
flags.DEFINE_float(
    "learning_rate_decay_start", None, "Fraction of the run where the decay starts.", lower_bound=0.0, upper_bound=0.999
)
flags.DEFINE_float(
    "learning_rate_decay_final", None, "Learning-rate factor at the run's end.", lower_bound=0.0, upper_bound=1.0
)
flags.DEFINE_float(
    "pixel_reconstruction_weight",
    None,
    "Weight of step III's pixel term mean((G(E(x)) - x)^2) on real images (0: none, the paper's).",
    lower_bound=0.0,
)
flags.DEFINE_float(
    "refine_fraction",
    None,
    "MLP presets: share of the run's batches, at its end, that train E and G on reconstructions alone, G held "
    "to its own samples (0: none, the paper's).",
    lower_bound=0.0,
    upper_bound=0.999,
)
flags.DEFINE_float(
    "refine_learning_rate",
    None,
    "The refinement's learning rate at its start (it falls linearly to 0).",
    lower_bound=0.0,
)
flags.DEFINE_float(
    "refine_anchor_weight", None, "Weight of the refinement's term that holds G's samples.", lower_bound=0.0
)
flags.DEFINE_integer(
    "refine_batch_size", None, "The refinement's batch of real images (0: --batch_size's).", lower_bound=0
)
flags.DEFINE_integer(
    "refine_anchor_samples",
    None,
    "Samples per refinement batch that its anchor term averages over (0: one per real image).",
    lower_bound=0,
)
flags.DEFINE_float(
    "refine_edge_weight",
    None,
    "Weight of the refinement's edge term, which keeps reconstructions' edges as steep as the real images' (0: none).",
    lower_bound=0.0,
)
flags.DEFINE_integer(
    "refine_edge_window", None, "Block size, in pixels, over which the edge term compares edges.", lower_bound=1
)
flags.DEFINE_enum(
    "autoencoder_variables",
    None,
    ["official", "paper"],
    "Step III moves E, F and G (official code) or E and G (paper).",
)
flags.DEFINE_bool(
    "reset_optimizers_at_level_change",
    None,
    "Style presets: zero both optimizers' state when a level starts (default on, as the official code).",
)
# How often a run checkpoints and logs: not part of the config, but training flagfiles
# (flags/*.cfg) carry them, and `alae-convert` reads the same flagfiles (and ignores them).
flags.DEFINE_integer("checkpoint_every_images", 60_000, "Checkpoint and grid period, in images.", lower_bound=1)
flags.DEFINE_integer("log_every_steps", 50, "TensorBoard and progress period, in steps.", lower_bound=1)

flags.register_validator(
    "hidden_units",
    lambda units: units is None or (len(units) > 0 and all(u.isdigit() and int(u) > 0 for u in units)),
    message="--hidden_units must be positive integers, e.g. 1024,1024",
)
flags.register_validator(
    "train_minutes", lambda m: m is None or 0 < m < 1e6, message="--train_minutes must be a positive number of minutes"
)
flags.register_multi_flags_validator(
    ["train_images", "train_minutes"],
    lambda f: f["train_images"] is None or f["train_minutes"] is None,
    message="give --train_images or --train_minutes, not both",
)
flags.register_validator(
    "ema_halflife_images", lambda h: h is None or h > 0, message="--ema_halflife_images must be > 0"
)
flags.register_validator(
    "dataset", lambda s: s is None or data.is_valid_spec(s), message="unknown --dataset form. " + data.SPEC_HELP
)


def config_from_flags() -> configs.ALAEConfig:
    """`PRESETS[--preset]` with every override flag that was given (None keeps the preset's value)."""
    preset = configs.PRESETS[FLAGS.preset]
    # A single --batch_size / --learning_rate replaces a style preset's per-level lists.
    per_level = preset.model == "style"
    return preset.replace(
        latent_size=FLAGS.latent_size,
        mapping_layers=FLAGS.mapping_layers,
        batch_size=FLAGS.batch_size,
        learning_rate=FLAGS.learning_rate,
        batch_sizes=(FLAGS.batch_size,) if per_level and FLAGS.batch_size is not None else None,
        learning_rates=(FLAGS.learning_rate,) if per_level and FLAGS.learning_rate is not None else None,
        images_per_level=FLAGS.images_per_level,
        reset_optimizers_at_level_change=FLAGS.reset_optimizers_at_level_change,
        r1_gamma=FLAGS.r1_gamma,
        r1_interval=FLAGS.r1_interval,
        autoencoder_variables=FLAGS.autoencoder_variables,
        dataset=FLAGS.dataset,
        # The run's length: learning-rate decay spans it, and config.json records it.
        train_images=FLAGS.train_images,
        hidden_units=None if FLAGS.hidden_units is None else tuple(int(u) for u in FLAGS.hidden_units),
        ema_halflife_images=FLAGS.ema_halflife_images,
        pixel_reconstruction_weight=FLAGS.pixel_reconstruction_weight,
        learning_rate_decay=FLAGS.learning_rate_decay,
        learning_rate_decay_start=FLAGS.learning_rate_decay_start,
        learning_rate_decay_final=FLAGS.learning_rate_decay_final,
        refine_fraction=FLAGS.refine_fraction,
        refine_learning_rate=FLAGS.refine_learning_rate,
        refine_anchor_weight=FLAGS.refine_anchor_weight,
        refine_batch_size=FLAGS.refine_batch_size,
        refine_anchor_samples=FLAGS.refine_anchor_samples,
        refine_edge_weight=FLAGS.refine_edge_weight,
        refine_edge_window=FLAGS.refine_edge_window,
    )

"""Nets, optimizers and the compiled `ALAE` built from an `ALAEConfig` (the model layer's factory)."""

import contextlib

import keras

from alae_tf import networks
from alae_tf.configs import MODELS, ALAEConfig
from alae_tf.model import ALAE
from alae_tf.optimizers import EqualizedAdam


def build_model(config: ALAEConfig, seed: int = 0) -> ALAE:
    """An uncompiled `ALAE` for `config` (variables of every level built, EMA copies made)."""
    if config.model not in MODELS:
        raise ValueError(f"unknown model {config.model!r}; this build knows {MODELS}")
    refinement = config.refinement()
    if refinement.fraction and config.model == "style":
        raise ValueError(f"{config.name}: refine_fraction is for MLP nets; style nets train without the phase")
    if not 0 <= config.refine_anchor_samples <= refinement.phase_batch(config.batch_size):
        raise ValueError(
            f"{config.name}: refine_anchor_samples must be in [0, the phase's batch size "
            f"{refinement.phase_batch(config.batch_size)}], got {config.refine_anchor_samples}"
        )
    mapping = networks.MappingNetwork(config.latent_size, num_layers=config.mapping_layers, name="mapping")
    if config.model == "style":
        resolution, width, channels = config.image_shape
        if resolution != width or resolution != 4 * 2 ** (config.layer_count - 1):
            raise ValueError(
                f"{config.name}: image_shape {config.image_shape} does not fit layer_count "
                f"{config.layer_count} (4 * 2**(layer_count - 1) px square)"
            )
        style_args = dict(
            latent_size=config.latent_size,
            layer_count=config.layer_count,
            start_channels=config.start_channels,
            max_channels=config.max_channels,
            channels=channels,
        )
        generator = networks.StyleGenerator(**style_args, name="generator")
        encoder = networks.StyleEncoder(**style_args, name="encoder")
    else:
        generator = networks.MLPGenerator(
            config.latent_size, image_shape=config.image_shape, hidden_units=config.hidden_units, name="generator"
        )
        encoder = networks.MLPEncoder(
            config.latent_size, image_shape=config.image_shape, hidden_units=config.hidden_units, name="encoder"
        )
    discriminator = networks.LatentDiscriminator(
        config.latent_size, num_layers=config.discriminator_layers, name="discriminator"
    )
    return ALAE(
        mapping,
        generator,
        encoder,
        discriminator,
        r1_gamma=config.r1_gamma,
        ema_halflife_images=config.ema_halflife_images,
        dlatent_avg_beta=config.dlatent_avg_beta,
        autoencoder_variables=config.autoencoder_variables,
        seed=seed,
        style_mixing_prob=config.style_mixing_prob,
        truncation_psi=config.truncation_psi,
        truncation_cutoff=config.truncation_cutoff,
        pixel_reconstruction_weight=config.pixel_reconstruction_weight,
        r1_interval=config.r1_interval,
        refine_anchor_weight=config.refine_anchor_weight if config.refine_fraction else None,
        refine_anchor_samples=(config.refine_anchor_samples or None) if config.refine_fraction else None,
        refine_edge_weight=config.refine_edge_weight if config.refine_fraction else 0.0,
        refine_edge_window=config.refine_edge_window,
        name="alae",
    )


def make_optimizers(
    learning_rate: float, beta_2: float = 0.99, epsilon: float = 1e-8
) -> tuple[EqualizedAdam, EqualizedAdam]:
    """The E/D and F/G optimizers: Adam with beta1 = 0 (no momentum), as in ALAE."""
    return tuple(
        EqualizedAdam(learning_rate=learning_rate, beta_1=0.0, beta_2=beta_2, epsilon=epsilon, name=name)
        for name in ("ed_adam", "fg_adam")
    )


def build_compiled_model(config: ALAEConfig, seed: int = 0, jit_compile: bool = False, strategy=None) -> ALAE:
    """A compiled `ALAE` whose initial weights depend only on `seed`.

    Built and compiled inside `strategy.scope()` when a strategy is given:
    its variables are then mirrored and `fit` runs the step per replica.
    Under the global mixed_float16 policy the optimizers get loss scaling.
    """
    keras.utils.set_random_seed(seed)
    with strategy.scope() if strategy is not None else contextlib.nullcontext():
        model = build_model(config, seed=seed)
        model.compile(
            *make_optimizers(config.learning_rate, config.adam_beta_2, config.adam_epsilon), jit_compile=jit_compile
        )
    return model


def place_at_trained_level(model: ALAE, config: ALAEConfig) -> None:
    """Put a restored style model at the level and blend of the last batch it trained.

    Neither is checkpointed: both follow from `images_seen` and the config's growth schedule.
    MLP models have no levels and are left as they are.
    """
    if model.is_style:
        level, blend = config.growth_schedule().last_batch_position(int(model.images_seen.numpy()))
        model.set_level(level)
        model.blend.assign(blend)

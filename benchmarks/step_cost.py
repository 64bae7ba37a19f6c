"""FLOPs of one training image for a config: the quality-per-FLOP axis of benchmarks/quality.md.

`training_flops_per_image(config)` traces one `ALAE.alternating_update` at the config's batch
size on its image shape and counts its FLOPs with `benchmarks/flops.py`. A lazy R1
(`r1_interval` k > 1) runs R1's double backward on one step in k: the count is
`(steps with R1 + (k - 1) * steps without) / k`, each traced on its own (the counter does not
enter a `tf.cond`'s branches). Precision does not change the count; the nets are built in
float32.
"""

import tensorflow as tf

from alae_tf import builders, configs
from benchmarks import flops

# The demo's recipe before the quality-per-FLOP work: the paper's MLP ALAE with a 256-d latent and
# step III's pixel term at weight 10, 2.5M images at batch 128 (benchmarks/quality.md).
OLD_DEMO = configs.PRESETS["mnist_mlp"].replace(
    name="old_demo", latent_size=256, pixel_reconstruction_weight=10.0, train_images=2_500_000
)
OLD_DEMO_IMAGES = 2_500_000


def step_flops(config, with_r1):
    """FLOPs of one `alternating_update` at the config's batch, with or without R1 (lazy R1's two kinds of step)."""
    model = builders.build_compiled_model(config.replace(r1_interval=1), seed=0)
    if not with_r1:
        # The branch lazy R1 takes on its other steps: D(E(x)) without the penalty.
        model._logits_and_lazy_r1 = lambda x: (model._critic(x), tf.zeros(()))
    batch = config.batch_size
    images = tf.TensorSpec((batch, *config.image_shape), tf.float32)
    latents = [tf.TensorSpec((batch, config.latent_size), tf.float32)] * 3
    return flops.function_flops(model.alternating_update, images, *latents)


def training_flops_per_image(config):
    """FLOPs of the MLP or style step per training image, lazy R1 averaged over its interval."""
    k = config.r1_interval
    total = step_flops(config, with_r1=True)
    if k > 1:
        total = (total + (k - 1) * step_flops(config, with_r1=False)) / k
    return total / config.batch_size


def refinement_flops_per_image(config):
    """FLOPs of the refinement phase's step (`ALAE.refinement_update`) per training image (MLP nets)."""
    model = builders.build_compiled_model(config.replace(refine_fraction=config.refine_fraction or 0.5), seed=0)
    batch = config.refinement().phase_batch(config.batch_size)
    images = tf.TensorSpec((batch, *config.image_shape), tf.float32)
    latents = tf.TensorSpec((model.anchor_rows(batch), config.latent_size), tf.float32)
    return flops.function_flops(model.refinement_update, images, latents) / batch


def training_flops(config, images):
    """FLOPs of a run of `images` images: the three updates until its refinement phase starts, its step after."""
    refine_start = config.refinement().start(images, config.batch_size)
    if refine_start is None:
        return training_flops_per_image(config) * images
    refined = images - refine_start
    return training_flops_per_image(config) * refine_start + refinement_flops_per_image(config) * refined


def refinement_variant(config, variant):
    """`config` with a `B/S` or `B/S/E` variant's refinement batch, anchor samples (and edge weight).

    Raises ValueError on anything else. (Here rather than in `refine_step.py`, which defines flags:
    tests import this without them.)
    """
    parts = variant.split("/")
    try:
        if len(parts) not in (2, 3):
            raise ValueError
        config = config.replace(refine_batch_size=int(parts[0]), refine_anchor_samples=int(parts[1]))
        return config.replace(refine_edge_weight=float(parts[2])) if len(parts) == 3 else config
    except ValueError:
        raise ValueError(
            f"a variant is batch/anchor samples[/edge weight], e.g. 128/32 or 128/32/3; got {variant!r}"
        ) from None

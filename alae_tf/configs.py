"""Presets as data: one per paper config, plus tiny ones for tests.

A preset fixes the architecture and the training recipe. The training binary
starts from `PRESETS[--preset]` and lets flags override single fields; the
resolved config is saved in the workdir so that `evaluate`, export and resume
rebuild exactly the same nets.
"""

import dataclasses
import json

from alae_tf import networks
from alae_tf.optimizers import EqualizedAdam
from alae_tf.model import ALAE

# Fields that define the architecture: a checkpoint only fits nets that agree on all of them.
ARCHITECTURE_FIELDS = ("model", "latent_size", "mapping_layers", "image_shape", "hidden_units", "discriminator_layers")


@dataclasses.dataclass(frozen=True)
class ALAEConfig:
    """Everything needed to build and train one ALAE.

    Attributes:
        name: preset name.
        model: "mlp" (the paper's MNIST MLP).
        latent_size: size of z and w.
        mapping_layers: depth of F.
        image_shape: `(height, width, channels)`.
        hidden_units: widths of the MLP G and E hidden layers.
        discriminator_layers: depth of D.
        batch_size, learning_rate, adam_beta_2, adam_epsilon: the recipe
            (Adam with beta1 = 0 for both optimizers).
        r1_gamma: R1 weight.
        ema_halflife_images: EMA half-life in images.
        dlatent_avg_beta: decay of the running mean of w.
        autoencoder_variables: "official" or "paper" (see `ALAE`).
        train_images: default length of a run, in images.
        dataset: default `--dataset` spec.
        pixel_range: range real and generated images live in.
        flip: random horizontal flips of real images.
    """

    name: str
    model: str = "mlp"
    latent_size: int = 50
    mapping_layers: int = 6
    image_shape: tuple = (28, 28, 1)
    hidden_units: tuple = (1024, 1024)
    discriminator_layers: int = 3
    batch_size: int = 128
    learning_rate: float = 0.002
    adam_beta_2: float = 0.99
    adam_epsilon: float = 1e-8
    r1_gamma: float = 10.0
    ema_halflife_images: float = 10000.0
    dlatent_avg_beta: float = 0.995
    autoencoder_variables: str = "official"
    train_images: int = 24_000_000
    dataset: str = "fashion_mnist"
    pixel_range: tuple = (0.0, 1.0)
    flip: bool = False

    def replace(self, **changes):
        return dataclasses.replace(self, **{k: v for k, v in changes.items() if v is not None})

    def to_json(self):
        return json.dumps(dataclasses.asdict(self), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text):
        fields = json.loads(text)
        for key in ("image_shape", "hidden_units", "pixel_range"):
            fields[key] = tuple(fields[key])
        return cls(**fields)

    def architecture(self):
        return {k: getattr(self, k) for k in ARCHITECTURE_FIELDS}


PRESETS = {
    # The paper's MNIST experiment (official branch mnist_ref, experiment_mnist_fc2.yaml):
    # 400 epochs of 60k images at batch 128.
    "mnist_mlp": ALAEConfig(name="mnist_mlp"),
    # Same shape of net, a few thousand parameters: for tests.
    "mnist_mlp_tiny": ALAEConfig(
        name="mnist_mlp_tiny", latent_size=8, mapping_layers=2, hidden_units=(32, 32), batch_size=16,
        train_images=512,
    ),
}


def build_model(config, seed=0):
    """An uncompiled `ALAE` for `config` (variables built, EMA copies made)."""
    if config.model != "mlp":
        raise ValueError(f"unknown model {config.model!r}; this build knows 'mlp'")
    mapping = networks.MappingNetwork(config.latent_size, num_layers=config.mapping_layers, name="mapping")
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
        mapping, generator, encoder, discriminator,
        r1_gamma=config.r1_gamma,
        ema_halflife_images=config.ema_halflife_images,
        dlatent_avg_beta=config.dlatent_avg_beta,
        autoencoder_variables=config.autoencoder_variables,
        seed=seed,
        name="alae",
    )


def make_optimizers(learning_rate, beta_2=0.99, epsilon=1e-8):
    """The E/D and F/G optimizers: Adam with beta1 = 0 (no momentum), as in ALAE."""
    return tuple(
        EqualizedAdam(learning_rate=learning_rate, beta_1=0.0, beta_2=beta_2, epsilon=epsilon, name=name)
        for name in ("ed_adam", "fg_adam")
    )

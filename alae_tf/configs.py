"""Presets as data: one per paper config, plus tiny ones for tests.

A preset fixes the architecture and the training recipe. The training binary
starts from `PRESETS[--preset]` and lets flags override single fields; the
resolved config is saved in the workdir so that `evaluate`, export and resume
rebuild exactly the same nets. Building nets from a config is `alae_tf.builders`' job.
"""

import dataclasses
import json

from alae_tf.growing import GrowthSchedule
from alae_tf.schedules import LearningRateDecay, Refinement

MODELS = ("mlp", "style")
# Fields that define the architecture: a checkpoint only fits nets that agree on all of them.
ARCHITECTURE_FIELDS = (
    "model",
    "latent_size",
    "mapping_layers",
    "image_shape",
    "hidden_units",
    "discriminator_layers",
    "layer_count",
    "start_channels",
    "max_channels",
)
_TUPLE_FIELDS = ("image_shape", "hidden_units", "pixel_range", "batch_sizes", "learning_rates")


@dataclasses.dataclass(frozen=True)
class ALAEConfig:
    """Everything needed to build and train one ALAE.

    Attributes:
        name: preset name.
        model: "mlp" (the paper's MNIST MLP) or "style" (StyleALAE,
            progressively grown from 4 px to `image_shape[0]` px).
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
        layer_count, start_channels, max_channels: StyleALAE nets (levels,
            channels of the highest-resolution block, channel cap);
            `image_shape[0]` must be `4 * 2**(layer_count - 1)`.
        images_per_level: StyleALAE images per level (see `GrowthSchedule`).
        batch_sizes, learning_rates: per level (the last entry holds for
            higher levels); empty means `batch_size` / `learning_rate` at
            every level.
        style_mixing_prob: style mixing probability in steps I and II.
        truncation_psi, truncation_cutoff: truncation of sample grids.
        reset_optimizers_at_level_change: zero both optimizers' state when
            a level starts (the official code does).
        pixel_reconstruction_weight: step III's optional pixel term on real images
            (0: none, the paper's; see `ALAE`).
        learning_rate_decay, learning_rate_decay_start, learning_rate_decay_final: decay
            of the learning rate over the run (`schedules.LearningRateDecay`: "none", the
            paper's, "cosine" or "linear"; the fraction of the run where it starts; the
            factor it ends at). The run's length is the `--train_images` it trains to.
        r1_interval: lazy R1: the penalty every this many steps, at this many times `r1_gamma`
            (1, the paper's: every step; see `ALAE`).
        refine_fraction, refine_learning_rate, refine_anchor_weight: the reconstruction-refinement
            phase at the run's end (MLP nets; not in the paper): its share of the run's batches (0:
            none), its starting learning rate (falling linearly to 0; `schedules.Refinement`) and the
            weight of its term that holds G's samples (`ALAE.refinement_update`).
        refine_batch_size, refine_anchor_samples: the phase's batch of real images (0: `batch_size`)
            and the samples per batch its anchor term averages over (0: as many as real images).
        refine_edge_weight, refine_edge_window: the phase's edge term (0: none), which keeps the
            reconstructions' edges as steep as the real images' in every block of this many pixels
            (`losses.edge_strength_match`).
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
    layer_count: int = 0
    start_channels: int = 0
    max_channels: int = 0
    images_per_level: int = 0
    batch_sizes: tuple = ()
    learning_rates: tuple = ()
    style_mixing_prob: float = 0.0
    truncation_psi: float | None = None
    truncation_cutoff: int | None = None
    reset_optimizers_at_level_change: bool = True
    pixel_reconstruction_weight: float = 0.0
    learning_rate_decay: str = "none"
    learning_rate_decay_start: float = 0.0
    learning_rate_decay_final: float = 0.0
    r1_interval: int = 1
    refine_fraction: float = 0.0
    refine_learning_rate: float = 0.003
    refine_anchor_weight: float = 0.25
    refine_batch_size: int = 0
    refine_anchor_samples: int = 0
    refine_edge_weight: float = 0.0
    refine_edge_window: int = 4

    def replace(self, **changes):
        return dataclasses.replace(self, **{k: v for k, v in changes.items() if v is not None})

    def to_json(self):
        return json.dumps(dataclasses.asdict(self), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text):
        """The config `to_json` wrote. Raises ValueError on fields this version does not know."""
        fields = json.loads(text)
        unknown = sorted(set(fields) - {f.name for f in dataclasses.fields(cls)})
        if unknown:
            raise ValueError(
                f"config fields this version of alae-tf does not know: {', '.join(unknown)} (written by a newer "
                "or a patched alae-tf)"
            )
        for key in _TUPLE_FIELDS:
            if key in fields:
                fields[key] = tuple(fields[key])
        return cls(**fields)

    def architecture(self):
        return {k: getattr(self, k) for k in ARCHITECTURE_FIELDS}

    def learning_rate_decay_schedule(self):
        """The run's `LearningRateDecay` (a factor on every level's learning rate)."""
        return LearningRateDecay(
            self.learning_rate_decay, self.learning_rate_decay_start, self.learning_rate_decay_final
        )

    def refinement(self):
        """The run's `Refinement` phase (fraction 0: none)."""
        return Refinement(self.refine_fraction, self.refine_learning_rate, self.refine_batch_size or self.batch_size)

    def growth_schedule(self):
        """The run's `GrowthSchedule`; the MLP model is one level that never ends."""
        if self.model != "style":
            return GrowthSchedule(max(1, self.train_images), 0, (self.batch_size,), (self.learning_rate,))
        return GrowthSchedule(
            self.images_per_level,
            self.layer_count - 1,
            self.batch_sizes or (self.batch_size,),
            self.learning_rates or (self.learning_rate,),
        )


def _style(
    name,
    *,
    resolution,
    latent_size,
    start_channels,
    max_channels,
    mapping_layers,
    images_per_level,
    train_images,
    learning_rates,
    batch_sizes,
    dataset,
    channels=3,
    pixel_range=(-1.0, 1.0),
    flip=True,
    **more,
):
    """A StyleALAE preset: `layer_count` follows from the resolution (4 px at level 0)."""
    layer_count = resolution.bit_length() - 2
    if 4 * 2 ** (layer_count - 1) != resolution:
        raise ValueError(f"{name}: resolution {resolution} is not 4 * 2**k")
    return ALAEConfig(
        name=name,
        model="style",
        latent_size=latent_size,
        mapping_layers=mapping_layers,
        image_shape=(resolution, resolution, channels),
        hidden_units=(),
        layer_count=layer_count,
        start_channels=start_channels,
        max_channels=max_channels,
        images_per_level=images_per_level,
        train_images=train_images,
        learning_rates=tuple(learning_rates),
        batch_sizes=tuple(batch_sizes),
        batch_size=batch_sizes[0],
        learning_rate=learning_rates[0],
        dataset=dataset,
        pixel_range=pixel_range,
        flip=flip,
        style_mixing_prob=0.9,
        truncation_psi=0.7,
        truncation_cutoff=8,
        **more,
    )


# The paper's config table (../shared/ALAE_REFERENCE.md), batch sizes for one GPU.
_PAPER_LRS = (0.0015,) * 6 + (0.002, 0.003, 0.003)
_PAPER_BATCHES = (128, 128, 128, 64, 32, 16)


# The demo's fast recipe (benchmarks/quality.md, "Quality per FLOP"): 0.16 of the wide recipe's
# training FLOPs. Half-width nets, lazy R1 (every 4th step) at a tenth of the weight, the pixel
# term at 20 and a learning rate of 0.003, 1.1M images: 6 of the bar's 7 lines; reconstructions
# keep the class for about 81 % of test images, not the bar's 85 %.
_MNIST_MLP_FAST = ALAEConfig(
    name="mnist_mlp_fast",
    latent_size=256,
    hidden_units=(512, 512),
    learning_rate=0.003,
    r1_gamma=1.0,
    r1_interval=4,
    autoencoder_variables="paper",
    pixel_reconstruction_weight=20.0,
    train_images=1_100_000,
)


PRESETS = {
    # The paper's MNIST experiment (official branch mnist_ref, experiment_mnist_fc2.yaml):
    # 400 epochs of 60k images at batch 128. Step III moves E and G, as the paper's text
    # says: on Fashion-MNIST after 300k images its 5-NN accuracy was 0.808 / 0.811 / 0.795
    # over seeds 0-2, the official code's variant (E, F and G) 0.792 / 0.803 / 0.790.
    "mnist_mlp": ALAEConfig(name="mnist_mlp", autoencoder_variables="paper"),
    # The demo's recipe (benchmarks/quality.md, "A fifth search" and "A sixth search"): the fast
    # recipe's nets and game (`_MNIST_MLP_FAST`) for 1.2M images, then 1.6M images of refinement (E
    # and G learn reconstructions alone, G held to its own samples, 32 of them a batch). All 7 lines
    # of the quality bar on seeds 0, 1 and 2 at 0.236 of the training FLOPs of the previous demo
    # (`mnist_mlp_wide`). The phase's edge term ("A seventh search") keeps the reconstructions' edges, and
    # so class edits, as sharp as real images.
    "mnist_mlp_demo": _MNIST_MLP_FAST.replace(
        name="mnist_mlp_demo",
        train_images=2_800_000,
        refine_fraction=0.5714,
        refine_anchor_samples=32,
        refine_edge_weight=3.0,
    ),
    # The previous demo's recipe (benchmarks/quality.md, "The wide recipe"): the paper's nets and three
    # updates with a 256-d latent, step III's pixel term on real images (weight 10) and a learning rate
    # of 0.002, for 2.5M images instead of the paper's 24M. All 7 lines on seed 0; seeds 1 and 2 draw
    # sandals for 4.4-4.5 % of samples, under the bar's 5 %.
    "mnist_mlp_wide": ALAEConfig(
        name="mnist_mlp_wide",
        latent_size=256,
        learning_rate=0.002,
        autoencoder_variables="paper",
        pixel_reconstruction_weight=10.0,
        train_images=2_500_000,
    ),
    "mnist_mlp_fast": _MNIST_MLP_FAST,  # defined above: the demo's recipe is built on it
    # Same shape of net, a few thousand parameters: for tests.
    "mnist_mlp_tiny": ALAEConfig(
        name="mnist_mlp_tiny",
        latent_size=8,
        mapping_layers=2,
        hidden_units=(32, 32),
        batch_size=16,
        train_images=512,
        autoencoder_variables="paper",
    ),
    "ffhq": _style(
        "ffhq",
        resolution=1024,
        latent_size=512,
        start_channels=16,
        max_channels=512,
        mapping_layers=8,
        images_per_level=960_000,
        train_images=18_000_000,
        learning_rates=_PAPER_LRS,
        batch_sizes=_PAPER_BATCHES,
        dataset="folder:data/ffhq",
    ),
    "celeba-hq256": _style(
        "celeba-hq256",
        resolution=256,
        latent_size=512,
        start_channels=64,
        max_channels=512,
        mapping_layers=8,
        images_per_level=870_000,
        train_images=8_100_000,
        learning_rates=(0.0015,) * 7 + (0.003, 0.003),
        batch_sizes=_PAPER_BATCHES,
        dataset="folder:data/celeba-hq256",
    ),
    "celeba": _style(
        "celeba",
        resolution=128,
        latent_size=256,
        start_channels=64,
        max_channels=256,
        mapping_layers=8,
        images_per_level=1_100_000,
        train_images=14_600_000,
        learning_rates=_PAPER_LRS,
        batch_sizes=_PAPER_BATCHES,
        dataset="folder:data/celeba128",
    ),
    "bedroom": _style(
        "bedroom",
        resolution=256,
        latent_size=512,
        start_channels=32,
        max_channels=512,
        mapping_layers=8,
        images_per_level=1_520_000,
        train_images=84_900_000,
        learning_rates=_PAPER_LRS,
        batch_sizes=_PAPER_BATCHES,
        dataset="folder:data/lsun-bedroom",
    ),
    # The paper's conv MNIST model; Fashion-MNIST here (the Debian files), upscaled 28 -> 32 px.
    "mnist": _style(
        "mnist",
        resolution=32,
        latent_size=32,
        start_channels=64,
        max_channels=256,
        mapping_layers=4,
        images_per_level=600_000,
        train_images=3_600_000,
        learning_rates=(0.0015,),
        batch_sizes=(128, 128, 128, 64),
        dataset="fashion_mnist",
        channels=1,
        flip=False,
    ),
    # CPU smoke run: grows 4 -> 32 px on the 146 faces of ../shared/data/faces128 in minutes.
    # The EMA half-life is shortened to fit the run's length (the paper's 10k images would
    # leave the EMA nets near their initial weights after 16k images).
    # 48k images: at 16k the EMA reconstructions were still worse than the mean face.
    "faces_tiny": _style(
        "faces_tiny",
        resolution=32,
        latent_size=32,
        start_channels=16,
        max_channels=32,
        mapping_layers=3,
        images_per_level=3_000,
        train_images=48_000,
        learning_rates=(0.002,),
        batch_sizes=(32,),
        dataset="folder:../shared/data/faces128",
        ema_halflife_images=1_000.0,
    ),
    # faces_tiny's recipe on nets of a few hundred parameters: 8 px (levels 4 and 8 px) of 32
    # images each at batch 8, so a test sees levels, fade-ins and noise in seconds. For tests.
    "faces_micro": _style(
        "faces_micro",
        resolution=8,
        latent_size=8,
        start_channels=4,
        max_channels=8,
        mapping_layers=2,
        images_per_level=32,
        train_images=128,
        learning_rates=(0.002,),
        batch_sizes=(8,),
        dataset="folder:../shared/data/faces128",
        ema_halflife_images=1_000.0,
    ),
}

"""`ALAE`: the keras.Model that trains F, G, E and D with three alternating updates.

`ALAE.train_step` runs, per batch and in this order (Pidhorskyi et al. 2020):

I.   E and D (E/D optimizer): `softplus(D(E(G(F(z))))) + softplus(-D(E(x)))
     + gamma/2 * ||d D(E(x)) / dx||^2`, fakes made without gradient, R1 by a
     nested tape on the real batch.
II.  F and G (F/G optimizer): `softplus(-D(E(G(F(z)))))`; gradients flow
     through E and D into G, but E and D do not move.
III. latent autoencoding: `mean((E(G(F(z))) - stop_gradient(F(z)))^2)`.
     `autoencoder_variables="official"` (default) steps E with the E/D
     optimizer and F and G with the F/G optimizer, as the authors' code
     does (F moves through G's input); `"paper"` moves only E and G, as
     the paper's text says. With `pixel_reconstruction_weight` > 0 (not in
     the paper; off by default) step III also adds that weight times
     `mean((G(E(x)) - x)^2)` on the real batch: the nets the step moves
     then learn to redraw real images, not only to agree on fakes' codes.

A run may end with a refinement phase (`refinement_update`, entered by
`start_refinement`; not in the paper): E and G then learn reconstructions
alone, G held to the samples it drew when the phase began.

Then the EMA copies of all four nets move (half-life `ema_halflife_images`
images, `alae_tf.ema`); sampling, evaluation and export use them.
`dlatent_avg` tracks the mean of w for truncation.

Style nets differ in three places (`alae_tf.net_kinds` holds every
difference between the kinds): in step I the real batch is fade-in blended
before E and R1 see it; steps I and II mix styles with probability
`style_mixing_prob` (a second z's w replaces the styles from a cutoff drawn
uniformly in {1 .. 2(level + 1)}); step III never mixes.

Each step draws its own z from `tf.random.stateless_normal` keyed by
(`seed`, the step counter), so a resumed run draws exactly the z an
uninterrupted one would. Style mixing and the generator's per-pixel noise
are keyed by (`seed`, step) too (`alae_tf.streams`).

Scale and precision: built and compiled inside a `tf.distribute` strategy's
scope, each replica runs the step on its rows of the global batch and draws
its rows of the global z and noise, so the replica count does not change the
result (`alae_tf.distribute`). Under mixed_float16, `compile` wraps each
optimizer in its own LossScaleOptimizer and a step with a non-finite gradient
on any replica is skipped everywhere (`alae_tf.loss_scaling`).
"""

import keras
import tensorflow as tf

from alae_tf import distribute, losses, net_kinds, xla_gradients  # noqa: F401  (jit_compile: R1's 2nd order)
from alae_tf.ema import ExponentialMovingAverage
from alae_tf.loss_scaling import (
    input_gradient_scale,
    loss_scale,  # noqa: F401  (kept importable from here, where callers and tests import it)
    minimize,
    reset_slots,
    with_loss_scaling,
)
from alae_tf.refinement import REFINE_CONFIG_FIELDS, REFINE_TAKEN_BY, RefinementPhase
from alae_tf.streams import MIX_D, MIX_G, NOISE_AE, NOISE_D, NOISE_G, StepStreams

AUTOENCODER_VARIABLES = ("official", "paper")
_NETS = ("mapping", "generator", "encoder", "discriminator")
# The constructor's other arguments, in get_config's order.
_CONFIG_FIELDS = (
    "r1_gamma",
    "ema_halflife_images",
    "dlatent_avg_beta",
    "autoencoder_variables",
    "seed",
    "style_mixing_prob",
    "truncation_psi",
    "truncation_cutoff",
    "level",
    "pixel_reconstruction_weight",
    "r1_interval",
    *REFINE_CONFIG_FIELDS,
)
# The update whose skipping (by loss scaling) keeps a logged loss out of its running mean.
_TAKEN_BY = {
    "loss_d": "ed_taken",
    "r1": "ed_taken",
    "loss_g": "fg_taken",
    "loss_ae": "ae_taken",
    "recon_pixels": "ae_taken",
}


def _as_images(data):
    """fit() hands over whatever the dataset yields: images, or (images, labels)."""
    if isinstance(data, (tuple, list)):
        return data[0]
    if isinstance(data, dict):
        return data["images"]
    return data


@keras.saving.register_keras_serializable(package="alae_tf")
class ALAE(RefinementPhase, keras.Model):
    """Adversarial Latent Autoencoder: F (z -> w), G (w -> x), E (x -> w), D (w -> logit).

    Trained by `fit` as this module's docstring describes. Shapes: z and w `[B, latent]`; images `[B, H, W, C]`
    at the current `resolution`; D's logits `[B]`; G's input is w for MLP nets and, for style nets (chosen by
    the generator's type), one w per style layer, `[B, 2 * layer_count, latent]`. `level`: None for MLP nets,
    else a Python int (one trace per level: see `set_level`).

    Checkpointed (`alae_tf.checkpoint`, by variable path): the nets, their EMA copies (`ema_mapping`,
    `ema_generator`, `ema_encoder`, `ema_discriminator`), `step` and `images_seen` (int64 scalars), `dlatent_avg`
    `[dlatent]` and both optimizers. Not `blend` (float32 scalar, 1 = no fade-in): it is the growth schedule's
    value at `images_seen`, which the training loop assigns before every step and after a restore, like `level`.

    Args:
        mapping, generator, encoder, discriminator: F, G, E and D (shapes above; F with `latent_size`, `dlatent_size`).
        r1_gamma, dlatent_avg_beta, ema_halflife_images: the R1 weight; the decay of the running mean of w; the
            EMA half-life in images (`beta = 0.5 ** (B / h)`).
        autoencoder_variables: `"official"` or `"paper"` (step III's variables).
        seed, style_mixing_prob: seed of the z, style-mixing and noise streams; probability of style mixing.
        truncation_psi, truncation_cutoff: default truncation of `generate` (style nets: the first
            `truncation_cutoff` style layers move towards `dlatent_avg`); never used in training.
        level, pixel_reconstruction_weight: style nets' initial level (default: the last); the weight of
            step III's pixel term (0, the paper's: none).
        r1_interval: lazy R1 (StyleGAN2's regularisation schedule): R1 is taken on every `r1_interval`-th
            step only (steps 0, k, 2k, ...), at weight `r1_gamma * r1_interval`, so its mean weight per step
            stays `r1_gamma`. 1 (the paper's): every step.
        refine_anchor_weight, refine_anchor_samples, refine_edge_weight, refine_edge_window: the refinement
            phase at the run's end (MLP nets; None anchor weight, the default: none; `_init_refinement`).
    """

    def __init__(
        self,
        mapping,
        generator,
        encoder,
        discriminator,
        r1_gamma=10.0,
        ema_halflife_images=10000.0,
        dlatent_avg_beta=0.995,
        autoencoder_variables="official",
        seed=0,
        style_mixing_prob=0.0,
        truncation_psi=None,
        truncation_cutoff=None,
        level=None,
        pixel_reconstruction_weight=0.0,
        r1_interval=1,
        refine_anchor_weight=None,
        refine_anchor_samples=None,
        refine_edge_weight=0.0,
        refine_edge_window=4,
        **kwargs,
    ):
        super().__init__(**kwargs)
        _check_options(autoencoder_variables, pixel_reconstruction_weight, r1_interval)
        self.mapping, self.generator, self.encoder, self.discriminator = mapping, generator, encoder, discriminator
        self.r1_gamma, self.dlatent_avg_beta = float(r1_gamma), float(dlatent_avg_beta)
        self.ema_halflife_images = float(ema_halflife_images)
        self.autoencoder_variables, self.seed = autoencoder_variables, int(seed)
        self.latent_size, self.dlatent_size = int(mapping.latent_size), int(mapping.dlatent_size)
        self.style_mixing_prob = float(style_mixing_prob)
        self.pixel_reconstruction_weight = float(pixel_reconstruction_weight)
        self.r1_interval = int(r1_interval)
        self.truncation_psi = None if truncation_psi is None else float(truncation_psi)
        self.truncation_cutoff = None if truncation_cutoff is None else int(truncation_cutoff)
        self.step = self._state("step", (), "int64", "zeros")
        self.images_seen = self._state("images_seen", (), "int64", "zeros")
        self.dlatent_avg = self._state("dlatent_avg", (self.dlatent_size,), "float32", "zeros")
        # A variable, not a Python float: a float would be frozen into the trace and retrace on every change.
        self.blend = self._state("blend", (), "float32", "ones")
        self._streams = StepStreams(self.seed, self.step)
        self._kind = net_kinds.for_generator(generator, self.blend, level)  # MLP or style nets, fixed from here on
        self._ema = ExponentialMovingAverage(self.training_nets)
        # Keras finds weights, and so checkpoints find the EMA nets, through the model's layer attributes.
        self.ema_mapping, self.ema_generator, self.ema_encoder, self.ema_discriminator = self._ema.copies
        tracked = [name for name in _TAKEN_BY if name != "recon_pixels" or self.pixel_reconstruction_weight]
        self.loss_trackers = {name: keras.metrics.Mean(name=name) for name in tracked}
        self._init_refinement(
            generator, refine_anchor_weight, refine_anchor_samples, refine_edge_weight, refine_edge_window
        )
        self.ed_optimizer = self.fg_optimizer = None
        self.train_step_traces = 0
        self.built = True

    def _state(self, name, shape, dtype, initializer):
        return self.add_weight(name=name, shape=shape, dtype=dtype, initializer=initializer, trainable=False)

    @property
    def training_nets(self):
        return (self.mapping, self.generator, self.encoder, self.discriminator)

    @property
    def ema_nets(self):
        return (self.ema_mapping, self.ema_generator, self.ema_encoder, self.ema_discriminator)

    def nets(self, use_ema=True):
        """`(F, G, E, D)`: the EMA copies (default) or the trained nets."""
        return self.ema_nets if use_ema else self.training_nets

    @property
    def ed_variables(self):
        return self.encoder.trainable_variables + self.discriminator.trainable_variables

    @property
    def fg_variables(self):
        return self.mapping.trainable_variables + self.generator.trainable_variables

    @property
    def is_style(self):
        """True for style nets, False for the MLP nets."""
        return self._kind.is_style

    @property
    def level(self):
        """The style nets' level (a Python int), None for MLP nets."""
        return self._kind.level

    @property
    def resolution(self):
        """Side in px of the images G makes and E reads at the current level."""
        return self._kind.resolution

    def at_current_resolution(self, images):
        """Full-resolution images `[B, H, W, C]` pooled (2x2 average per halving) to the current level."""
        return self._kind.at_current_resolution(images)

    def set_level(self, level: int, reset_optimizers: bool = False) -> None:
        """Train and infer at `level` from now on (style nets; MLP nets raise ValueError).

        The train function is dropped only when the level changes, so `fit` traces once per level. With
        `reset_optimizers` (as the official code does when a level starts) both optimizers' slots and
        iteration counts go back to zero, not their learning rates or loss scales.
        """
        if self._kind.set_level(level):
            self.train_function = None
        for optimizer in (self.ed_optimizer, self.fg_optimizer) if reset_optimizers else ():
            reset_slots(optimizer)

    def synthesize(self, generator, styles, noise_seed=None, training=False):
        """G (the trained or EMA one) on w `[B, latent]` or, for style nets, styles `[B, 2L, latent]`."""
        return self._kind.synthesize(generator, styles, noise_seed=noise_seed, training=training)

    def run_encoder(self, encoder, images, training=False):
        """E (the trained or EMA one) on images at the current resolution -> w `[B, latent]`."""
        return self._kind.run_encoder(encoder, images, training=training)

    def compile(self, ed_optimizer, fg_optimizer, jit_compile=False, loss_scaling=None, **kwargs):
        """Attach the E/D and F/G optimizers (Adam, beta1 0, beta2 0.99 in ALAE).

        Both are built here, on their variables: an unbuilt optimizer restored from a checkpoint silently
        drops its slots. With `loss_scaling` (default: nets in float16) each gets its own LossScaleOptimizer.
        """
        if loss_scaling or (loss_scaling is None and self.mapping.dtype_policy.compute_dtype == "float16"):
            ed_optimizer, fg_optimizer = with_loss_scaling(ed_optimizer), with_loss_scaling(fg_optimizer)
        super().compile(optimizer=None, jit_compile=jit_compile, **kwargs)
        self.ed_optimizer, self.fg_optimizer = ed_optimizer, fg_optimizer
        ed_optimizer.build(self.ed_variables)
        fg_optimizer.build(self.fg_variables)

    @property
    def metrics(self):
        return list(self.loss_trackers.values()) + list(self.refine_trackers.values())

    def _fake_styles(self, z, mix_purpose=None):
        """`(G's input, w)` for fakes from z; with `mix_purpose` (steps I and II) styles may be mixed."""
        w = self.mapping(z, training=True)
        # The running mean of w follows the global batch's mean: all replicas keep the same one.
        batch_mean = distribute.global_mean(tf.reduce_mean(w, axis=0), tf.shape(w)[0])
        distribute.assign_local(self.dlatent_avg, batch_mean + self.dlatent_avg_beta * (self.dlatent_avg - batch_mean))
        styles = self._kind.styles_from_w(w)
        if mix_purpose is None or self.style_mixing_prob <= 0.0:
            return styles, w
        return self._kind.mix_styles(styles, z, self.mapping, self._streams.key(mix_purpose), self.style_mixing_prob), w

    def _fake_images(self, z, mix_purpose, noise_purpose):
        styles, w = self._fake_styles(z, mix_purpose)
        return self.synthesize(self.generator, styles, noise_seed=self._streams.key(noise_purpose), training=True), w

    def _critic(self, images):
        """D(E(x)) `[B]` with the trained nets."""
        return self.discriminator(self.run_encoder(self.encoder, images, training=True), training=True)

    def discriminator_step(self, x, z):
        """Step I: update E and D on real `x` and z `[B, latent]`.

        Returns `{"loss_d" (with R1), "r1", "taken", "updated"}`: the replica's batch means, whether the update
        was applied (False only when loss scaling skipped it), and the variables it applies to (a Python list;
        every step returns these two keys). For style nets `x` is fade-in blended first and R1 taken on that
        blended input, as the official loop does.
        """
        x_fake = tf.stop_gradient(tf.cast(self._fake_images(z, MIX_D, NOISE_D)[0], x.dtype))
        x = self._kind.prepare_real(x)
        with tf.GradientTape() as tape:
            d_real, r1 = self._logits_and_lazy_r1(x)
            loss = losses.discriminator_logistic(d_real, self._critic(x_fake)) + r1
        taken, updated = minimize(tape, loss, [(self.ed_optimizer, self.ed_variables)], tf.shape(x)[0])
        return {"loss_d": loss, "r1": r1, "taken": taken, "updated": updated}

    def _logits_and_lazy_r1(self, x):
        """`(D(E(x)) [B], R1)`, R1 every `r1_interval` steps at `r1_interval` times the weight, else 0."""
        scale = input_gradient_scale(self.ed_optimizer)
        if self.r1_interval == 1:
            return _logits_and_r1(self._critic, x, self.r1_gamma, scale)
        gamma = self.r1_gamma * self.r1_interval

        def without_r1():
            d_real = self._critic(x)
            return d_real, tf.zeros((), d_real.dtype)

        # A cond, not a Python branch: one trace serves both kinds of step, and the skipped
        # steps do not run R1's double backward (the reason for lazy R1).
        return tf.cond(
            tf.equal(self.step % self.r1_interval, 0),
            lambda: _logits_and_r1(self._critic, x, gamma, scale),
            without_r1,
        )

    def generator_step(self, z):
        """Step II: update F and G through the frozen E and D. Returns `{"loss_g", "taken", "updated"}`."""
        with tf.GradientTape() as tape:
            loss = losses.generator_nonsaturating(self._critic(self._fake_images(z, MIX_G, NOISE_G)[0]))
        taken, updated = minimize(tape, loss, [(self.fg_optimizer, self.fg_variables)], tf.shape(z)[0])
        return {"loss_g": loss, "taken": taken, "updated": updated}

    def autoencoder_step(self, z, x=None):
        """Step III: latent autoencoding `E(G(F(z))) ~ F(z)`. Returns `{"loss_ae", "taken", "updated"}`.

        With `pixel_reconstruction_weight` > 0, `x` (the real batch, fade-in blended for style nets) is
        needed too: the loss adds the weight times `mean((G(E(x)) - x)^2)`, alone in "recon_pixels".
        """
        fg_nets = (self.mapping, self.generator) if self.autoencoder_variables == "official" else (self.generator,)
        with tf.GradientTape() as tape:
            x_fake, w = self._fake_images(z, None, NOISE_AE)  # no style mixing in step III
            loss = losses.latent_reconstruction(self.run_encoder(self.encoder, x_fake, training=True), w)
            results = {}
            if self.pixel_reconstruction_weight:
                if x is None:
                    raise ValueError("autoencoder_step: pixel_reconstruction_weight > 0 needs the real batch x")
                styles_real = self._kind.styles_from_w(self.run_encoder(self.encoder, x, training=True))
                x_redrawn = self.synthesize(self.generator, styles_real, self._streams.key(NOISE_AE), training=True)
                results["recon_pixels"] = losses.pixel_reconstruction(x_redrawn, x)
                loss = loss + self.pixel_reconstruction_weight * results["recon_pixels"]
        fg_variables = [v for net in fg_nets for v in net.trainable_variables]
        groups = [(self.ed_optimizer, self.encoder.trainable_variables), (self.fg_optimizer, fg_variables)]
        taken, updated = minimize(tape, loss, groups, tf.shape(z)[0])
        return {"loss_ae": loss, **results, "taken": taken, "updated": updated}

    def update_ema(self, batch_size, variables=None):
        """Move the EMA nets towards the trained ones after a global batch (`ExponentialMovingAverage.update`)."""
        self._ema.update(batch_size, self.ema_halflife_images, variables)

    def alternating_update(self, x: tf.Tensor, z_d: tf.Tensor, z_g: tf.Tensor, z_ae: tf.Tensor) -> dict:
        """One full ALAE iteration with given z `[B, latent]` for steps I, II and III (this replica's rows).

        Returns global-batch means (float32 scalars) `loss_d` (with R1), `r1`, `loss_g`, `loss_ae` (and
        `recon_pixels`), and bools `ed_taken` / `fg_taken` / `ae_taken`: whether each step was applied
        (loss scaling skips steps with non-finite gradients, whose losses then mean nothing).
        """
        x = tf.cast(x, self.encoder.variable_dtype)  # float32 (float64 for parity checks), never half
        batch_size = tf.shape(x)[0]
        step_1 = self.discriminator_step(x, z_d)
        step_2 = self.generator_step(z_g)
        step_3 = self.autoencoder_step(z_ae, self._kind.prepare_real(x) if self.pixel_reconstruction_weight else None)
        _, global_batch = distribute.batch_layout(batch_size)
        self.update_ema(global_batch, step_1["updated"] + step_2["updated"] + step_3["updated"])
        distribute.assign_local(self.step, self.step + 1)
        distribute.assign_local(self.images_seen, self.images_seen + tf.cast(global_batch, tf.int64))
        values = {"loss_d": step_1["loss_d"], "r1": step_1["r1"], "loss_g": step_2["loss_g"], **step_3}
        means = {name: distribute.global_mean(values[name], batch_size) for name in _TAKEN_BY if name in values}
        return {**means, "ed_taken": step_1["taken"], "fg_taken": step_2["taken"], "ae_taken": step_3["taken"]}

    def draw_latents(self, batch_size, count=3):
        """`count` z batches `[B, latent]` keyed by (seed, step); under a strategy, this replica's rows."""
        return self._streams.latents(batch_size, self.latent_size, count)

    def train_step(self, data):
        # Runs in Python once per trace: tests count traces per level with it.
        self.train_step_traces += 1
        x = _as_images(data)
        if self._refining:
            results = self.refinement_update(x, self.draw_latents(self.anchor_rows(tf.shape(x)[0]), count=1)[0])
            trackers, taken_by = self.refine_trackers, REFINE_TAKEN_BY
        else:
            results = self.alternating_update(x, *self.draw_latents(tf.shape(x)[0]))
            trackers, taken_by = self.loss_trackers, _TAKEN_BY
        # A step skipped by loss scaling is kept out of the running means.
        for name, tracker in trackers.items():
            tracker.update_state(results[name], sample_weight=tf.cast(results[taken_by[name]], tf.float32))
        # Multi-worker fit reduces the outputs along a batch axis: `distribute.step_outputs` gives them one.
        return distribute.step_outputs({name: tracker.result() for name, tracker in trackers.items()})

    def generate(self, z, truncation_psi=None, truncation_cutoff=None, use_ema=True, noise_seed=None) -> tf.Tensor:
        """Images `[B, H, W, C]` (current level) from z `[B, latent]`.

        Truncation (for showing samples only; training and metrics use none): w moves towards `dlatent_avg` by
        `truncation_psi`; for style nets only the first `truncation_cutoff` style layers move (default: the
        model's; all layers when that is None too). `noise_seed` (`[2]` ints) fixes the style generator's noise.
        """
        mapping, generator, _, _ = self.nets(use_ema)
        truncation_cutoff = self.truncation_cutoff if truncation_cutoff is None else truncation_cutoff
        w = mapping(z, training=False)
        styles = self._kind.styles_from_w(w)
        if truncation_psi is not None:
            styles = self._kind.truncate(styles, tf.cast(self.dlatent_avg, w.dtype), truncation_psi, truncation_cutoff)
        return self.synthesize(generator, styles, noise_seed=noise_seed)

    def encode(self, images: tf.Tensor, use_ema: bool = True) -> tf.Tensor:
        """w `[B, dlatent]` from images `[B, H, W, C]` (current level) in the training pixel range."""
        return self.run_encoder(self.nets(use_ema)[2], images)

    def decode(self, w: tf.Tensor, use_ema: bool = True, noise_seed=None) -> tf.Tensor:
        """Images `[B, H, W, C]` (current level) from w `[B, dlatent]`."""
        return self.synthesize(self.nets(use_ema)[1], w, noise_seed=noise_seed)

    def reconstruct(self, images: tf.Tensor, use_ema: bool = True, noise_seed=None) -> tf.Tensor:
        """`G(E(x))`, images in, images out (current level)."""
        return self.decode(self.encode(images, use_ema), use_ema, noise_seed=noise_seed)

    def call(self, images, training=False):
        return self.reconstruct(images, use_ema=not training)

    def get_config(self):
        nets = {key: keras.saving.serialize_keras_object(getattr(self, key)) for key in _NETS}
        return {"name": self.name, **nets, **{key: getattr(self, key) for key in _CONFIG_FIELDS}}

    @classmethod
    def from_config(cls, config):
        return cls(**{**config, **{key: keras.saving.deserialize_keras_object(config[key]) for key in _NETS}})


def _check_options(autoencoder_variables, pixel_reconstruction_weight, r1_interval):
    if isinstance(r1_interval, bool) or int(r1_interval) != r1_interval or r1_interval < 1:
        raise ValueError(f"r1_interval must be an integer >= 1, got {r1_interval!r}")
    if autoencoder_variables not in AUTOENCODER_VARIABLES:
        raise ValueError(f"autoencoder_variables must be one of {AUTOENCODER_VARIABLES}, got {autoencoder_variables!r}")
    if float(pixel_reconstruction_weight) < 0:
        raise ValueError(f"pixel_reconstruction_weight must be >= 0, got {pixel_reconstruction_weight}")


def _logits_and_r1(critic, x, gamma, scale):
    """`(critic(x) [B], R1)`: R1 = gamma/2 * ||d sum critic(x) / dx||^2, by a tape nested in the caller's.

    Under float16 loss scaling the input gradient is taken at `scale` (the
    square root of the loss scale, `input_gradient_scale`) and divided back.
    """
    with tf.GradientTape(watch_accessed_variables=False) as tape:
        tape.watch(x)
        d_real = critic(x)
        real_sum = tf.reduce_sum(d_real)
    real_grads = tape.gradient(real_sum, x, output_gradients=scale)
    if scale is not None:
        real_grads = real_grads / scale
    return d_real, losses.r1_penalty(real_grads, gamma)

"""`ALAE`: the keras.Model that trains F, G, E and D with three alternating updates."""

import keras
import tensorflow as tf

from alae_tf import losses
from alae_tf.layers import downsample_avg_to, fade_in_real_images
from alae_tf.networks.style_generator import StyleGenerator, check_level

# Purposes folded into the per-step key (seed, step): every random draw of a
# step gets its own stream, and a resumed run replays them exactly.
_MIX_D, _MIX_G, _NOISE_D, _NOISE_G, _NOISE_AE = range(1, 6)

AUTOENCODER_VARIABLES = ("official", "paper")


def _as_images(data):
    """fit() hands over whatever the dataset yields: images, or (images, labels)."""
    if isinstance(data, (tuple, list)):
        return data[0]
    if isinstance(data, dict):
        return data["images"]
    return data


def _apply_gradients(optimizer, gradients, variables):
    """`optimizer.apply` on the variables that got a gradient.

    Style nets hold every level's layers, but a level uses only some of them
    (and D gets none in step III): those are skipped silently instead of
    with Keras' per-trace warning.
    """
    pairs = [(g, v) for g, v in zip(gradients, variables) if g is not None]
    optimizer.apply([g for g, _ in pairs], [v for _, v in pairs])


@keras.saving.register_keras_serializable(package="alae_tf")
class ALAE(keras.Model):
    """Adversarial Latent Autoencoder: F (z -> w), G (w -> x), E (x -> w), D (w -> logit).

    `train_step` runs, per batch and in this order (Pidhorskyi et al. 2020):

    I.   E and D (E/D optimizer): `softplus(D(E(G(F(z))))) + softplus(-D(E(x)))
         + gamma/2 * ||d D(E(x)) / dx||^2`, fakes made without gradient, R1 by a
         nested tape on the real batch.
    II.  F and G (F/G optimizer): `softplus(-D(E(G(F(z)))))`; gradients flow
         through E and D into G, but E and D do not move.
    III. latent autoencoding: `mean((E(G(F(z))) - stop_gradient(F(z)))^2)`.
         `autoencoder_variables="official"` (default) steps E with the E/D
         optimizer and F and G with the F/G optimizer, as the authors' code
         does (F moves through G's input); `"paper"` moves only E and G, as
         the paper's text says.

    Then an exponential moving average of all four nets (half-life
    `ema_halflife_images` images) is updated; sampling, evaluation and export
    use it. `dlatent_avg` tracks the mean of w for truncation.

    Each step draws its own z from `tf.random.stateless_normal` keyed by
    (`seed`, the step counter), so a resumed run draws exactly the z an
    uninterrupted one would. Style mixing and the generator's per-pixel
    noise are keyed by (`seed`, step) too.

    Two kinds of nets, one interface (chosen by the generator's type):

    - MLP nets (the paper's MNIST model): G is called as `G(w)`, E as
      `E(x)`; `level` is None.
    - Style nets (`StyleGenerator` / `StyleEncoder`): G is called as
      `G(styles [B, 2 * layer_count, latent], level=self.level,
      blend=self.blend, noise_seed=...)` and E as `E(x, level=, blend=)`.
      `level` is a Python int (one `tf.function` trace per level: change it
      only with `set_level`), `blend` a non-trainable float32 variable the
      training loop assigns before each step (1 = no fade-in). In step I the
      real batch is fade-in blended (`fade_in_real_images`) before E and R1
      see it. Steps I and II mix styles with probability
      `style_mixing_prob`: a second z's w replaces the styles from a cutoff
      drawn uniformly in {1 .. 2(level + 1)}; step III never mixes.

    Args:
        mapping: F, `[B, latent] -> [B, dlatent]`, with `latent_size` and
            `dlatent_size` attributes.
        generator: G, `[B, dlatent] -> [B, H, W, C]`.
        encoder: E, `[B, H, W, C] -> [B, dlatent]`.
        discriminator: D, `[B, dlatent] -> [B]` logits.
        r1_gamma: R1 weight.
        ema_halflife_images: EMA half-life in images (`beta = 0.5 ** (B / h)`).
        dlatent_avg_beta: decay of the running mean of w.
        autoencoder_variables: `"official"` or `"paper"` (see above).
        seed: seed of the z, style-mixing and noise streams.
        style_mixing_prob: probability of style mixing per step (style nets).
        truncation_psi, truncation_cutoff: default truncation of `generate`
            (style nets: only the first `truncation_cutoff` style layers move
            towards `dlatent_avg`); never used in training.
        level: initial level of style nets (default: the last).
    """

    def __init__(self, mapping, generator, encoder, discriminator, r1_gamma=10.0, ema_halflife_images=10000.0,
                 dlatent_avg_beta=0.995, autoencoder_variables="official", seed=0, style_mixing_prob=0.0,
                 truncation_psi=None, truncation_cutoff=None, level=None, **kwargs):
        super().__init__(**kwargs)
        if autoencoder_variables not in AUTOENCODER_VARIABLES:
            raise ValueError(f"autoencoder_variables must be one of {AUTOENCODER_VARIABLES}, got {autoencoder_variables!r}")
        self.mapping = mapping
        self.generator = generator
        self.encoder = encoder
        self.discriminator = discriminator
        self.r1_gamma = float(r1_gamma)
        self.ema_halflife_images = float(ema_halflife_images)
        self.dlatent_avg_beta = float(dlatent_avg_beta)
        self.autoencoder_variables = autoencoder_variables
        self.seed = int(seed)
        self.latent_size = int(mapping.latent_size)
        self.dlatent_size = int(mapping.dlatent_size)
        self.style_mixing_prob = float(style_mixing_prob)
        self.truncation_psi = None if truncation_psi is None else float(truncation_psi)
        self.truncation_cutoff = None if truncation_cutoff is None else int(truncation_cutoff)
        self.is_style = isinstance(generator, StyleGenerator)
        if self.is_style:
            self.level = check_level(level, generator.layer_count, "ALAE")
        elif level is not None:
            raise ValueError("ALAE: level applies to style nets only")
        else:
            self.level = None

        self.ema_mapping = self._ema_copy(mapping)
        self.ema_generator = self._ema_copy(generator)
        self.ema_encoder = self._ema_copy(encoder)
        self.ema_discriminator = self._ema_copy(discriminator)

        self.step = self.add_weight(name="step", shape=(), dtype="int64", initializer="zeros", trainable=False)
        self.images_seen = self.add_weight(
            name="images_seen", shape=(), dtype="int64", initializer="zeros", trainable=False
        )
        self.dlatent_avg = self.add_weight(
            name="dlatent_avg", shape=(self.dlatent_size,), dtype="float32", initializer="zeros", trainable=False
        )
        # A variable, not a Python float: a float would be frozen into the
        # trace, and each new value would retrace. Checkpointed with the
        # model, so a restored run renders at the blend it stopped at.
        self.blend = self.add_weight(name="blend", shape=(), dtype="float32", initializer="ones", trainable=False)
        self.loss_trackers = {name: keras.metrics.Mean(name=name) for name in ("loss_d", "r1", "loss_g", "loss_ae")}
        self.ed_optimizer = None
        self.fg_optimizer = None
        self.train_step_traces = 0
        self.built = True

    @staticmethod
    def _ema_copy(net):
        copy = type(net).from_config({**net.get_config(), "name": f"ema_{net.name}"})
        copy.trainable = False
        for target, source in zip(copy.weights, net.weights):
            target.assign(source)
        return copy

    # ------------------------------------------------------------------ nets
    @property
    def training_nets(self):
        return (self.mapping, self.generator, self.encoder, self.discriminator)

    @property
    def ema_nets(self):
        return (self.ema_mapping, self.ema_generator, self.ema_encoder, self.ema_discriminator)

    def nets(self, use_ema=True):
        """`(F, G, E, D)`: the EMA copies (default) or the trained nets."""
        return self.ema_nets if use_ema else self.training_nets

    # ------------------------------------------------------------ growing
    @property
    def resolution(self):
        """Side in px of the images G makes and E reads at the current level."""
        return self.generator.resolutions[self.level] if self.is_style else self.generator.image_shape[0]

    def at_current_resolution(self, images):
        """Full-resolution images `[B, H, W, C]` pooled (2x2 average per halving) to the current level."""
        return downsample_avg_to(images, self.resolution) if self.is_style else images

    def set_level(self, level, reset_optimizers=False):
        """Train and infer at `level` from now on (style nets).

        The train function is dropped only when the level changes, so
        `fit` traces once per level. With `reset_optimizers` (the official
        code does it when a level starts) both optimizers' slots and
        iteration counts go back to zero.
        """
        if not self.is_style:
            raise ValueError("ALAE.set_level: the MLP nets have no levels")
        level = check_level(level, self.generator.layer_count, "ALAE.set_level")
        if level != self.level:
            self.level = level
            self.train_function = None
        if reset_optimizers:
            self.reset_optimizer_state()

    def reset_optimizer_state(self):
        """Zero every optimizer variable (Adam moments, iterations) but the learning rate."""
        for optimizer in (self.ed_optimizer, self.fg_optimizer):
            for variable in optimizer.variables:
                if variable is not optimizer.learning_rate:
                    variable.assign(tf.zeros(variable.shape, variable.dtype))

    def run_generator(self, generator, styles, noise_seed=None, training=False):
        """G (the trained or EMA one) on w `[B, latent]` or, for style nets, styles `[B, 2L, latent]`."""
        if not self.is_style:
            return generator(styles, training=training)
        return generator(styles, level=self.level, blend=self.blend, noise_seed=noise_seed, training=training)

    def run_encoder(self, encoder, images, training=False):
        """E (the trained or EMA one) on images at the current resolution -> w `[B, latent]`."""
        if not self.is_style:
            return encoder(images, training=training)
        return encoder(images, level=self.level, blend=self.blend, training=training)

    def _step_key(self, purpose):
        """A `[2]` stateless seed for one random draw of the current step."""
        key = tf.stack([tf.constant(self.seed, tf.int64), tf.cast(self.step, tf.int64)])
        return tf.random.experimental.stateless_fold_in(key, purpose)

    def _fake_styles(self, z, mix_purpose=None):
        """`(G's input, w)` for fakes from z: w, or styles with optional style mixing.

        With `mix_purpose` (steps I and II) and probability
        `style_mixing_prob`, the styles from a cutoff drawn uniformly in
        {1 .. 2(level + 1)} (the active style layers) come from a second z.
        """
        w = self.mapping(z, training=True)
        self._track_dlatent(w)
        if not self.is_style:
            return w, w
        slots = self.generator.num_styles
        styles = tf.repeat(w[:, None], slots, axis=1)
        if mix_purpose is None or self.style_mixing_prob <= 0.0:
            return styles, w
        key = self._step_key(mix_purpose)
        z_mix = tf.random.stateless_normal(tf.shape(z), seed=tf.random.experimental.stateless_fold_in(key, 0))
        w_mix = self.mapping(tf.cast(z_mix, z.dtype), training=True)
        mix = tf.random.stateless_uniform((), seed=tf.random.experimental.stateless_fold_in(key, 1))
        cutoff = tf.random.stateless_uniform(
            (), seed=tf.random.experimental.stateless_fold_in(key, 2), minval=1, maxval=2 * (self.level + 1) + 1,
            dtype=tf.int32,
        )
        cutoff = tf.where(mix < self.style_mixing_prob, cutoff, slots)  # no mixing: every slot from w
        first = tf.range(slots)[None, :, None] < cutoff
        return tf.where(first, styles, tf.repeat(w_mix[:, None], slots, axis=1)), w

    @property
    def ed_variables(self):
        return self.encoder.trainable_variables + self.discriminator.trainable_variables

    @property
    def fg_variables(self):
        return self.mapping.trainable_variables + self.generator.trainable_variables

    # --------------------------------------------------------------- compile
    def compile(self, ed_optimizer, fg_optimizer, jit_compile=False, **kwargs):
        """Attach the E/D and F/G optimizers (Adam, beta1 0, beta2 0.99 in ALAE).

        Both are built here, on their variables: an unbuilt optimizer restored
        from a checkpoint silently drops its slots.
        """
        super().compile(optimizer=None, jit_compile=jit_compile, **kwargs)
        self.ed_optimizer = ed_optimizer
        self.fg_optimizer = fg_optimizer
        ed_optimizer.build(self.ed_variables)
        fg_optimizer.build(self.fg_variables)

    @property
    def metrics(self):
        return list(self.loss_trackers.values())

    # ----------------------------------------------------------------- steps
    def _track_dlatent(self, w):
        batch_mean = tf.reduce_mean(tf.cast(w, tf.float32), axis=0)
        self.dlatent_avg.assign(batch_mean + self.dlatent_avg_beta * (self.dlatent_avg - batch_mean))

    def discriminator_step(self, x, z):
        """Step I: update E and D. Returns `(loss_d, r1)` (loss_d includes r1).

        For style nets `x` is fade-in blended first; R1 is taken on that
        blended input, as the official loop does.
        """
        styles, _ = self._fake_styles(z, _MIX_D)
        x_fake = self.run_generator(self.generator, styles, noise_seed=self._step_key(_NOISE_D), training=True)
        x_fake = tf.stop_gradient(tf.cast(x_fake, x.dtype))
        if self.is_style and self.level > 0:
            x = fade_in_real_images(x, tf.cast(self.blend, x.dtype))
        variables = self.ed_variables
        with tf.GradientTape() as tape:
            with tf.GradientTape(watch_accessed_variables=False) as r1_tape:
                r1_tape.watch(x)
                d_real = self.discriminator(self.run_encoder(self.encoder, x, training=True), training=True)
                real_sum = tf.reduce_sum(losses.at_least_float32(d_real))
            real_grads = r1_tape.gradient(real_sum, x)
            d_fake = self.discriminator(self.run_encoder(self.encoder, x_fake, training=True), training=True)
            r1 = losses.r1_penalty(real_grads, self.r1_gamma)
            loss = losses.discriminator_logistic(d_real, d_fake) + r1
        _apply_gradients(self.ed_optimizer, tape.gradient(loss, variables), variables)
        return loss, r1

    def generator_step(self, z):
        """Step II: update F and G through the frozen E and D. Returns loss_g."""
        variables = self.fg_variables
        with tf.GradientTape() as tape:
            styles, _ = self._fake_styles(z, _MIX_G)
            x_fake = self.run_generator(self.generator, styles, noise_seed=self._step_key(_NOISE_G), training=True)
            d_fake = self.discriminator(self.run_encoder(self.encoder, x_fake, training=True), training=True)
            loss = losses.generator_nonsaturating(d_fake)
        _apply_gradients(self.fg_optimizer, tape.gradient(loss, variables), variables)
        return loss

    def autoencoder_step(self, z):
        """Step III: latent autoencoding `E(G(F(z))) ~ F(z)`. Returns loss_ae."""
        ed_variables = self.encoder.trainable_variables
        fg_variables = list(self.generator.trainable_variables)
        if self.autoencoder_variables == "official":
            fg_variables = self.mapping.trainable_variables + fg_variables
        with tf.GradientTape() as tape:
            styles, w = self._fake_styles(z)  # no style mixing in step III
            x_fake = self.run_generator(self.generator, styles, noise_seed=self._step_key(_NOISE_AE), training=True)
            w_reconstructed = self.run_encoder(self.encoder, x_fake, training=True)
            loss = losses.latent_reconstruction(w_reconstructed, w)
        grads = tape.gradient(loss, ed_variables + fg_variables)
        _apply_gradients(self.ed_optimizer, grads[: len(ed_variables)], ed_variables)
        _apply_gradients(self.fg_optimizer, grads[len(ed_variables):], fg_variables)
        return loss

    def update_ema(self, batch_size):
        """Move the EMA nets towards the trained ones: `ema += (1 - beta) * (net - ema)`."""
        beta = tf.pow(0.5, tf.cast(batch_size, tf.float32) / self.ema_halflife_images)
        for net, ema in zip(self.training_nets, self.ema_nets):
            for source, target in zip(net.weights, ema.weights):
                target.assign(target + (1.0 - beta) * (source - target))

    def alternating_update(self, x, z_d, z_g, z_ae):
        """One full ALAE iteration with given z for steps I, II and III.

        Returns a dict of float32 scalars: `loss_d` (with R1), `r1`, `loss_g`,
        `loss_ae`.
        """
        x = tf.convert_to_tensor(x, tf.float32)
        loss_d, r1 = self.discriminator_step(x, z_d)
        loss_g = self.generator_step(z_g)
        loss_ae = self.autoencoder_step(z_ae)
        batch_size = tf.shape(x)[0]
        self.update_ema(batch_size)
        self.step.assign_add(1)
        self.images_seen.assign_add(tf.cast(batch_size, tf.int64))
        return {"loss_d": loss_d, "r1": r1, "loss_g": loss_g, "loss_ae": loss_ae}

    def draw_latents(self, batch_size, count=3):
        """`count` z batches `[B, latent]` keyed by (seed, step): the same step gives the same z."""
        base = tf.cast(self.step, tf.int64) * count
        return [
            tf.random.stateless_normal(
                (batch_size, self.latent_size), seed=tf.stack([tf.constant(self.seed, tf.int64), base + k])
            )
            for k in range(count)
        ]

    def train_step(self, data):
        # Runs in Python once per trace: tests count traces per level with it.
        self.train_step_traces += 1
        x = _as_images(data)
        z_d, z_g, z_ae = self.draw_latents(tf.shape(x)[0])
        results = self.alternating_update(x, z_d, z_g, z_ae)
        for name, value in results.items():
            self.loss_trackers[name].update_state(value)
        return {name: tracker.result() for name, tracker in self.loss_trackers.items()}

    # -------------------------------------------------------------- inference
    def generate(self, z, truncation_psi=None, truncation_cutoff=None, use_ema=True, noise_seed=None):
        """Images `[B, H, W, C]` (current level) from z `[B, latent]`.

        Truncation (for showing samples only; training and metrics use
        none): w moves towards `dlatent_avg` by `truncation_psi`; for style
        nets only the first `truncation_cutoff` style layers move (default:
        the model's `truncation_cutoff`; all layers when that is None too).
        `noise_seed` (`[2]` ints) makes the style generator's noise
        reproducible.
        """
        mapping, generator, _, _ = self.nets(use_ema)
        truncation_cutoff = self.truncation_cutoff if truncation_cutoff is None else truncation_cutoff
        w = mapping(z, training=False)
        styles = tf.repeat(w[:, None], self.generator.num_styles, axis=1) if self.is_style else w
        if truncation_psi is not None:
            avg = tf.cast(self.dlatent_avg, w.dtype)
            truncated = avg + truncation_psi * (styles - avg)
            if self.is_style and truncation_cutoff is not None:
                first = tf.range(self.generator.num_styles)[None, :, None] < truncation_cutoff
                truncated = tf.where(first, truncated, styles)
            styles = truncated
        return self.run_generator(generator, styles, noise_seed=noise_seed)

    def encode(self, images, use_ema=True):
        """w `[B, dlatent]` from images `[B, H, W, C]` (current level) in the training pixel range."""
        return self.run_encoder(self.nets(use_ema)[2], images)

    def decode(self, w, use_ema=True, noise_seed=None):
        """Images `[B, H, W, C]` (current level) from w `[B, dlatent]`."""
        return self.run_generator(self.nets(use_ema)[1], w, noise_seed=noise_seed)

    def reconstruct(self, images, use_ema=True, noise_seed=None):
        """`G(E(x))`, images in, images out (current level)."""
        return self.decode(self.encode(images, use_ema), use_ema, noise_seed=noise_seed)

    def call(self, images, training=False):
        return self.reconstruct(images, use_ema=not training)

    # ----------------------------------------------------------------- config
    def get_config(self):
        return {
            "name": self.name,
            "mapping": keras.saving.serialize_keras_object(self.mapping),
            "generator": keras.saving.serialize_keras_object(self.generator),
            "encoder": keras.saving.serialize_keras_object(self.encoder),
            "discriminator": keras.saving.serialize_keras_object(self.discriminator),
            "r1_gamma": self.r1_gamma,
            "ema_halflife_images": self.ema_halflife_images,
            "dlatent_avg_beta": self.dlatent_avg_beta,
            "autoencoder_variables": self.autoencoder_variables,
            "seed": self.seed,
            "style_mixing_prob": self.style_mixing_prob,
            "truncation_psi": self.truncation_psi,
            "truncation_cutoff": self.truncation_cutoff,
            "level": self.level,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for key in ("mapping", "generator", "encoder", "discriminator"):
            config[key] = keras.saving.deserialize_keras_object(config[key])
        return cls(**config)

"""`ALAE`: the keras.Model that trains F, G, E and D with three alternating updates."""

import keras
import tensorflow as tf

from alae_tf import distribute, losses
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


def loss_scale(optimizer):
    """The dynamic loss scale of a `LossScaleOptimizer` (mixed_float16), else None."""
    if isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
        return tf.convert_to_tensor(optimizer.dynamic_scale.value)
    return None


def _apply_gradients(optimizer, gradients, variables):
    """`optimizer.apply` on the variables that got a gradient.

    Returns `(taken, updated)`: "the step was taken" and the variables it
    applied to (a Python list, fixed per trace).

    Style nets hold every level's layers, but a level uses only some of them
    (and D gets none in step III): those are skipped silently instead of
    with Keras' per-trace warning.

    Under loss scaling the step is skipped (and the scale halved) when any
    gradient is not finite on ANY replica: keras' LossScaleOptimizer looks at
    the first replica's local gradients only, so a non-finite value elsewhere
    would be all-reduced into the weights. Every replica then poisons its own
    gradients, so all of them skip together. Returns a scalar bool (True
    without loss scaling, where nothing is ever skipped).
    """
    pairs = [(g, v) for g, v in zip(gradients, variables) if g is not None]
    gradients, variables = [g for g, _ in pairs], [v for _, v in pairs]
    if loss_scale(optimizer) is None:
        optimizer.apply(gradients, variables)
        return tf.constant(True), variables
    local_finite = tf.reduce_all([tf.reduce_all(tf.math.is_finite(g)) for g in gradients])
    skip = distribute.any_replica(tf.logical_not(local_finite))
    poison = tf.where(skip, tf.constant(float("nan")), tf.constant(0.0))
    optimizer.apply([g + tf.cast(poison, g.dtype) for g in gradients], variables)
    return tf.logical_not(skip), variables


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
         the paper's text says. With `pixel_reconstruction_weight` > 0 (not in
         the paper; off by default) step III also adds that weight times
         `mean((G(E(x)) - x)^2)` on the real batch: the nets the step moves
         then learn to redraw real images, not only to agree on fakes' codes.

    Then an exponential moving average of all four nets (half-life
    `ema_halflife_images` images) is updated; sampling, evaluation and export
    use it. `dlatent_avg` tracks the mean of w for truncation.

    Each step draws its own z from `tf.random.stateless_normal` keyed by
    (`seed`, the step counter), so a resumed run draws exactly the z an
    uninterrupted one would. Style mixing and the generator's per-pixel
    noise are keyed by (`seed`, step) too.

    Scale and precision: built and compiled inside a `tf.distribute`
    strategy's scope, each replica runs the step on its rows of the global
    batch and draws its rows of the global z and noise, so the replica count
    does not change the result (`alae_tf.distribute`). Under mixed_float16,
    `compile` wraps each optimizer in its own LossScaleOptimizer and a step
    with a non-finite gradient on any replica is skipped everywhere.

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
        pixel_reconstruction_weight: weight of step III's pixel term on real
            images (0, the paper's: none).
    """

    def __init__(self, mapping, generator, encoder, discriminator, r1_gamma=10.0, ema_halflife_images=10000.0,
                 dlatent_avg_beta=0.995, autoencoder_variables="official", seed=0, style_mixing_prob=0.0,
                 truncation_psi=None, truncation_cutoff=None, level=None, pixel_reconstruction_weight=0.0, **kwargs):
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
        self.pixel_reconstruction_weight = float(pixel_reconstruction_weight)
        if self.pixel_reconstruction_weight < 0:
            raise ValueError(f"pixel_reconstruction_weight must be >= 0, got {pixel_reconstruction_weight}")
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
        tracked = ("loss_d", "r1", "loss_g", "loss_ae") + (("recon_pixels",) if self.pixel_reconstruction_weight else ())
        self.loss_trackers = {name: keras.metrics.Mean(name=name) for name in tracked}
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
        """Zero every optimizer variable (Adam moments, iterations) but the learning rate.

        A loss scale is kept: it tracks the float16 range, not the level.
        """
        for optimizer in (self.ed_optimizer, self.fg_optimizer):
            optimizer = getattr(optimizer, "inner_optimizer", optimizer)
            for variable in optimizer.variables:
                if variable is not optimizer.learning_rate:
                    variable.assign(tf.zeros(variable.shape, variable.dtype))

    def run_generator(self, generator, styles, noise_seed=None, training=False):
        """G (the trained or EMA one) on w `[B, latent]` or, for style nets, styles `[B, 2L, latent]`."""
        if not self.is_style:
            return generator(styles, training=training)
        noise = None
        if noise_seed is not None and distribute.num_replicas() > 1:
            # This replica's rows of the global batch's noise (map 0 is shared by the batch).
            local_batch = tf.shape(styles)[0]
            offset, global_batch = distribute.batch_layout(local_batch)
            maps = generator.draw_noise(self.level, global_batch, seed=noise_seed)
            noise = [m if k == 0 else m[offset:offset + local_batch] for k, m in enumerate(maps)]
            noise_seed = None
        return generator(styles, level=self.level, blend=self.blend, noise=noise, noise_seed=noise_seed,
                         training=training)

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
        z_mix = distribute.replica_rows(
            lambda rows: tf.random.stateless_normal(
                tf.stack([rows, self.latent_size]), seed=tf.random.experimental.stateless_fold_in(key, 0)
            ),
            tf.shape(z)[0],
        )
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
    def compile(self, ed_optimizer, fg_optimizer, jit_compile=False, loss_scaling=None, **kwargs):
        """Attach the E/D and F/G optimizers (Adam, beta1 0, beta2 0.99 in ALAE).

        Both are built here, on their variables: an unbuilt optimizer restored
        from a checkpoint silently drops its slots. With `loss_scaling` (default:
        when the nets compute in float16) each is wrapped in its own
        `keras.optimizers.LossScaleOptimizer`; keras' `compile` would wrap only
        `self.optimizer`, which this model does not use.
        """
        if loss_scaling is None:
            loss_scaling = self.mapping.dtype_policy.compute_dtype == "float16"
        if loss_scaling:
            ed_optimizer, fg_optimizer = (
                opt if isinstance(opt, keras.optimizers.LossScaleOptimizer) else keras.optimizers.LossScaleOptimizer(opt)
                for opt in (ed_optimizer, fg_optimizer)
            )
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
        # The global batch's mean (all replicas keep the same running mean).
        batch_mean = distribute.global_mean(tf.reduce_mean(w, axis=0), tf.shape(w)[0])
        distribute.assign_local(self.dlatent_avg, batch_mean + self.dlatent_avg_beta * (self.dlatent_avg - batch_mean))

    def _gradients(self, tape, loss, groups, batch_size):
        """Gradients of `loss` for each `(optimizer, variables)` group, in one backward pass.

        Scaled by `local / global` batch under a strategy (the optimizers sum
        over replicas) and, under loss scaling, by each optimizer's own scale:
        the pass runs at the smallest scale and the other groups' gradients
        are rescaled in float32 (exact, float32 does not overflow there).
        """
        scales = [loss_scale(optimizer) for optimizer, _ in groups]
        present = [scale for scale in scales if scale is not None]
        base = tf.reduce_min(tf.stack(present)) if present else None
        upstream = None
        for factor in (distribute.gradient_weight(batch_size), base):
            if factor is not None:
                upstream = factor if upstream is None else upstream * factor
        variables = [v for _, group in groups for v in group]
        grads = tape.gradient(loss, variables, output_gradients=None if upstream is None else tf.cast(upstream, loss.dtype))
        result, start = [], 0
        for (_, group), scale in zip(groups, scales):
            part = grads[start:start + len(group)]
            start += len(group)
            if scale is not None and len(present) > 1:
                ratio = scale / base
                part = [None if g is None else g * tf.cast(ratio, g.dtype) for g in part]
            result.append(part)
        return result

    def discriminator_step(self, x, z):
        """Step I: update E and D.

        Returns `{"loss_d" (with R1), "r1", "taken", "updated"}`: the
        replica's batch means, whether the update was applied (False only
        when loss scaling skipped it), and the variables it applies to (a
        Python list; the other steps return the same two keys). For style
        nets `x` is fade-in blended first; R1 is taken on that blended input,
        as the official loop does.
        """
        batch_size = tf.shape(x)[0]
        styles, _ = self._fake_styles(z, _MIX_D)
        x_fake = self.run_generator(self.generator, styles, noise_seed=self._step_key(_NOISE_D), training=True)
        x_fake = tf.stop_gradient(tf.cast(x_fake, x.dtype))
        if self.is_style and self.level > 0:
            x = fade_in_real_images(x, tf.cast(self.blend, x.dtype))
        variables = self.ed_variables
        # Under float16 loss scaling R1's input gradient is scaled too, by the
        # square root of the scale: unscaled it underflows in float16, and at
        # the full scale the second-order pass overflows.
        r1_scale = loss_scale(self.ed_optimizer)
        r1_scale = None if r1_scale is None else tf.sqrt(r1_scale)
        with tf.GradientTape() as tape:
            with tf.GradientTape(watch_accessed_variables=False) as r1_tape:
                r1_tape.watch(x)
                d_real = self.discriminator(self.run_encoder(self.encoder, x, training=True), training=True)
                real_sum = tf.reduce_sum(d_real)
            real_grads = r1_tape.gradient(real_sum, x, output_gradients=r1_scale)
            if r1_scale is not None:
                real_grads = real_grads / r1_scale
            d_fake = self.discriminator(self.run_encoder(self.encoder, x_fake, training=True), training=True)
            r1 = losses.r1_penalty(real_grads, self.r1_gamma)
            loss = losses.discriminator_logistic(d_real, d_fake) + r1
        (grads,) = self._gradients(tape, loss, [(self.ed_optimizer, variables)], batch_size)
        taken, updated = _apply_gradients(self.ed_optimizer, grads, variables)
        return {"loss_d": loss, "r1": r1, "taken": taken, "updated": updated}

    def generator_step(self, z):
        """Step II: update F and G through the frozen E and D. Returns `{"loss_g", "taken", "updated"}`."""
        variables = self.fg_variables
        with tf.GradientTape() as tape:
            styles, _ = self._fake_styles(z, _MIX_G)
            x_fake = self.run_generator(self.generator, styles, noise_seed=self._step_key(_NOISE_G), training=True)
            d_fake = self.discriminator(self.run_encoder(self.encoder, x_fake, training=True), training=True)
            loss = losses.generator_nonsaturating(d_fake)
        (grads,) = self._gradients(tape, loss, [(self.fg_optimizer, variables)], tf.shape(z)[0])
        taken, updated = _apply_gradients(self.fg_optimizer, grads, variables)
        return {"loss_g": loss, "taken": taken, "updated": updated}

    def autoencoder_step(self, z, x=None):
        """Step III: latent autoencoding `E(G(F(z))) ~ F(z)`. Returns `{"loss_ae", "taken", "updated"}`.

        With `pixel_reconstruction_weight` > 0, `x` (the real batch, fade-in blended for style
        nets) is needed too: the loss adds the weight times `mean((G(E(x)) - x)^2)`, returned
        alone as "recon_pixels".
        """
        ed_variables = self.encoder.trainable_variables
        fg_variables = list(self.generator.trainable_variables)
        if self.autoencoder_variables == "official":
            fg_variables = self.mapping.trainable_variables + fg_variables
        with tf.GradientTape() as tape:
            styles, w = self._fake_styles(z)  # no style mixing in step III
            x_fake = self.run_generator(self.generator, styles, noise_seed=self._step_key(_NOISE_AE), training=True)
            w_reconstructed = self.run_encoder(self.encoder, x_fake, training=True)
            loss = losses.latent_reconstruction(w_reconstructed, w)
            results = {}
            if self.pixel_reconstruction_weight:
                if x is None:
                    raise ValueError("autoencoder_step: pixel_reconstruction_weight > 0 needs the real batch x")
                w_real = self.run_encoder(self.encoder, x, training=True)
                if self.is_style:
                    w_real = tf.repeat(w_real[:, None], self.generator.num_styles, axis=1)
                x_redrawn = self.run_generator(self.generator, w_real, noise_seed=self._step_key(_NOISE_AE),
                                               training=True)
                results["recon_pixels"] = losses.pixel_reconstruction(x_redrawn, x)
                loss = loss + self.pixel_reconstruction_weight * results["recon_pixels"]
        ed_grads, fg_grads = self._gradients(
            tape, loss, [(self.ed_optimizer, ed_variables), (self.fg_optimizer, fg_variables)], tf.shape(z)[0]
        )
        ed_taken, ed_updated = _apply_gradients(self.ed_optimizer, ed_grads, ed_variables)
        fg_taken, fg_updated = _apply_gradients(self.fg_optimizer, fg_grads, fg_variables)
        return {"loss_ae": loss, **results, "taken": tf.logical_and(ed_taken, fg_taken),
                "updated": ed_updated + fg_updated}

    def update_ema(self, batch_size, variables=None):
        """Move the EMA nets towards the trained ones: `ema += (1 - beta) * (net - ema)`.

        `batch_size` is the global batch (the images the nets just learned
        from). `variables`: the trained variables to follow (default: all
        weights). The training step passes the ones its optimizers updated:
        a style net holds every level's layers, and at 4 px the EMA of the
        others was a large share of the step. The others are unchanged
        since their EMA copies were made equal to them (the levels not yet
        reached), or belong to layers no later level uses again (the to-RGB
        and from-RGB of levels left behind), whose EMA stays where their
        level ended.
        """
        beta = tf.pow(0.5, tf.cast(batch_size, tf.float32) / self.ema_halflife_images)
        follow = None if variables is None else {id(v) for v in variables}
        for net, ema in zip(self.training_nets, self.ema_nets):
            for source, target in zip(net.weights, ema.weights):
                if follow is not None and id(source) not in follow:
                    continue
                # `ema -= (1 - beta) * (ema - net)` as one fused in-place kernel (two
                # passes over the weights instead of four). On the variable's own
                # handle, so under a tf.distribute strategy each replica moves its
                # copy of the EMA by the same (all-reduced) amount.
                tf.raw_ops.ResourceApplyGradientDescent(
                    var=target.value.handle, alpha=tf.cast(1.0 - beta, target.dtype), delta=target.value - source.value,
                    use_locking=False,
                )

    def alternating_update(self, x, z_d, z_g, z_ae):
        """One full ALAE iteration with given z for steps I, II and III (this replica's rows).

        Returns float32 scalars, global-batch means: `loss_d` (with R1), `r1`,
        `loss_g`, `loss_ae`; and bools `ed_taken` / `fg_taken` / `ae_taken`:
        whether each step's update was applied (loss scaling skips steps with
        non-finite gradients; their losses are then not meaningful).
        """
        x = tf.cast(x, self.encoder.variable_dtype)  # float32 (float64 for parity checks), never half
        batch_size = tf.shape(x)[0]
        step_1 = self.discriminator_step(x, z_d)
        step_2 = self.generator_step(z_g)
        x_real = x
        if self.is_style and self.level > 0 and self.pixel_reconstruction_weight:
            x_real = fade_in_real_images(x, tf.cast(self.blend, x.dtype))
        step_3 = self.autoencoder_step(z_ae, x_real if self.pixel_reconstruction_weight else None)
        _, global_batch = distribute.batch_layout(batch_size)
        self.update_ema(global_batch, step_1["updated"] + step_2["updated"] + step_3["updated"])
        distribute.assign_local(self.step, self.step + 1)
        distribute.assign_local(self.images_seen, self.images_seen + tf.cast(global_batch, tf.int64))
        means = {
            name: distribute.global_mean(value, batch_size)
            for name, value in (("loss_d", step_1["loss_d"]), ("r1", step_1["r1"]), ("loss_g", step_2["loss_g"]),
                                ("loss_ae", step_3["loss_ae"]))
        }
        if "recon_pixels" in step_3:
            means["recon_pixels"] = distribute.global_mean(step_3["recon_pixels"], batch_size)
        return {**means, "ed_taken": step_1["taken"], "fg_taken": step_2["taken"], "ae_taken": step_3["taken"]}

    def draw_latents(self, batch_size, count=3):
        """`count` z batches `[B, latent]` keyed by (seed, step): the same step gives the same z.

        Under a strategy `batch_size` is the replica's: each replica gets its
        rows of the global batch's z (see `alae_tf.distribute`).
        """
        base = tf.cast(self.step, tf.int64) * count
        return [
            distribute.replica_rows(
                lambda rows, k=k: tf.random.stateless_normal(
                    tf.stack([rows, self.latent_size]), seed=tf.stack([tf.constant(self.seed, tf.int64), base + k])
                ),
                batch_size,
            )
            for k in range(count)
        ]

    def train_step(self, data):
        # Runs in Python once per trace: tests count traces per level with it.
        self.train_step_traces += 1
        x = _as_images(data)
        z_d, z_g, z_ae = self.draw_latents(tf.shape(x)[0])
        results = self.alternating_update(x, z_d, z_g, z_ae)
        # A step skipped by loss scaling is kept out of the running means.
        taken = {"loss_d": "ed_taken", "r1": "ed_taken", "loss_g": "fg_taken", "loss_ae": "ae_taken",
                 "recon_pixels": "ae_taken"}
        for name, tracker in self.loss_trackers.items():
            tracker.update_state(results[name], sample_weight=tf.cast(results[taken[name]], tf.float32))
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
            "pixel_reconstruction_weight": self.pixel_reconstruction_weight,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for key in ("mapping", "generator", "encoder", "discriminator"):
            config[key] = keras.saving.deserialize_keras_object(config[key])
        return cls(**config)

"""`ALAE`: the keras.Model that trains F, G, E and D with three alternating updates."""

import keras
import tensorflow as tf

from alae_tf import losses

AUTOENCODER_VARIABLES = ("official", "paper")


def _as_images(data):
    """fit() hands over whatever the dataset yields: images, or (images, labels)."""
    if isinstance(data, (tuple, list)):
        return data[0]
    if isinstance(data, dict):
        return data["images"]
    return data


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
    uninterrupted one would.

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
        seed: seed of the z stream.
    """

    def __init__(self, mapping, generator, encoder, discriminator, r1_gamma=10.0, ema_halflife_images=10000.0,
                 dlatent_avg_beta=0.995, autoencoder_variables="official", seed=0, **kwargs):
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
        self.loss_trackers = {name: keras.metrics.Mean(name=name) for name in ("loss_d", "r1", "loss_g", "loss_ae")}
        self.ed_optimizer = None
        self.fg_optimizer = None
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
        """Step I: update E and D. Returns `(loss_d, r1)` (loss_d includes r1)."""
        w_fake = self.mapping(z, training=True)
        self._track_dlatent(w_fake)
        x_fake = tf.stop_gradient(tf.cast(self.generator(w_fake, training=True), x.dtype))
        variables = self.ed_variables
        with tf.GradientTape() as tape:
            with tf.GradientTape(watch_accessed_variables=False) as r1_tape:
                r1_tape.watch(x)
                d_real = self.discriminator(self.encoder(x, training=True), training=True)
                real_sum = tf.reduce_sum(losses.at_least_float32(d_real))
            real_grads = r1_tape.gradient(real_sum, x)
            d_fake = self.discriminator(self.encoder(x_fake, training=True), training=True)
            r1 = losses.r1_penalty(real_grads, self.r1_gamma)
            loss = losses.discriminator_logistic(d_real, d_fake) + r1
        self.ed_optimizer.apply(tape.gradient(loss, variables), variables)
        return loss, r1

    def generator_step(self, z):
        """Step II: update F and G through the frozen E and D. Returns loss_g."""
        variables = self.fg_variables
        with tf.GradientTape() as tape:
            w = self.mapping(z, training=True)
            self._track_dlatent(w)
            d_fake = self.discriminator(self.encoder(self.generator(w, training=True), training=True), training=True)
            loss = losses.generator_nonsaturating(d_fake)
        self.fg_optimizer.apply(tape.gradient(loss, variables), variables)
        return loss

    def autoencoder_step(self, z):
        """Step III: latent autoencoding `E(G(F(z))) ~ F(z)`. Returns loss_ae."""
        ed_variables = self.encoder.trainable_variables
        fg_variables = list(self.generator.trainable_variables)
        if self.autoencoder_variables == "official":
            fg_variables = self.mapping.trainable_variables + fg_variables
        with tf.GradientTape() as tape:
            w = self.mapping(z, training=True)
            self._track_dlatent(w)
            w_reconstructed = self.encoder(self.generator(w, training=True), training=True)
            loss = losses.latent_reconstruction(w_reconstructed, w)
        grads = tape.gradient(loss, ed_variables + fg_variables)
        self.ed_optimizer.apply(grads[: len(ed_variables)], ed_variables)
        self.fg_optimizer.apply(grads[len(ed_variables):], fg_variables)
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
        x = _as_images(data)
        z_d, z_g, z_ae = self.draw_latents(tf.shape(x)[0])
        results = self.alternating_update(x, z_d, z_g, z_ae)
        for name, value in results.items():
            self.loss_trackers[name].update_state(value)
        return {name: tracker.result() for name, tracker in self.loss_trackers.items()}

    # -------------------------------------------------------------- inference
    def generate(self, z, truncation_psi=None, use_ema=True):
        """Images `[B, H, W, C]` from z `[B, latent]`; optional truncation towards `dlatent_avg`."""
        mapping, generator, _, _ = self.nets(use_ema)
        w = mapping(z, training=False)
        if truncation_psi is not None:
            avg = tf.cast(self.dlatent_avg, w.dtype)
            w = avg + truncation_psi * (w - avg)
        return generator(w, training=False)

    def encode(self, images, use_ema=True):
        """w `[B, dlatent]` from images `[B, H, W, C]` in the training pixel range."""
        return self.nets(use_ema)[2](images, training=False)

    def decode(self, w, use_ema=True):
        """Images `[B, H, W, C]` from w `[B, dlatent]`."""
        return self.nets(use_ema)[1](w, training=False)

    def reconstruct(self, images, use_ema=True):
        """`G(E(x))`, images in, images out."""
        return self.decode(self.encode(images, use_ema), use_ema)

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
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for key in ("mapping", "generator", "encoder", "discriminator"):
            config[key] = keras.saving.deserialize_keras_object(config[key])
        return cls(**config)

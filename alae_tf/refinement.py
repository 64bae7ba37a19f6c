"""The refinement phase at the end of an MLP run (not in the paper): `ALAE`'s part that runs it.

The ALAE game shapes E's codes for the critic, which the samples need and the reconstructions pay
for (`benchmarks/quality.md`, "A fifth search"). After the game, the phase trains E and G on
reconstructions alone while a frozen copy of G (the anchor) holds G to the samples it drew when
the phase began: the reconstructions sharpen and the samples stay the game's. `ALAE` mixes this
class in; the training loop enters the phase with `start_refinement` (`alae_tf.training`, at the
image count `schedules.Refinement.start` gives).
"""

import keras
import tensorflow as tf

from alae_tf import distribute, losses
from alae_tf.ema import ema_copy
from alae_tf.loss_scaling import inner_optimizer, minimize, reset_slots

# `ALAE`'s constructor arguments (and `get_config` fields) that `_init_refinement` takes.
REFINE_CONFIG_FIELDS = ("refine_anchor_weight", "refine_anchor_samples", "refine_edge_weight", "refine_edge_window")
# The update whose skipping (by loss scaling) keeps a logged loss out of its running mean.
REFINE_TAKEN_BY = {"refine_pixels": "refine_taken", "refine_anchor": "refine_taken", "refine_edges": "refine_taken"}
# The refinement is a regression, not a game: its Adam keeps momentum (the game's beta1 is 0). Over 1M
# images of it, 0.9 kept the class in 0.845 of reconstructions where 0 kept it in 0.838 (benchmarks/quality.md).
REFINE_ADAM_BETA_1 = 0.9


class RefinementPhase:
    """The refinement phase's state and update, mixed into `ALAE` (which provides the nets and optimizers).

    Attributes (set by `_init_refinement`): `refine_anchor_weight` (None: the model has no phase),
    `refine_edge_weight` and `refine_edge_window` (the edge term's weight and block size),
    `anchor_generator` (a frozen copy of G named `anchor_generator`, checkpointed with the rest; None
    without the phase) and `refine_trackers` (the phase's logged losses).
    """

    def _init_refinement(
        self, generator, refine_anchor_weight, refine_anchor_samples=None, refine_edge_weight=0.0, refine_edge_window=4
    ):
        """Set up the phase (`REFINE_CONFIG_FIELDS`, as `ALAE` takes them).

        refine_anchor_weight: None: no refinement phase. A weight >= 0 (MLP nets): the model can end its run
            with `refinement_update`, weighing its anchor term by it, and holds the anchor, a frozen copy of G
            (`anchor_generator`, checkpointed with the rest).
        refine_anchor_samples: the samples per global batch the anchor term averages over (None: one per real
            image).
        refine_edge_weight, refine_edge_window: the edge term (0: none), which asks every `refine_edge_window`-
            pixel block of a reconstruction for the real image's edge strength there (`losses.edge_strength_match`;
            needs the phase).
        """
        self.refine_anchor_weight = None if refine_anchor_weight is None else float(refine_anchor_weight)
        self.refine_anchor_samples = None if refine_anchor_samples is None else int(refine_anchor_samples)
        self.refine_edge_weight, self.refine_edge_window = float(refine_edge_weight), int(refine_edge_window)
        self.anchor_generator, self.refine_trackers, self._refining = None, {}, False
        if self.refine_anchor_samples is not None and self.refine_anchor_samples < 1:
            raise ValueError(f"refine_anchor_samples: a whole number >= 1, or None, got {refine_anchor_samples!r}")
        if not self.refine_edge_weight >= 0 or self.refine_edge_window < 1:
            raise ValueError(
                "refine_edge_weight >= 0 and refine_edge_window >= 1, "
                f"got {refine_edge_weight!r}, {refine_edge_window!r}"
            )
        if self.refine_edge_weight and self.refine_anchor_weight is None:
            raise ValueError("refine_edge_weight weighs a term of the refinement phase: give refine_anchor_weight too")
        if self.refine_anchor_weight is None:
            return
        if self.is_style or self.refine_anchor_weight < 0:
            raise ValueError(f"refine_anchor_weight: a weight >= 0 for MLP nets, got {refine_anchor_weight!r}")
        # Not an EMA: the copy of G that `start_refinement` fills and the phase holds G's samples to.
        self.anchor_generator = ema_copy(generator, prefix="anchor")
        logged = [name for name in REFINE_TAKEN_BY if name != "refine_edges" or self.refine_edge_weight]
        self.refine_trackers = {name: keras.metrics.Mean(name=name) for name in logged}

    def anchor_rows(self, local_batch):
        """How many samples this replica's anchor term takes in a refinement step of `local_batch` real images.

        One per real image, or `refine_anchor_samples` per global batch, split evenly over the replicas
        (at least one each) and never more than the real images: the anchor only has to hold G's samples
        where they are, and its forward and backward pass through G cost as much as the reconstructions'.
        """
        if self.refine_anchor_samples is None:
            return local_batch
        return tf.minimum(local_batch, max(1, self.refine_anchor_samples // distribute.num_replicas()))

    @property
    def refining(self):
        """True while `fit` runs `refinement_update` instead of the three ALAE updates."""
        return self._refining

    def set_refining(self, refining: bool) -> None:
        """Train with `refinement_update` (True) or the three updates (False) from now on: one trace per phase.

        Both optimizers run with Adam's beta1 at `REFINE_ADAM_BETA_1` in the phase. A resumed run sets the
        phase it stopped in; `start_refinement` enters it for the first time.
        """
        if refining and self.anchor_generator is None:
            raise ValueError("this model has no refinement phase: build it with refine_anchor_weight (MLP nets)")
        if bool(refining) != self._refining:
            self._refining = bool(refining)
            self.train_function = None
            # A Python float the update reads while tracing: the new trace takes it up.
            for optimizer in (self.ed_optimizer, self.fg_optimizer):
                inner = inner_optimizer(optimizer)
                if refining:
                    inner.game_beta_1, inner.beta_1 = inner.beta_1, REFINE_ADAM_BETA_1
                else:
                    inner.beta_1 = inner.game_beta_1

    def start_refinement(self) -> None:
        """Enter the refinement phase at its first batch.

        The trained nets take their EMA copies' weights (what the adversarial phase made, and what
        evaluation and export see), the anchor takes G's, and both optimizers' slots are zeroed: the
        phase's gradients are not the adversarial ones. Repeating it before the phase's first update
        (a run killed there resumes from the checkpoint before it) gives the same state.
        """
        self.set_refining(True)
        for nets, sources in ((self.training_nets, self.ema_nets), ((self.anchor_generator,), (self.ema_generator,))):
            for net, source in zip(nets, sources):
                for target, value in zip(net.weights, source.weights):
                    target.assign(value)
        for optimizer in (self.ed_optimizer, self.fg_optimizer):
            reset_slots(optimizer)

    def refinement_update(self, x: tf.Tensor, z: tf.Tensor) -> dict:
        """One step of the refinement phase on real `x` `[B, H, W, C]` and z `[S, latent]`, S <= B (replica rows).

        E (E/D optimizer) and G (F/G optimizer) minimise `mean((G(E(x)) - x)^2) + refine_anchor_weight *
        mean((G(F(z)) - G_anchor(F(z)))^2)` (S: `anchor_rows`), plus, with a `refine_edge_weight`, that
        weight times `losses.edge_strength_match(G(E(x)), x, refine_edge_window)`. The ALAE game leaves E's
        codes shaped by the critic and reconstructions off their class (`benchmarks/quality.md`); this phase
        fits them while G keeps drawing, from F's codes, what it drew when the phase began, so the samples
        stay the game's (F and D do not move). The pixel term alone blurs them; the edge term keeps their
        edges as steep as the real images'. Then the EMA copies of E and G move. Returns global-batch means
        `refine_pixels`, `refine_anchor` (and `refine_edges` with the edge term) and the bool `refine_taken`.
        """
        x = tf.cast(x, self.encoder.variable_dtype)
        batch_size = tf.shape(x)[0]
        styles = self._kind.styles_from_w(self.mapping(z, training=True))
        anchor = tf.stop_gradient(self.synthesize(self.anchor_generator, styles))
        with tf.GradientTape() as tape:
            w_real = self.run_encoder(self.encoder, x, training=True)
            redrawn = self.synthesize(self.generator, self._kind.styles_from_w(w_real), training=True)
            pixels = losses.pixel_reconstruction(redrawn, x)
            drift = losses.pixel_reconstruction(self.synthesize(self.generator, styles, training=True), anchor)
            loss = pixels + self.refine_anchor_weight * drift
            if self.refine_edge_weight:
                edges = losses.edge_strength_match(redrawn, x, self.refine_edge_window)
                loss += self.refine_edge_weight * edges
        groups = [
            (self.ed_optimizer, self.encoder.trainable_variables),
            (self.fg_optimizer, self.generator.trainable_variables),
        ]
        taken, updated = minimize(tape, loss, groups, batch_size)
        _, global_batch = distribute.batch_layout(batch_size)
        self.update_ema(global_batch, updated)
        distribute.assign_local(self.step, self.step + 1)
        distribute.assign_local(self.images_seen, self.images_seen + tf.cast(global_batch, tf.int64))
        results = {
            "refine_pixels": distribute.global_mean(pixels, batch_size),
            "refine_anchor": distribute.global_mean(drift, tf.shape(z)[0]),
            "refine_taken": taken,
        }
        if self.refine_edge_weight:
            results["refine_edges"] = distribute.global_mean(edges, batch_size)
        return results

"""Stop a run whose training went non-finite, before it can checkpoint the bad weights.

A float32 or bfloat16 run whose losses turn NaN or inf never recovers: every later step
trains on NaN weights. `DivergenceGuard` watches the losses a train step returns and stops
`fit` at the first batch with a non-finite one; the training loop then raises
`TrainingDivergedError` instead of saving, so the newest checkpoint keeps the last finite
weights. Loss-scaled float16 is unaffected: a step with non-finite gradients is skipped
(and its scale halved) and kept out of the logged losses, so only finite losses reach here.
"""

import math

import keras
import numpy as np

# The losses a train step logs (`ALAE.loss_trackers`, and `ALAE.refine_trackers` in a refinement phase).
WATCHED = ("loss_d", "r1", "loss_g", "loss_ae", "recon_pixels", "refine_pixels", "refine_anchor", "refine_edges")

ADVICE = (
    "Try a lower --learning_rate (--refine_learning_rate in a refinement phase), a larger --r1_gamma, or "
    "--precision=float32 (bfloat16 has 8 bits of "
    "mantissa); rerunning resumes from that checkpoint."
)


class TrainingDivergedError(RuntimeError):
    """The losses or weights of a run turned NaN or inf."""


class DivergenceGuard(keras.callbacks.Callback):
    """Stops `fit` at the first batch whose logged losses are not all finite.

    After `fit` returns, `failure` is None or `(step, images_seen, {loss name: value})`.
    """

    def __init__(self):
        super().__init__()
        self.failure = None

    def on_train_batch_end(self, batch, logs=None):
        bad = {}
        for name in WATCHED:
            if logs and name in logs:
                value = float(np.asarray(logs[name]))
                if not math.isfinite(value):
                    bad[name] = value
        if bad and self.failure is None:
            self.failure = (int(self.model.step.numpy()), int(self.model.images_seen.numpy()), bad)
            self.model.stop_training = True


def non_finite_weights(model):
    """Paths of the model's variables holding a NaN or inf (weights, EMA nets, dlatent_avg)."""
    return [v.path for v in model.weights if "float" in str(v.dtype) and not np.isfinite(v.numpy()).all()]

"""Adam for equalized-learning-rate layers, matching the official LREQAdam exactly.

Our layers store `w / scale` and multiply by `scale` at run time (explicit
equalized lr, as in StyleGAN). Plain Adam on `w / scale` then equals the
official optimizer (Adam on the run-time `w` with each step scaled by
`scale`) except for epsilon, which acts on `scale`-times larger gradients:
effectively `epsilon / scale`. With `scale` around 0.002-0.05 that changes
steps of small-gradient weights by about 1e-3 of a step on average, enough to
fail the official one-step parity test. `EqualizedAdam` applies
`epsilon * scale` to such variables, so it takes exactly the official step.
"""

import keras

EQUALIZED_LR_SCALE = "equalized_lr_scale"


def set_equalized_lr_scale(variable, scale):
    """Record the run-time multiplier of `variable` for `EqualizedAdam`."""
    setattr(variable, EQUALIZED_LR_SCALE, float(scale))


@keras.saving.register_keras_serializable(package="alae_tf")
class EqualizedAdam(keras.optimizers.Adam):
    """keras.optimizers.Adam with epsilon scaled per variable by its run-time multiplier.

    Variables without a recorded multiplier (noise weights, biases of conv
    blocks, the constant input) get the plain epsilon. All other arguments
    are those of `keras.optimizers.Adam`.
    """

    def build(self, var_list):
        super().build(var_list)
        self._epsilon_scales = [getattr(v, EQUALIZED_LR_SCALE, 1.0) for v in var_list]

    def update_step(self, gradient, variable, learning_rate):
        # update_step runs once per variable while tracing, so a trace-time
        # epsilon swap costs nothing at run time and reuses Adam's own update.
        base = self.epsilon
        self.epsilon = base * self._epsilon_scales[self._get_variable_index(variable)]
        try:
            super().update_step(gradient, variable, learning_rate)
        finally:
            self.epsilon = base

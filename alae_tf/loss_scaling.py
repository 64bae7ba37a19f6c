"""Gradients and their application for ALAE's two optimizers, with per-optimizer float16 loss scaling.

ALAE steps two Adam optimizers (E/D and F/G), and step III moves variables of
both from one loss. Under mixed_float16 each optimizer is wrapped in its own
`keras.optimizers.LossScaleOptimizer` (keras' `compile` would wrap only
`model.optimizer`, which ALAE does not use), so one backward pass has to serve
two loss scales, and a step with a non-finite gradient must be skipped on
every replica of a `tf.distribute` strategy, not only on the first. Without
loss scaling (float32, float64, mixed_bfloat16) every helper here reduces to
plain `tape.gradient` and `optimizer.apply`.
"""

from collections.abc import Sequence

import keras
import tensorflow as tf

from alae_tf import distribute

# One optimizer and the variables whose gradients it applies.
Group = tuple[keras.optimizers.Optimizer, Sequence[tf.Variable]]


def loss_scale(optimizer: keras.optimizers.Optimizer | None) -> tf.Tensor | None:
    """The dynamic loss scale of a `LossScaleOptimizer` (a float32 scalar), else None."""
    if isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
        return tf.convert_to_tensor(optimizer.dynamic_scale.value)
    return None


def with_loss_scaling(optimizer: keras.optimizers.Optimizer) -> keras.optimizers.LossScaleOptimizer:
    """`optimizer` wrapped in its own `LossScaleOptimizer` (unchanged if it already is one)."""
    if isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
        return optimizer
    return keras.optimizers.LossScaleOptimizer(optimizer)


def inner_optimizer(optimizer: keras.optimizers.Optimizer) -> keras.optimizers.Optimizer:
    """The optimizer that holds the slots (Adam's): the wrapped one under loss scaling."""
    return getattr(optimizer, "inner_optimizer", optimizer)


def input_gradient_scale(optimizer: keras.optimizers.Optimizer) -> tf.Tensor | None:
    """The factor for an input gradient taken inside a scaled loss (R1's): sqrt(scale), or None.

    Unscaled, such a float16 gradient underflows; at the full scale the
    second-order pass through it overflows. The square root keeps both in
    range; the caller divides it out of the input gradient.
    """
    scale = loss_scale(optimizer)
    return None if scale is None else tf.sqrt(scale)


def gradients(
    tape: tf.GradientTape, loss: tf.Tensor, groups: Sequence[Group], batch_size: tf.Tensor
) -> list[list[tf.Tensor | None]]:
    """Gradients of `loss` for each `(optimizer, variables)` group, in one backward pass.

    Scaled by `local / global` batch under a strategy (the optimizers sum
    over replicas) and, under loss scaling, by each optimizer's own scale:
    the pass runs at the smallest scale and the other groups' gradients
    are rescaled in float32 (exact, float32 does not overflow there).

    Args:
        tape: the tape that recorded `loss`.
        loss: a scalar, this replica's mean over its `batch_size` rows.
        groups: `(optimizer, variables)` pairs; the optimizers decide the scales.
            Either all of them are `LossScaleOptimizer`s or none is (as
            `ALAE.compile` makes them): a plain optimizer next to a scaled
            one would get gradients at the smallest scale, not unscaled.
        batch_size: this replica's rows (a scalar tensor).

    Returns:
        one list per group, a gradient (None where a variable got none) per variable.
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
        part = grads[start : start + len(group)]
        start += len(group)
        if scale is not None and len(present) > 1:
            ratio = scale / base
            part = [None if g is None else g * tf.cast(ratio, g.dtype) for g in part]
        result.append(part)
    return result


def apply_gradients(
    optimizer: keras.optimizers.Optimizer, gradients: Sequence[tf.Tensor | None], variables: Sequence[tf.Variable]
) -> tuple[tf.Tensor, list[tf.Variable]]:
    """`optimizer.apply` on the variables that got a gradient.

    Returns `(taken, updated)`: "the step was taken" (a scalar bool, always
    True without loss scaling, where nothing is ever skipped) and the
    variables it applied to (a Python list, fixed per trace).

    Style nets hold every level's layers, but a level uses only some of them
    (and D gets none in step III): those are skipped silently instead of
    with Keras' per-trace warning.

    Under loss scaling the step is skipped (and the scale halved) when any
    gradient is not finite on ANY replica: keras' LossScaleOptimizer looks at
    the first replica's local gradients only, so a non-finite value elsewhere
    would be all-reduced into the weights. Every replica then poisons its own
    gradients, so all of them skip together.
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


def reset_slots(optimizer: keras.optimizers.Optimizer) -> None:
    """Zero every variable of the inner optimizer (Adam moments, iterations) but the learning rate.

    A loss scale is kept: it tracks the float16 range, which a restart of
    the optimizer's state (at a new level) does not change.
    """
    optimizer = inner_optimizer(optimizer)
    for variable in optimizer.variables:
        if variable is not optimizer.learning_rate:
            variable.assign(tf.zeros(variable.shape, variable.dtype))


def minimize(
    tape: tf.GradientTape, loss: tf.Tensor, groups: Sequence[Group], batch_size: tf.Tensor
) -> tuple[tf.Tensor, list[tf.Variable]]:
    """One update of every `(optimizer, variables)` group from `loss`: `gradients`, then `apply_gradients`.

    Returns `(taken, updated)`: whether every group's step was taken (a
    scalar bool) and the variables updated, all groups' in order.
    """
    applied = [
        apply_gradients(optimizer, grads, variables)
        for (optimizer, variables), grads in zip(groups, gradients(tape, loss, groups, batch_size))
    ]
    taken = applied[0][0]
    for other, _ in applied[1:]:
        taken = tf.logical_and(taken, other)
    return taken, [v for _, updated in applied for v in updated]

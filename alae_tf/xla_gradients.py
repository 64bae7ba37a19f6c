"""The gradient TensorFlow lacks for XLA-compiling ALAE's step: `XlaDynamicUpdateSlice`'s.

Inside an XLA context (`jit_compile=True`, and always on TPUs) TF differentiates
`tf.slice` into `XlaDynamicUpdateSlice` (`array_grad._SliceGrad`) instead of a pad,
and registers no gradient for that op (TF 2.21). The style nets' tap convolutions
are slices (`alae_tf.layers.convolution`), and R1 differentiates the critic's input
gradient a second time, so an XLA-compiled StyleALAE step failed with
`LookupError: gradient registry has no entry for: XlaDynamicUpdateSlice`.

`y = XlaDynamicUpdateSlice(x, u, i)` is x with the window at i replaced by u, so
`dy/dx` is the incoming gradient with that window zeroed and `dy/du` is its window:
a dynamic-update-slice and a slice, both differentiable again (the slice back into
this op), so any order of differentiation works. Importing this module registers it
(once; a TF that registers its own keeps that one).
"""

import tensorflow as tf
from tensorflow.compiler.tf2xla.ops import gen_xla_ops


def _dynamic_update_slice_grad(op, grad):
    operand, update, indices = op.inputs
    d_operand = gen_xla_ops.xla_dynamic_update_slice(grad, tf.zeros_like(update), indices)
    d_update = tf.slice(grad, indices, tf.shape(update, out_type=indices.dtype))
    return d_operand, d_update, None


try:
    tf.RegisterGradient("XlaDynamicUpdateSlice")(_dynamic_update_slice_grad)
except KeyError:  # registered already (by TF itself, or a second import under another name)
    pass

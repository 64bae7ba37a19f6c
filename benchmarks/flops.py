"""FLOPs of a traced TensorFlow graph, from TF's per-op statistics (for the roofline columns).

TF registers a "flops" statistic for the arithmetic ops (MatMul, BatchMatMul, Conv2D and its
gradients, elementwise ops); ops without one (copies, reshapes, variable reads) count 0. Only
ops that the graph's outputs or stateful ops (variable updates) depend on count: gradient
functions emit every gradient of an op (a conv's input and filter gradients), and the runtime
prunes the ones nothing uses before the function runs.
"""

import tensorflow as tf
from tensorflow.python.framework import ops as tf_ops  # the statistics registry (no public API)
from tensorflow.python.profiler.internal import flops_registry  # noqa: F401  (registers "flops")

_NESTED_GRAPH_ATTRS = ("f", "body", "then_branch")


def live_ops(graph):
    """The ops of `graph` that its outputs or its stateful ops depend on (data or control)."""
    pending = [t.op for t in graph.outputs] + [op for op in graph.get_operations() if op.op_def.is_stateful]
    live = {}
    while pending:
        op = pending.pop()
        if op.name not in live:
            live[op.name] = op
            pending.extend([t.op for t in op.inputs] + list(op.control_inputs))
    return list(live.values())


def graph_flops(graph):
    """FLOPs of one run of `graph` (a `FuncGraph`, e.g. `concrete_function.graph`); shapes must be static.

    Raises NotImplementedError for ops that call nested functions (their bodies are not counted).
    """
    flops = 0
    for op in live_ops(graph):
        if any(attr in op.node_def.attr for attr in _NESTED_GRAPH_ATTRS):
            raise NotImplementedError(f"{op.type} {op.name}: ops inside nested functions are not counted")
        flops += tf_ops.get_stats_for_node_def(graph, op.node_def, "flops").value or 0
    return flops


def function_flops(fn, *input_signature):
    """FLOPs of one call of `fn` traced for `input_signature` (`tf.TensorSpec`s)."""
    return graph_flops(tf.function(fn).get_concrete_function(*input_signature).graph)

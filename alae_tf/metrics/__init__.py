"""Metrics in a registry: each is a function of an `EvalContext` returning named numbers."""

from alae_tf.metrics.registry import METRICS, NEEDS, EvalContext, compute, register

# Importing the modules registers their metrics.
from alae_tf.metrics import distribution, judge, perceptual_path, reconstruction, representation  # noqa: E402,F401

__all__ = ["METRICS", "NEEDS", "EvalContext", "compute", "register"]

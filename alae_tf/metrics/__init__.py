"""Metrics in a registry: each is a function of an `EvalContext` returning named numbers."""

# Importing the modules registers their metrics.
from alae_tf.metrics import (  # noqa: F401
    distribution,
    editing,
    judge,
    latent_spread,
    perceptual_path,
    reconstruction,
    representation,
)
from alae_tf.metrics.context import EvalContext
from alae_tf.metrics.registry import METRICS, NEEDS, compute, register

__all__ = ["METRICS", "NEEDS", "EvalContext", "compute", "register"]

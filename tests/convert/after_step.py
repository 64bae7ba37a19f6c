"""The manifest's after-one-step tolerance, shared by the MLP and StyleALAE parity tests."""

import numpy as np


def step_error_units(got, want, u):
    """`|got - want|` in step units `u`, less one float32 ulp of the stored value `want`.

    The fixtures store the official float32 parameters after a step; that rounding alone can
    put a correct result one ulp off (a parameter near -8.5 has an ulp of 9.5e-7, 0.006 u at
    u = 1.5e-4: six times the mean bound for a one-element parameter). What is left after
    allowing it is the difference of the math.
    """
    want = np.asarray(want)
    rounding = np.spacing(np.abs(want).astype(np.float32)).astype(np.float64)
    error = np.abs(np.asarray(got, np.float64) - want.astype(np.float64))
    return np.maximum(error - rounding, 0.0) / u


def assert_step_close(name, got, want, u, max_units=1.0, mean_units=1e-3):
    """Every element within `max_units` u and the mean within `mean_units` u (`step_error_units`)."""
    units = step_error_units(got, want, u)
    assert units.max() <= max_units, f"{name}: max {units.max():.3g} u"
    assert units.mean() <= mean_units, f"{name}: mean {units.mean():.3g} u"

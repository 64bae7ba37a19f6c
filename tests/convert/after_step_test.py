"""The after-step tolerance allows the fixture's float32 rounding and nothing more."""

import numpy as np
import pytest

from tests.convert.after_step import assert_step_close, step_error_units


def test_one_ulp_of_the_stored_value_is_the_fixtures_rounding():
    want = np.array([-8.5], np.float32)
    u = 1.5e-4
    one_ulp_off = np.float64(want[0]) - np.spacing(np.float32(8.5))
    assert step_error_units([one_ulp_off], want, u)[0] == 0.0
    assert_step_close("p", [one_ulp_off], want, u)  # the mean bound (1e-3 u) alone would refuse 6.3e-3 u


def test_a_real_difference_still_fails():
    want = np.array([-8.5, 0.25], np.float32)
    u = 1.5e-4
    with pytest.raises(AssertionError, match="mean"):
        assert_step_close("p", want.astype(np.float64) + [0.0, 0.01 * u], want, u)
    with pytest.raises(AssertionError, match="max"):
        assert_step_close("p", want.astype(np.float64) + [1.5 * u, 0.0], want, u)

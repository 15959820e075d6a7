"""``lower_bounds`` / ``upper_bounds`` as estimator parameters: validation, spec, model files.

The box-constrained solves themselves (KKT conditions, glum's bounds) are the solver
branch's tests; here: what the estimator and the fitting spec promise about the values.
"""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone

from torchlogit import LogisticRegression, load
from torchlogit.fitting import validate_bounds


def _data(n=60, d=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    return X, (X[:, 0] + rng.logistic(size=n) > 0).astype(int)


def test_a_scalar_is_broadcast_and_infinities_leave_a_side_open():
    lo, up = validate_bounds(0.0, [np.inf, 2.0, 3.0], 3)
    np.testing.assert_array_equal(lo, [0.0, 0.0, 0.0])
    np.testing.assert_array_equal(up, [np.inf, 2.0, 3.0])
    assert validate_bounds(None, None, 3) == (None, None)
    lo, up = validate_bounds(-np.inf, None, 2)
    assert lo.shape == (2,) and up is None


@pytest.mark.parametrize(
    "lower, upper, message",
    [
        (1.0, 0.0, r"lower_bounds > upper_bounds for feature 0 \(1.0 > 0.0\)"),
        ([0, 0, 2], [1, 1, 1], "for feature 2"),
        ([0, 0], None, r"shape \(3,\), one bound per feature"),
        (None, [1, np.nan, 1], "upper_bounds contains NaN"),
        ("low", None, "must be an array-like"),
    ],
)
def test_bad_bounds_are_refused_with_a_clear_error(lower, upper, message):
    X, y = _data()
    with pytest.raises(ValueError, match=message):
        LogisticRegression(lower_bounds=lower, upper_bounds=upper).fit(X, y)


def test_crossed_scalar_bounds_fail_before_any_data_are_read():
    with pytest.raises(ValueError, match="lower_bounds > upper_bounds"):
        LogisticRegression(lower_bounds=2, upper_bounds=1).fit(None, None)


def test_bounds_are_parameters_kept_by_clone_and_model_files(tmp_path):
    est = LogisticRegression(lower_bounds=[0.0, -np.inf, -1.0], upper_bounds=5.0)
    assert clone(est).get_params()["upper_bounds"] == 5.0
    est.save(tmp_path / "m.safetensors")
    back = load(tmp_path / "m.safetensors")
    np.testing.assert_array_equal(back.lower_bounds, [0.0, -np.inf, -1.0])
    assert back.upper_bounds == 5.0

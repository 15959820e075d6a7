"""Issue #13 item 8: a stochastic run that diverges stops and says so, and ``partial_fit`` on
data too large for the dtype is refused instead of returning a zero model."""

from __future__ import annotations

import numpy as np
import pytest

from torchlogit import LogisticRegression


def _data():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((500, 5)) * 100
    return X, (X[:, 0] + X[:, 1] > 0).astype(int)


@pytest.mark.parametrize("solver, options", [("sgd", {"eta0": 1e8}), ("adam", {"lr": 1e8})])
def test_a_step_size_too_large_stops_with_a_clear_error(solver, options):
    X, y = _data()
    clf = LogisticRegression(solver=solver, solver_options=options, max_iter=50)
    with pytest.raises(ValueError, match=rf"solver '{solver}' diverged in epoch 1.*too large"):
        clf.fit(X, y)
    assert not hasattr(clf, "coef_")  # no model from a diverged run


def test_partial_fit_refuses_data_too_large_for_the_dtype():
    X, y = _data()
    clf = LogisticRegression()
    with pytest.raises(ValueError, match="too large for torch.float64"):
        clf.partial_fit(X * 1e160, y, classes=[0, 1])
    assert not hasattr(clf, "coef_")


@pytest.mark.parametrize("solver", ["sgd", "adam"])
def test_default_steps_do_not_trip_the_divergence_check(solver):
    X, y = _data()
    X = X / 100
    clf = LogisticRegression(C=1.0, solver=solver, max_iter=30).fit(X, y)  # no error
    objective = clf.history_["objective"]
    assert np.all(np.isfinite(clf.coef_)) and objective[-1] < objective[0] < np.log(2)

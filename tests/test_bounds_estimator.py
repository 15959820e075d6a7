"""``LogisticRegression(lower_bounds=..., upper_bounds=...)`` end to end (issue #11): the public
estimator, with ``solver="auto"``, equals glum's bounded binomial fit and meets the box KKT
conditions computed independently in NumPy (tests/_box_reference.py); a warm start outside
the box is refused; sparse and streamed data give the in-memory answer."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import scipy.sparse as sp

from _box_reference import gradient_np, kkt_violation_np
from _penalty_api import penalty_params
from torchlogit import LogisticRegression
from torchlogit.data import ArraySource

glum = pytest.importorskip("glum")

D = 6
LOWER = np.array([-np.inf, -1.0, 0.0, 0.0, -np.inf, -0.3])
UPPER = np.array([1.0, np.inf, 0.5, np.inf, 0.0, 0.3])
TOL = 1e-10


def _data(n=500, seed=1):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, D))
    X[:, 1] += 0.5 * X[:, 0]
    beta = np.array([1.5, -2.0, 0.8, -0.4, 0.7, 1.0])
    y = (rng.random(n) < 1 / (1 + np.exp(-(X @ beta + 0.3)))).astype(np.int64)
    return X, y, rng.uniform(0.5, 2.0, n)


def _glum(X, y, sw, penalty, l1_ratio, C):
    alpha = 0.0 if penalty is None else 1.0 / (C * sw.sum())
    ratio = {"l2": 0.0, "l1": 1.0, None: 0.0}.get(penalty, l1_ratio)
    model = glum.GeneralizedLinearRegressor(
        family="binomial", alpha=alpha, l1_ratio=ratio, lower_bounds=LOWER,
        upper_bounds=UPPER, gradient_tol=1e-12, max_iter=1000,
    )  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(X, y, sample_weight=sw)
    return np.r_[model.coef_, model.intercept_]


@pytest.mark.parametrize(
    "penalty, l1_ratio", [("l2", None), (None, None), ("l1", None), ("elasticnet", 0.5)]
)
def test_estimator_bounds_equal_glum_and_meet_kkt(penalty, l1_ratio):
    X, y, sw = _data()
    C = 0.05
    params = {"C": C, **penalty_params(penalty, l1_ratio)}
    clf = LogisticRegression(
        **params, lower_bounds=LOWER, upper_bounds=UPPER, tol=TOL, max_iter=20_000,
    ).fit(X, y, sample_weight=sw)  # fmt: skip
    coef = np.c_[clf.coef_, clf.intercept_]
    assert np.all(clf.coef_[0] >= LOWER) and np.all(clf.coef_[0] <= UPPER)
    np.testing.assert_allclose(coef[0], _glum(X, y, sw, penalty, l1_ratio, C), atol=2e-7)
    scale = 0.0 if penalty is None else 1.0 / (C * sw.sum())
    rho = {"l2": 0.0, "l1": 1.0, None: 0.0}.get(penalty, l1_ratio)
    grad = gradient_np(X, y, sw, coef, l2=(1 - rho) * scale)
    kkt = kkt_violation_np(coef, grad, l1=rho * scale, lower=LOWER, upper=UPPER, n_features=D)
    assert kkt <= TOL * 10  # the solver's own stop is max-violation <= tol (float64 rounding)
    assert np.any(np.isclose(clf.coef_[0], LOWER) | np.isclose(clf.coef_[0], UPPER))


def test_bounds_on_sparse_and_streamed_data_give_the_in_memory_fit():
    X, y, sw = _data(n=300)
    make = lambda: LogisticRegression(lower_bounds=LOWER, upper_bounds=UPPER, tol=TOL,  # noqa: E731
                                      max_iter=20_000)  # fmt: skip
    ref = make().fit(X, y, sample_weight=sw)
    for got in (
        make().fit(sp.csr_matrix(X), y, sample_weight=sw),
        make().fit(ArraySource(X, y, weight=sw, chunk_rows=70)),
    ):
        scale = np.abs(ref.coef_).max()
        np.testing.assert_allclose(got.coef_, ref.coef_, rtol=0, atol=1e-8 * scale)
        np.testing.assert_allclose(got.intercept_, ref.intercept_, rtol=0, atol=1e-8 * scale)


def test_auto_picks_a_bounds_solver_and_a_warm_start_outside_the_box_is_refused():
    X, y, sw = _data(n=200)
    clf = LogisticRegression(lower_bounds=0.0).fit(X, y)
    assert clf.solver_ in ("cd", "fista")
    assert np.all(clf.coef_ >= 0)
    free = LogisticRegression(warm_start=True).fit(X, y)
    assert np.any(free.coef_ < 0)
    free.set_params(lower_bounds=0.0)
    with pytest.raises(ValueError, match="outside the bounds"):
        free.fit(X, y)
    with pytest.raises(ValueError, match="handle|bounds"):
        LogisticRegression(solver="newton", lower_bounds=0.0).fit(X, y)

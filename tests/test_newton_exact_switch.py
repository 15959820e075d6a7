"""Newton's switch from the row-sampled to the exact Hessian near the optimum
(``NewtonSolver._exact_pays``): the same minimiser (checked against the gradient computed
here in NumPy and against scikit-learn), fewer iterations at a tight tol, and no change where
the sampled steps reach tol within two more iterations (tol 1e-4)."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression as SkLogistic

from torchlogit import LogisticRegression
from torchlogit.solvers import _newton


@pytest.fixture(scope="module")
def data():
    # 60,000 rows >= 4 x the "auto" sample (500 x 11 rows): the Hessian is sampled
    return make_classification(60_000, 10, n_informative=6, n_redundant=0, random_state=0)


def _fit(X, y, tol, monkeypatch=None, switch=True):
    if not switch:
        monkeypatch.setattr(_newton, "EXACT_SWITCH_ITERATIONS", float("inf"))
    clf = LogisticRegression(C=np.inf, tol=tol, max_iter=100).fit(X, y)
    if not switch:
        monkeypatch.undo()
    return clf


def _max_grad(clf, X, y) -> float:
    """max |grad| of the averaged log-loss, from scratch in NumPy."""
    z = X @ clf.coef_[0] + clf.intercept_[0]
    r = 1 / (1 + np.exp(-z)) - y
    return float(np.abs(np.r_[X.T @ r, r.sum()] / len(y)).max())


def test_switch_converges_in_fewer_iterations(data, monkeypatch):
    X, y = data
    on = _fit(X, y, 1e-10)
    off = _fit(X, y, 1e-10, monkeypatch, switch=False)
    assert _max_grad(on, X, y) <= 1e-10 and _max_grad(off, X, y) <= 1e-10
    assert on.n_iter_[0] < off.n_iter_[0]
    ref = SkLogistic(C=np.inf, tol=1e-12, max_iter=1000, solver="newton-cholesky").fit(X, y)
    for clf in (on, off):
        np.testing.assert_allclose(clf.coef_, ref.coef_, rtol=1e-6, atol=1e-9)
        np.testing.assert_allclose(clf.intercept_, ref.intercept_, rtol=1e-6, atol=1e-9)


def test_no_switch_at_loose_tol(data, monkeypatch):
    X, y = data
    on = _fit(X, y, 1e-4)
    off = _fit(X, y, 1e-4, monkeypatch, switch=False)
    assert on.n_iter_[0] == off.n_iter_[0]
    np.testing.assert_array_equal(on.coef_, off.coef_)


def test_multinomial_does_not_switch(monkeypatch):
    """Three classes: the exact Hessian's six Grams cost more than the iterations they save
    (module docstring of _exact_pays): the sampled path, bit for bit."""
    X, y = make_classification(
        60_000, 8, n_informative=6, n_redundant=0, n_classes=3, random_state=1
    )
    on = _fit(X, y, 1e-10)
    off = _fit(X, y, 1e-10, monkeypatch, switch=False)
    assert on.n_iter_[0] == off.n_iter_[0]
    np.testing.assert_array_equal(on.coef_, off.coef_)

"""(Quasi-)separation: the table warns naming the terms along which the classes are separated
(their information a vanishing share of its bound ``¼ Σ s_i x_ij²``), checked against an
independent certificate: a linear programme (scipy's HiGHS) that finds a direction ``d`` with
``(2 y_i - 1) a_i · d >= 0`` on every row (Konis 2007, R's ``detectseparation``). Data with a
finite optimum (statsmodels' datasets, a strong but overlapping slope) get no warning."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import statsmodels.api as sm
from scipy.optimize import linprog

from test_inference import _fit
from torchlogit import SeparableDataWarning


def separating_direction(X, y):
    """An LP certificate of (quasi-)separation: ``d`` in ``[-1, 1]^q`` maximising
    ``sum_i (2 y_i - 1) a_i · d`` subject to ``(2 y_i - 1) a_i · d >= 0`` (``a_i = [1, x_i]``);
    None when the maximum is 0 (no separation: the optimum is finite)."""
    A = np.c_[np.ones(len(X)), X] * (2 * np.asarray(y) - 1)[:, None]
    res = linprog(-A.sum(0), A_ub=-A, b_ub=np.zeros(len(A)), bounds=(-1, 1), method="highs")
    assert res.status == 0
    return res.x if -res.fun > 1e-7 else None


def _quasi_separated(n=400, seed=0):
    """``x1 > 0`` => y = 1, ``x1 < 0`` => y = 0; ties at ``x1 = 0`` with both classes."""
    rng = np.random.default_rng(seed)
    x1 = rng.standard_normal(n)
    x1[:60] = 0.0
    x0 = rng.standard_normal(n)
    y = (x1 > 0).astype(int)
    y[:60] = rng.integers(0, 2, 60)
    return np.c_[x0, x1], y


def _separation_warnings(clf, X, y):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = clf.inference(X, y)
    found = [str(w.message) for w in caught if issubclass(w.category, SeparableDataWarning)]
    return result, found


@pytest.mark.parametrize("tol", [1e-8, 1e-10])
def test_quasi_separation_names_the_separating_term(tol):
    X, y = _quasi_separated()
    d = separating_direction(X, y)  # the reference: only x1 separates
    assert d is not None and abs(d[2]) == pytest.approx(1) and np.allclose(d[:2], 0, atol=1e-9)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf = _fit(X, y, tol=tol)
    result, found = _separation_warnings(clf, X, y)
    assert len(found) == 1 and "quasi-)separated along x1:" in found[0]
    assert "intercept:" not in found[0] and "x0:" not in found[0]
    # statsmodels on the same data: the same diverging x1 with an enormous standard error
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = sm.Logit(y, sm.add_constant(X)).fit(disp=0, method="newton", maxiter=50)
    assert res.bse[2] > 1e3 * res.bse[1] and result.std_errors()[2] > 1e3 * result.std_errors()[1]
    # the terms that do not separate keep statsmodels' estimates
    np.testing.assert_allclose(result.params[:2], res.params[:2], rtol=1e-4)


def test_an_indicator_that_predicts_success_perfectly():
    rng = np.random.default_rng(1)
    n = 500
    X = np.c_[rng.standard_normal(n), (rng.random(n) < 0.1).astype(float)]
    y = (rng.random(n) < 0.4).astype(int)
    y[X[:, 1] == 1] = 1  # Stata: "x1 != 0 predicts success perfectly"
    d = separating_direction(X, y)
    assert d is not None and d[2] > 0 and abs(d[1]) < 1e-9
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf = _fit(X, y)
    _, found = _separation_warnings(clf, X, y)
    assert len(found) == 1 and "along x1:" in found[0] and "x0:" not in found[0]


def test_multinomial_class_predicted_perfectly_names_its_block():
    X, _ = _quasi_separated(seed=2)
    rng = np.random.default_rng(2)
    y = np.where(X[:, 1] > 0, 2, rng.integers(0, 2, len(X)))  # class 2 exactly when x1 > 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf = _fit(X, y)
    _, found = _separation_warnings(clf, X, y)
    assert len(found) == 1 and "x1 (class 2)" in found[0] and "(class 1)" not in found[0]


@pytest.mark.parametrize("name", ["spector", "fair", "randhie", "strong"])
def test_no_warning_with_a_finite_optimum(name):
    if name == "strong":  # a slope of 8 per standard deviation, classes overlapping
        rng = np.random.default_rng(3)
        X = rng.standard_normal((2000, 3))
        y = (X @ [8.0, 1.0, 0.0] + rng.logistic(size=2000) > 0).astype(int)
    else:
        data = getattr(sm.datasets, name).load_pandas()
        X, y = data.exog.to_numpy(), (data.endog.to_numpy() > 0).astype(int)
    assert separating_direction(X, y) is None  # the reference: no separation, finite MLE
    clf = _fit(X, y)
    _, found = _separation_warnings(clf, X, y)
    assert found == []


def test_penalised_fit_is_not_reported():
    X, y = _quasi_separated()
    clf = _fit(X, y, penalty="l2", C=1.0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        clf.coef_table(X, y)
    assert not [w for w in caught if issubclass(w.category, SeparableDataWarning)]


def test_sparse_and_streamed_data_name_the_same_term():
    import scipy.sparse as sp

    from torchlogit.data import ArraySource

    X, y = _quasi_separated(seed=4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf = _fit(X, y)
    _, dense = _separation_warnings(clf, X, y)
    _, sparse = _separation_warnings(clf, sp.csr_matrix(X), y)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        clf.inference(ArraySource(X, y, chunk_rows=37))
    streamed = [str(w.message) for w in caught if issubclass(w.category, SeparableDataWarning)]
    assert len(dense) == 1 and "along x1:" in dense[0]
    assert sparse == dense and streamed == dense

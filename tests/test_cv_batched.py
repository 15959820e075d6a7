"""Folds batched: every fold's training problem at one C solved as one stacked problem.

The stacked objective against finite differences and against the folds' own objectives; every
stacked path point against a single LogisticRegression on that fold's training rows; the CV
estimator against scikit-learn's LogisticRegressionCV; the stopping rule's per-fold guarantee;
the per-fold fallback where the stacked form does not apply."""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegressionCV as SkCV
from sklearn.model_selection import StratifiedKFold

from test_cv_path import _data as _cv_path_data
from torchlogit import LogisticRegression, LogisticRegressionCV, fitting
from torchlogit.data import IndexFolds, InMemoryData, fold_data, stacked_fold_data
from torchlogit.objective import (
    FoldStackedLoss,
    FoldStackedObjective,
    LinearObjective,
    make_loss,
    make_penalty,
)

CV = StratifiedKFold(3, shuffle=True, random_state=0)


def _data(n_classes, n=240, d=6, seed=1):
    """test_cv_path's problem (scaled make_classification, weights in [0.5, 2]), smaller."""
    return _cv_path_data(n_classes, n=n, d=d, seed=seed)


def _splits(X, y):
    return [(tr, te) for tr, te in CV.split(X, y)]


@pytest.fixture
def stacked_calls(monkeypatch):
    """Records whether cross_validate took the stacked path (a list of bools, one per CV)."""
    calls = []
    original = fitting._path.stacked_path

    def spy(*args, **kwargs):
        out = original(*args, **kwargs)
        calls.append(out is not None)
        return out

    monkeypatch.setattr(fitting._path, "stacked_path", spy)
    return calls


# ---------------------------------------------------------------- the objective itself
def _stacked_objective(n_classes, *, offset=False, C=0.7, dtype=torch.float64):
    X, y, sw = _data(n_classes, n=90, seed=3)
    n, d = X.shape
    splits = _splits(X, y)
    folds = IndexFolds(splits, n)
    K = n_classes
    m = 1 if K == 2 else K
    Xt = torch.tensor(X, dtype=dtype)
    yt = torch.tensor(y, dtype=torch.int64)
    st = torch.tensor(sw, dtype=dtype)
    off = (
        torch.tensor(np.random.default_rng(0).normal(size=(n, m)), dtype=dtype) if offset else None
    )
    base = InMemoryData(Xt, yt, st, offset=off)
    sums = np.array([sw[tr].sum() for tr, _ in splits])
    S = float(sums.min())
    data = stacked_fold_data(base, folds, n_classes=K, weight_sum=S)
    pen = make_penalty("l2", C=C, l1_ratio=None, weight_sum=S, n_features=d, dtype=dtype)
    loss = FoldStackedLoss(make_loss(K), folds.n_folds)
    obj = FoldStackedObjective(loss, data, pen, fit_intercept=True, n_features=d)
    singles = []
    for f in range(folds.n_folds):
        pen_f = make_penalty(
            "l2", C=C, l1_ratio=None, weight_sum=sums[f], n_features=d, dtype=dtype
        )
        data_f = fold_data(base, folds, f, weight_sum=sums[f])
        singles.append(
            LinearObjective(make_loss(K), data_f, pen_f, fit_intercept=True, n_features=d)
        )
    return obj, singles, sums, S, m


@pytest.mark.parametrize("n_classes", [2, 3])
@pytest.mark.parametrize("offset", [False, True])
def test_stacked_gradient_and_hessian_by_finite_differences(n_classes, offset):
    obj, _, _, _, _ = _stacked_objective(n_classes, offset=offset)
    gen = torch.Generator().manual_seed(0)
    coef = 0.3 * torch.randn(*obj.coef_shape, generator=gen, dtype=torch.float64)
    f0, g = obj.value_gradient(coef)
    assert torch.allclose(f0, obj.value(coef), rtol=1e-14, atol=0)
    h = 1e-6
    fd = torch.zeros_like(coef)
    for idx in np.ndindex(*coef.shape):
        e = torch.zeros_like(coef)
        e[idx] = h
        fd[idx] = (obj.value(coef + e) - obj.value(coef - e)) / (2 * h)
    np.testing.assert_allclose(g.numpy(), fd.numpy(), rtol=0, atol=1e-8)
    # Hessian: block diagonal, each column the finite difference of the gradient
    _, _, H = obj.value_gradient_hessian(coef)
    Hfd = torch.zeros_like(H)
    for j, idx in enumerate(np.ndindex(*coef.shape)):
        e = torch.zeros_like(coef)
        e[idx] = h
        gp = obj.value_gradient(coef + e)[1]
        gm = obj.value_gradient(coef - e)[1]
        Hfd[:, j] = ((gp - gm) / (2 * h)).reshape(-1)
    np.testing.assert_allclose(H.numpy(), Hfd.numpy(), rtol=0, atol=1e-7)
    # the same Hessian from a point's raw predictions, products and diagonal
    np.testing.assert_allclose(obj.hessian(obj.point(coef)).numpy(), H.numpy(), atol=1e-12)
    v = torch.randn(*coef.shape, generator=gen, dtype=torch.float64)
    Hv = (H @ v.reshape(-1)).reshape(coef.shape)
    np.testing.assert_allclose(obj.hessian_product(coef, v).numpy(), Hv.numpy(), atol=1e-12)
    np.testing.assert_allclose(obj.hessian_operator(coef)(v).numpy(), Hv.numpy(), atol=1e-12)
    diag = H.diagonal().reshape(coef.shape)
    np.testing.assert_allclose(obj.hessian_diagonal(coef).numpy(), diag.numpy(), atol=1e-12)


@pytest.mark.parametrize("n_classes", [2, 3])
def test_stacked_objective_is_the_scaled_sum_of_the_folds(n_classes):
    """Phi = sum_f (S_f / S) f_f, grad block f = (S_f / S) grad f_f (the folds' own objectives
    on fold_data's masked weights, an independent code path)."""
    obj, singles, sums, S, m = _stacked_objective(n_classes, offset=True)
    gen = torch.Generator().manual_seed(1)
    coef = 0.5 * torch.randn(*obj.coef_shape, generator=gen, dtype=torch.float64)
    f, g = obj.value_gradient(coef)
    total = 0.0
    for k, single in enumerate(singles):
        fk, gk = single.value_gradient(coef[k * m : (k + 1) * m])
        total += sums[k] / S * float(fk)
        np.testing.assert_allclose(
            g[k * m : (k + 1) * m].numpy(), (sums[k] / S * gk).numpy(), rtol=1e-12, atol=1e-15
        )
    assert float(f) == pytest.approx(total, rel=1e-12)


# ---------------------------------------------------------------- paths
def _fold_objective(X, y, sw, splits, fold, C):
    """Fold ``fold``'s own averaged objective (its S_f), at ``C``."""
    n, d = X.shape
    base = InMemoryData(torch.tensor(X), torch.tensor(y).long(), torch.tensor(sw))
    S_f = float(sw[splits[fold][0]].sum())
    return LinearObjective(
        make_loss(len(np.unique(y))),
        fold_data(base, IndexFolds(splits, n), fold, weight_sum=S_f),
        make_penalty("l2", C=C, l1_ratio=None, weight_sum=S_f, n_features=d),
        fit_intercept=True,
        n_features=d,
    )


def _single_fit(X, y, sw, train, C, **kw):
    return LogisticRegression(C=C, tol=1e-10, max_iter=1000, **kw).fit(
        X[train], y[train], sample_weight=sw[train]
    )


@pytest.mark.parametrize("n_classes", [2, 3])
@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("solver", ["newton", "lbfgs", "newton-cg"])
def test_every_stacked_point_equals_a_single_fit_on_the_folds_rows(
    n_classes, sparse, solver, stacked_calls
):
    """Both solve the fold's problem to max|grad| <= 1e-10 (checked on the fold's own
    objective), so they agree to ~1e-10 / lambda_min(H) >= ~1e-10 C S_f: C <= 10 keeps that
    below 1e-7 (at C = 100 multinomial points differ by 2e-7, both optimal to 1e-10)."""
    X, y, sw = _data(n_classes)
    splits = _splits(X, y)
    Cs = np.logspace(-2, 1, 4)
    Xin = sp.csr_matrix(X) if sparse else X
    tol = 1e-10
    cv = LogisticRegressionCV(Cs=Cs, cv=splits, solver=solver, tol=tol, max_iter=1000)
    cv.fit(Xin, y, sample_weight=sw)
    assert stacked_calls == [True]
    for f, (train, _) in enumerate(splits):
        for k, C in enumerate(Cs):
            single = _single_fit(X, y, sw, train, C)
            point = cv.coefs_paths_[f, 0, k]
            _, g = _fold_objective(X, y, sw, splits, f, C).value_gradient(torch.tensor(point))
            assert float(g.abs().max()) <= tol
            np.testing.assert_allclose(point[:, :-1], single.coef_, rtol=0, atol=1e-7)
            np.testing.assert_allclose(point[:, -1], single.intercept_, rtol=0, atol=1e-7)


@pytest.mark.parametrize("n_classes", [2, 3])
@pytest.mark.parametrize("sparse", [False, True])
def test_stacked_cv_equals_sklearn(n_classes, sparse, stacked_calls):
    X, y, sw = _data(n_classes)
    Cs = np.logspace(-3, 2, 7)
    Xin = sp.csr_matrix(X) if sparse else X
    ours = LogisticRegressionCV(Cs=Cs, cv=CV, tol=1e-10, max_iter=1000).fit(Xin, y, sw)
    assert stacked_calls == [True]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        sk = SkCV(
            Cs=Cs, cv=CV, scoring="neg_log_loss", use_legacy_attributes=False,
            solver="newton-cholesky", tol=1e-10, max_iter=1000,
        ).fit(X, y, sample_weight=sw)  # fmt: skip
    assert ours.C_ == sk.C_
    np.testing.assert_allclose(ours.scores_, sk.scores_, rtol=0, atol=1e-6)
    np.testing.assert_allclose(ours.coefs_paths_, sk.coefs_paths_, rtol=0, atol=1e-6)
    np.testing.assert_allclose(ours.coef_, sk.coef_, rtol=0, atol=1e-6)


@pytest.mark.parametrize("tol", [1e-2, 1e-4, 10**-6.5])
def test_each_fold_solved_at_least_as_tightly_as_its_own_fit(tol, stacked_calls):
    """The stacked stopping rule max|grad Phi| <= tol with S = min S_f leaves every fold's own
    averaged gradient at most tol (what its own fit at the same tol guarantees)."""
    X, y, sw = _data(2, n=301)
    # unequal folds (S_f from ~140 to ~260): a common S above the smallest S_f would leave
    # that fold's gradient above tol
    order = np.random.default_rng(0).permutation(301)
    held = np.split(order, [40, 140])
    splits = [(np.setdiff1d(order, h), np.sort(h)) for h in held]
    C = 10.0
    cv = LogisticRegressionCV(Cs=[C], cv=splits, solver="lbfgs", tol=tol).fit(X, y, sw)
    assert stacked_calls == [True]
    for f in range(len(splits)):
        obj = _fold_objective(X, y, sw, splits, f, C)
        _, g = obj.value_gradient(torch.tensor(cv.coefs_paths_[f, 0, 0]))
        assert float(g.abs().max()) <= tol


def test_stacked_path_falls_back_per_fold_where_it_does_not_apply(stacked_calls):
    X, y, sw = _data(2)
    Cs = np.logspace(-1, 1, 3)
    LogisticRegressionCV(Cs=Cs, cv=CV, penalty="l1", tol=1e-8).fit(X, y, sw)
    LogisticRegressionCV(Cs=Cs, cv=CV, lower_bounds=-0.5, tol=1e-8).fit(X, y, sw)
    LogisticRegressionCV(Cs=Cs, cv=CV, solver="fista", tol=1e-6).fit(X, y, sw)
    assert stacked_calls == [False, False, False]


def test_newton_falls_back_when_the_stacked_matrix_is_costly_to_factor(stacked_calls):
    """Newton factors the stacked (F m p)-square Hessian: past STACKED_FACTOR_FREE parameters
    on few rows each fold runs its own path; L-BFGS (no matrix) still stacks."""
    X, y = make_classification(300, 80, n_informative=10, n_classes=5, random_state=0)
    assert 3 * 5 * 81 > fitting._path.STACKED_FACTOR_FREE
    for solver in ("newton", "lbfgs"):
        LogisticRegressionCV(Cs=[1.0], cv=CV, solver=solver, tol=1e-4, max_iter=50).fit(X, y)
    assert stacked_calls == [False, True]

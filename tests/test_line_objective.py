"""The point / line / Hessian interface of LinearObjective and the solvers built on it.

Every quantity is checked against the plain methods (``value``, ``value_gradient``,
``value_gradient_hessian``), which are themselves checked against scikit-learn elsewhere; the
solvers' solutions are checked against scikit-learn's objective at a tight tolerance.
"""

import numpy as np
import pytest
import torch
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression as SkLR

from torchlogit import LogisticRegression
from torchlogit.data import InMemoryData
from torchlogit.objective import ElasticNetPenalty, LinearObjective, make_loss
from torchlogit.solvers import LBFGSSolver, NewtonSolver
from torchlogit.solvers._adapter import line_objective


def _objective(n_classes, *, fit_intercept=True, n=600, d=7, l2=1e-2, seed=0):
    X, y = make_classification(
        n, d, n_informative=5, n_classes=n_classes, n_clusters_per_class=1, random_state=seed
    )
    rng = np.random.default_rng(seed)
    sw = rng.uniform(0.2, 2.0, size=n)
    data = InMemoryData(torch.from_numpy(X), torch.from_numpy(y), torch.from_numpy(sw))
    return LinearObjective(
        make_loss(n_classes),
        data,
        ElasticNetPenalty(0.0, l2, d),
        fit_intercept=fit_intercept,
        n_features=d,
    )


def _coef(obj, seed):
    g = torch.Generator().manual_seed(seed)
    return 0.3 * torch.randn(*obj.coef_shape, generator=g, dtype=torch.float64)


@pytest.mark.parametrize("n_classes", [2, 4])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_line_matches_plain_evaluations(n_classes, fit_intercept):
    obj = _objective(n_classes, fit_intercept=fit_intercept)
    coef, d = _coef(obj, 1), _coef(obj, 2)
    pt = obj.point(coef)
    f, g = obj.value_gradient(coef)
    torch.testing.assert_close(pt.value, f, rtol=1e-13, atol=0)
    torch.testing.assert_close(pt.gradient, g, rtol=1e-12, atol=1e-15)
    line = obj.line(pt, d)
    for t in (1.0, 0.37, 1e-3):
        torch.testing.assert_close(line.value(t), obj.value(coef + t * d), rtol=1e-13, atol=0)
        new = line.point(t)  # reuses the last value's raw predictions and data term
        f_t, g_t = obj.value_gradient(coef + t * d)
        torch.testing.assert_close(new.value, f_t, rtol=1e-13, atol=0)
        torch.testing.assert_close(new.gradient, g_t, rtol=1e-12, atol=1e-15)
    # A point at a t whose value was not asked for
    torch.testing.assert_close(line.point(0.5).gradient, obj.value_gradient(coef + 0.5 * d)[1])


@pytest.mark.parametrize("n_classes", [2, 3])
def test_hessian_from_point_is_the_exact_hessian(n_classes):
    obj = _objective(n_classes)
    coef = _coef(obj, 3)
    H = obj.hessian(obj.point(coef))
    torch.testing.assert_close(H, obj.value_gradient_hessian(coef)[2], rtol=1e-12, atol=1e-14)


def test_zero_start_point_needs_one_pass():
    obj = _objective(2)
    coef = torch.zeros(obj.coef_shape, dtype=torch.float64)
    coef[0, -1] = 0.4  # an intercept only: W = 0
    before = obj.n_passes
    pt = obj.point(coef)
    assert obj.n_passes - before == 1
    f, g = obj.value_gradient(coef)
    torch.testing.assert_close(pt.value, f)
    torch.testing.assert_close(pt.gradient, g)


@pytest.mark.parametrize("n_classes", [2, 3])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_sampled_hessian_is_the_rescaled_hessian_of_its_rows(n_classes, fit_intercept):
    obj = _objective(n_classes, n=2000, fit_intercept=fit_intercept)
    coef = _coef(obj, 4)
    pt = obj.point(coef)
    Hs = obj.hessian(pt, row_fraction=0.25)
    ((_, kept),) = obj._hessian_samples.items()
    rows, scale = kept.rows, kept.scale
    assert 400 < rows.numel() < 600 and rows.unique().numel() == rows.numel()
    assert scale == 2000 / rows.numel()
    batch = obj.data.batch
    sub = InMemoryData(batch.X[rows], batch.y[rows], batch.sample_weight[rows] * scale)
    sub_obj = LinearObjective(
        obj.loss, sub, obj.penalty, fit_intercept=fit_intercept, n_features=obj.n_features
    )
    # sub_obj divides its data term by its own weight sum; rescale it to the full one
    H_ref = sub_obj.value_gradient_hessian(coef)[2]
    pen = obj.penalty.smooth_hessian_diagonal(coef).reshape(-1)
    H_ref.diagonal().sub_(pen)
    H_ref = H_ref * (sub.weight_sum / obj.data.weight_sum)
    H_ref.diagonal().add_(pen)
    torch.testing.assert_close(Hs, H_ref, rtol=1e-11, atol=1e-13)
    torch.testing.assert_close(Hs, Hs.T)
    assert Hs.dtype == torch.float64
    # a fair estimate of the exact Hessian (2000 rows, a quarter of them)
    H = obj.hessian(pt)
    assert float((Hs - H).norm() / H.norm()) < 0.3


def _sklearn_fit(X, y, C):
    return SkLR(C=C, solver="newton-cholesky", tol=1e-12, max_iter=200).fit(X, y)


def _sk_objective(X, y, coef, intercept, C):
    from benchmarks.objective import sklearn_objective

    y_index = np.unique(y, return_inverse=True)[1]
    return sklearn_objective(X, y_index, coef, intercept, C=C, l1_ratio=0.0)


@pytest.fixture(scope="module")
def large_binary():
    X, y = make_classification(40_000, 10, n_informative=6, flip_y=0.05, random_state=0)
    return X, y


@pytest.mark.parametrize(
    "solver,kwargs",
    [
        (NewtonSolver, {"hessian_rows": None}),
        (NewtonSolver, {"hessian_rows": 300, "reuse_hessian": False}),
        (NewtonSolver, {"hessian_rows": 300, "reuse_hessian": True}),
        (NewtonSolver, {"hessian_rows": None, "reuse_hessian": True}),
        (NewtonSolver, {"hessian_rows": 2000, "sample_stage": True}),
        (NewtonSolver, {"hessian_rows": "auto"}),
        (LBFGSSolver, {}),
    ],
)
def test_solvers_reach_sklearns_optimum(large_binary, solver, kwargs, monkeypatch):
    """Sampled-Hessian Newton and L-BFGS on the line API: the exact minimiser."""
    X, y = large_binary
    C = 0.5
    ref = _sklearn_fit(X, y, C)
    f_ref = _sk_objective(X, y, ref.coef_, ref.intercept_, C)
    orig = solver.__init__

    def init(self, **kw):
        orig(self, **{**kwargs, **kw})

    monkeypatch.setattr(solver, "__init__", init)
    clf = LogisticRegression(C=C, solver=solver.name, tol=1e-10, max_iter=500).fit(X, y)
    f = _sk_objective(X, y, clf.coef_, clf.intercept_, C)
    assert (f - f_ref) / abs(f_ref) < 1e-13
    np.testing.assert_allclose(clf.coef_, ref.coef_, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(clf.intercept_, ref.intercept_, rtol=1e-6, atol=1e-8)


def test_sampled_newton_multinomial_matches_exact_newton():
    X, y = make_classification(
        30_000, 8, n_informative=6, n_classes=4, n_clusters_per_class=1, random_state=1
    )
    exact = LogisticRegression(C=2.0, tol=1e-12, solver="newton").fit(X, y)
    obj_ref = _sk_objective(X, y, exact.coef_, exact.intercept_, 2.0)
    sk = SkLR(C=2.0, solver="lbfgs", tol=1e-12, max_iter=2000).fit(X, y)
    assert obj_ref <= _sk_objective(X, y, sk.coef_, sk.intercept_, 2.0) * (1 + 1e-12)
    data = InMemoryData(
        torch.from_numpy(X), torch.from_numpy(y).long(), torch.ones(X.shape[0], dtype=torch.float64)
    )
    obj = LinearObjective(
        make_loss(4), data, ElasticNetPenalty(0.0, 1 / (2.0 * X.shape[0]), 8),
        fit_intercept=True, n_features=8,
    )  # fmt: skip
    res = NewtonSolver(tol=1e-12, hessian_rows=200).solve(
        obj, torch.zeros(obj.coef_shape, dtype=torch.float64)
    )
    assert res.converged
    coef = res.coef - res.coef.mean(dim=0, keepdim=True)
    np.testing.assert_allclose(coef[:, :8].numpy(), exact.coef_, rtol=1e-7, atol=1e-9)


class _PlainObjective:
    """A wrapper with only the plain methods: the solvers must adapt to it."""

    def __init__(self, obj):
        self._obj = obj
        self.penalty = obj.penalty
        self.n_evaluations = 0

    def value(self, coef):
        self.n_evaluations += 1
        return self._obj.value(coef)

    def value_gradient(self, coef):
        self.n_evaluations += 1
        return self._obj.value_gradient(coef)

    def value_gradient_hessian(self, coef):
        self.n_evaluations += 1
        return self._obj.value_gradient_hessian(coef)


@pytest.mark.parametrize("solver", [NewtonSolver, LBFGSSolver])
def test_plain_objective_gives_the_same_solution(solver):
    obj = _objective(2, n=3000)
    plain = _PlainObjective(obj)
    assert line_objective(plain) is not plain
    coef0 = torch.zeros(obj.coef_shape, dtype=torch.float64)
    a = solver(tol=1e-10, max_iter=300).solve(obj, coef0)
    b = solver(tol=1e-10, max_iter=300).solve(plain, coef0)
    assert a.converged and b.converged
    torch.testing.assert_close(a.coef, b.coef, rtol=1e-8, atol=1e-10)
    assert b.n_passes == plain.n_evaluations


def test_newton_passes_per_iteration():
    """Start at W = 0: one pass (G^T X); then per iteration X d, G^T X and the Gram."""
    obj = _objective(2, n=20_000, d=8)
    zeros = torch.zeros(obj.coef_shape, dtype=torch.float64)
    res = NewtonSolver(tol=1e-10, hessian_rows=None, reuse_hessian=False).solve(obj, zeros)
    assert res.converged and res.n_iter >= 3
    assert res.n_passes == 1 + 3 * res.n_iter
    # keeping the Hessian after good steps: fewer Grams
    obj = _objective(2, n=20_000, d=8)
    res = NewtonSolver(tol=1e-10, hessian_rows=None, reuse_hessian=True).solve(obj, zeros)
    assert res.converged
    assert 1 + 2 * res.n_iter < res.n_passes < 1 + 3 * res.n_iter
    obj = _objective(2, n=20_000, d=8)
    res = NewtonSolver(tol=1e-10, hessian_rows=1000, reuse_hessian=False).solve(obj, zeros)
    assert res.converged
    # the Gram reads 1000 / 20000 of the rows until the sample grows
    assert res.n_passes <= 1 + 3 * res.n_iter
    assert obj.n_passes < 1 + 3 * res.n_iter

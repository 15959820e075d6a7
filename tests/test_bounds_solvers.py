"""Box constraints through the objective and solver layers (``make_penalty(lower_bounds=...,
upper_bounds=...)`` + ``LinearObjective`` + ``solver.solve``), checked against glum and against
the KKT conditions of the box-constrained problem computed independently in NumPy.

glum's objective is ``mean_w(deviance)/2 + alpha (l1_ratio |w|_1 + (1 - l1_ratio)/2 |w|^2)``
with the weights normalised to sum 1; for the binomial family ``deviance / 2`` is the log-loss,
so it is torchlogit's averaged objective with ``alpha = 1 / (C S)``, ``S = sum_i s_i`` (checked
first without bounds).
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

from _box_reference import gradient_np, kkt_violation_np
from torchlogit.data import Batch
from torchlogit.objective import BatchList, LinearObjective, make_loss, make_penalty
from torchlogit.solvers import (
    SOLVERS,
    check_solver_objective,
    choose_solver,
    get_solver,
)

glum = pytest.importorskip("glum")

BOUNDED = sorted(n for n, c in SOLVERS.items() if c.capabilities.bounds)
PENALTIES = [("l2", None), (None, None), ("l1", None), ("elasticnet", 0.5)]
TOL = 1e-10
D = 6
# Some bounds bind at this problem's optimum, some do not, one fixes a coefficient at 0.
LOWER = np.array([-np.inf, -1.0, 0.0, 0.0, -np.inf, -0.3])
UPPER = np.array([1.0, np.inf, 0.5, np.inf, 0.0, 0.3])


def _data(n_classes=2, n=400, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, D))
    X[:, 1] += 0.5 * X[:, 0]
    if n_classes == 2:
        beta = np.array([1.5, -2.0, 0.8, -0.4, 0.7, 1.0])
        y = (rng.random(n) < 1 / (1 + np.exp(-(X @ beta + 0.3)))).astype(np.int64)
    else:
        B = rng.standard_normal((n_classes, D)) * 1.5
        logits = X @ B.T
        P = np.exp(logits - logits.max(1, keepdims=True))
        P /= P.sum(1, keepdims=True)
        y = np.array([rng.choice(n_classes, p=p) for p in P])
    sw = rng.uniform(0.5, 2.0, n)
    return X, y, sw


def _problem(X, y, sw, kind, ratio, C, lower, upper, dtype=torch.float64, n_classes=2):
    batch = Batch(torch.tensor(X, dtype=dtype), torch.tensor(y), torch.tensor(sw, dtype=dtype))
    data = BatchList([batch])
    pen = make_penalty(
        kind,
        C=C,
        l1_ratio=ratio,
        weight_sum=data.weight_sum,
        n_features=X.shape[1],
        dtype=dtype,
        lower_bounds=lower,
        upper_bounds=upper,
    )
    obj = LinearObjective(make_loss(n_classes), data, pen, fit_intercept=True, n_features=D)
    return obj, pen


def _solve(solver, obj, dtype=torch.float64, tol=TOL, coef0=None):
    if coef0 is None:
        coef0 = torch.zeros(obj.coef_shape, dtype=dtype)
    check_solver_objective(get_solver(solver), obj, obj.penalty)
    res = get_solver(solver)(tol=tol, max_iter=20_000).solve(obj, coef0)
    assert res.converged, res.message
    return res.coef.double().numpy()


def _glum(X, y, sw, kind, ratio, C, lower, upper):
    alpha = 0.0 if kind is None else 1.0 / (C * sw.sum())
    l1_ratio = {"l2": 0.0, "l1": 1.0, None: 0.0}.get(kind, ratio)
    model = glum.GeneralizedLinearRegressor(
        family="binomial",
        alpha=alpha,
        l1_ratio=l1_ratio,
        lower_bounds=lower,
        upper_bounds=upper,
        gradient_tol=1e-12,
        max_iter=1000,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(X, y, sample_weight=sw)
    return np.r_[model.coef_, model.intercept_]


def _strengths(kind, ratio, C, S):
    rho = {"l2": 0.0, "l1": 1.0, None: 0.0}.get(kind, ratio)
    scale = 0.0 if kind is None else 1.0 / (C * S)
    return rho * scale, (1 - rho) * scale


@pytest.mark.parametrize("kind,ratio", [("l2", None), ("l1", None)])
def test_glum_mapping_without_bounds(kind, ratio):
    """``alpha = 1 / (C S)`` makes glum's objective ours (no bounds: the mapping alone)."""
    X, y, sw = _data()
    obj, _ = _problem(X, y, sw, kind, ratio, 0.05, None, None)
    got = _solve("cd", obj)[0]
    ref = _glum(X, y, sw, kind, ratio, 0.05, None, None)
    assert np.abs(got - ref).max() < 1e-7


@pytest.mark.parametrize("solver", BOUNDED)
@pytest.mark.parametrize("kind,ratio", PENALTIES)
def test_bounded_binary_equals_glum_and_kkt(solver, kind, ratio):
    X, y, sw = _data()
    C = 0.05
    obj, _ = _problem(X, y, sw, kind, ratio, C, LOWER, UPPER)
    coef = _solve(solver, obj)
    ref = _glum(X, y, sw, kind, ratio, C, LOWER, UPPER)
    assert np.abs(coef[0] - ref).max() < 1e-7
    w = coef[0, :D]
    assert np.all(w >= LOWER) and np.all(w <= UPPER)
    on_bound = np.isclose(w, LOWER, atol=0) | np.isclose(w, UPPER, atol=0)
    assert on_bound.sum() >= 2, "the bounds must bind for this test to mean anything"
    # the unconstrained optimum is outside the box: the constraint changed the answer
    free = _solve(solver, _problem(X, y, sw, kind, ratio, C, None, None)[0])
    assert np.abs(free - coef).max() > 1e-2
    l1, l2 = _strengths(kind, ratio, C, sw.sum())
    g = gradient_np(X, y, sw, coef, l2=l2)
    viol = kkt_violation_np(coef, g, l1=l1, lower=LOWER, upper=UPPER, n_features=D)
    assert viol <= TOL * 1.01 + 1e-13


@pytest.mark.parametrize("solver", BOUNDED)
@pytest.mark.parametrize("kind,ratio", PENALTIES)
def test_bounded_multinomial_kkt(solver, kind, ratio):
    X, y, sw = _data(n_classes=3, n=300, seed=1)
    C = 0.2
    obj, _ = _problem(X, y, sw, kind, ratio, C, LOWER, UPPER, n_classes=3)
    coef = _solve(solver, obj)
    W = coef[:, :D]
    assert np.all(W >= LOWER) and np.all(W <= UPPER)
    assert (W == LOWER).sum() + (W == UPPER).sum() >= 2
    l1, l2 = _strengths(kind, ratio, C, sw.sum())
    g = gradient_np(X, y, sw, coef, l2=l2)
    viol = kkt_violation_np(coef, g, l1=l1, lower=LOWER, upper=UPPER, n_features=D)
    assert viol <= TOL * 1.01 + 1e-13
    # the solvers agree with each other: with a penalty the weights are unique; the
    # intercepts only up to a common shift (the softmax is invariant to it)
    if kind is not None:
        other = _solve([s for s in BOUNDED if s != solver][0], obj)
        assert np.abs(other[:, :D] - W).max() < 1e-6
        centred = other[:, D] - other[:, D].mean() - (coef[:, D] - coef[:, D].mean())
        assert np.abs(centred).max() < 1e-6


@pytest.mark.parametrize("solver", BOUNDED)
def test_float32_smoke(solver):
    X, y, sw = _data()
    obj32, _ = _problem(X, y, sw, "l1", None, 0.05, LOWER, UPPER, dtype=torch.float32)
    got = _solve(solver, obj32, dtype=torch.float32, tol=1e-4)
    w = got[0, :D]
    lo32, hi32 = LOWER.astype(np.float32), UPPER.astype(np.float32)
    assert np.all(w >= lo32) and np.all(w <= hi32)
    ref = _glum(X, y, sw, "l1", None, 0.05, LOWER, UPPER)
    assert np.abs(got[0] - ref).max() < 1e-2


@pytest.mark.parametrize("solver", BOUNDED)
def test_start_outside_the_box_is_projected(solver):
    """Solvers start from the projection of ``coef0``; ``check_feasible`` refuses it."""
    X, y, sw = _data()
    obj, pen = _problem(X, y, sw, "l2", None, 0.05, LOWER, UPPER)
    outside = torch.full(obj.coef_shape, 5.0, dtype=torch.float64)
    with pytest.raises(ValueError, match=r"outside the bounds.*feature 0"):
        pen.check_feasible(outside)
    pen.check_feasible(pen.project(outside))
    assert np.abs(_solve(solver, obj, coef0=outside) - _solve(solver, obj)).max() < 1e-8


def test_fixed_coefficients_and_free_intercept():
    """``lower = upper`` fixes a weight; the intercept is never bounded."""
    X, y, sw = _data()
    lo = np.zeros(D)
    lo[2] = 0.7
    obj, _ = _problem(X, y, sw, None, None, 1.0, lo, lo)
    coef = _solve("cd", obj)
    assert np.array_equal(coef[0, :D], lo)
    share = sw @ y / sw.sum()
    # with every weight fixed the intercept solves the one remaining equation
    g = gradient_np(X, y, sw, coef)
    assert abs(g[0, D]) < 1e-9
    assert coef[0, D] != pytest.approx(np.log(share / (1 - share)), abs=1e-3)  # not the null
    obj0, _ = _problem(X, y, sw, None, None, 1.0, 0.0, 0.0)
    null = _solve("fista", obj0)
    assert null[0, D] == pytest.approx(np.log(share / (1 - share)), abs=1e-8)


@pytest.mark.parametrize("name", sorted(n for n, c in SOLVERS.items() if not c.capabilities.bounds))
def test_solvers_without_bounds_refuse_them(name):
    X, y, sw = _data()
    obj, pen = _problem(X, y, sw, "l2", None, 1.0, 0.0, None)
    with pytest.raises(ValueError, match=rf"solver {name!r} does not support bounds.*cd"):
        check_solver_objective(get_solver(name), obj, pen)
    with pytest.raises(ValueError, match="does not support bounds"):  # solve checks it too
        get_solver(name)().solve(obj, torch.zeros(obj.coef_shape, dtype=torch.float64))


def test_auto_picks_a_bounded_solver():
    X, y, sw = _data()
    for kind in ["l2", None, "l1"]:
        _, pen = _problem(X, y, sw, kind, None, 1.0, -1.0, 1.0)
        for device in [None, "cuda"]:
            for sparse in [False, True]:
                name = choose_solver(
                    n_samples=400, n_parameters=7, penalty=pen, sparse=sparse, device=device
                )
                assert SOLVERS[name].capabilities.bounds
                check_solver_objective(
                    SOLVERS[name], _problem(X, y, sw, kind, None, 1.0, -1, 1)[0], pen
                )
        _, free = _problem(X, y, sw, kind, None, 1.0, None, None)
        if kind != "l1":  # without bounds a smooth problem still goes to Newton
            name = choose_solver(n_samples=400, n_parameters=7, penalty=free)
            assert not SOLVERS[name].capabilities.proximal


def test_bounds_validation():
    common = dict(C=1.0, l1_ratio=None, weight_sum=1.0, n_features=3)
    with pytest.raises(ValueError, match=r"feature 1 has lower bound 2\.0 > upper bound 1\.0"):
        make_penalty("l2", lower_bounds=[0.0, 2.0, 0.0], upper_bounds=1.0, **common)
    with pytest.raises(ValueError, match=r"shape \(3,\)"):
        make_penalty("l2", lower_bounds=[0.0, 1.0], **common)
    with pytest.raises(ValueError, match="NaN"):
        make_penalty("l2", upper_bounds=[0.0, np.nan, 1.0], **common)
    assert not make_penalty("l2", lower_bounds=-np.inf, upper_bounds=np.inf, **common).has_bounds
    pen = make_penalty("l2", lower_bounds=0.0, upper_bounds=[0.1, 1.0, 2.0], **common)
    assert pen.has_bounds and not pen.is_smooth
    assert pen.limits(torch.zeros(1, 4, dtype=torch.float64))[1][0, 0] == 0.1  # not rounded
    coef = torch.tensor([[-1.0, 2.0, -3.0, -4.0]], dtype=torch.float64)
    assert pen.project(coef).tolist() == [[0.0, 1.0, 0.0, -4.0]]  # intercept untouched

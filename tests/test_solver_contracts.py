"""The solver contracts: declarations drive ``"auto"`` and the checks, one loop serves every
full-batch solver (stopping, callback, checkpoint, resume), and the penalty's own maths
(``lambda_max``, the box-constrained inner quadratic of ``"cd"``) against independent answers.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.optimize import minimize

from _box_reference import gradient_np, kkt_violation_np
from torchlogit.data import Batch
from torchlogit.objective import BatchList, LinearObjective, make_loss, make_penalty
from torchlogit.solvers import (
    SOLVERS,
    FISTASolver,
    NewtonSolver,
    ProxNewtonCDSolver,
    ResumeState,
    check_solver_objective,
    choose_solver,
    get_solver,
)
from torchlogit.solvers._l1_quadratic import solve_l1_quadratic

D = 5
LOOPED = sorted(n for n, c in SOLVERS.items() if not c.capabilities.minibatch)


def _objective(kind="l2", C=1.0, n=300, seed=0, n_classes=2, fit_intercept=True, **bounds):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, D))
    z = X @ rng.standard_normal(D)
    y = (rng.random(n) < 1 / (1 + np.exp(-z))).astype(np.int64)
    if n_classes > 2:
        y = np.digitize(z, np.quantile(z, [1 / 3, 2 / 3]))
    t = torch.float64
    data = BatchList([Batch(torch.tensor(X, dtype=t), torch.tensor(y), torch.ones(n, dtype=t))])
    pen = make_penalty(
        kind, C=C, l1_ratio=None, weight_sum=data.weight_sum, n_features=D, dtype=t, **bounds
    )
    obj = LinearObjective(
        make_loss(n_classes), data, pen, fit_intercept=fit_intercept, n_features=D
    )
    return obj, X, y


def test_auto_reads_declarations_not_names(monkeypatch):
    """Renamed copies of the solvers are chosen exactly as the originals would be."""
    renamed = {
        "alpha": type("Alpha", (FISTASolver,), {"name": "alpha"}),
        "beta": type("Beta", (NewtonSolver,), {"name": "beta"}),
        "gamma": type("Gamma", (ProxNewtonCDSolver,), {"name": "gamma"}),
    }
    monkeypatch.setattr("torchlogit.solvers._base.SOLVERS", renamed)
    obj, _, _ = _objective()
    l1, _, _ = _objective("l1")
    boxed, _, _ = _objective("l2", lower_bounds=0.0)
    pick = lambda pen, **kw: choose_solver(n_samples=300, n_parameters=6, penalty=pen, **kw)  # noqa: E731
    assert pick(obj.penalty) == "beta"
    assert pick(l1.penalty) == "gamma"
    assert pick(l1.penalty, device="cuda") == "alpha"
    assert pick(boxed.penalty) == "gamma"
    # past Newton's size no Hessian matrix comes first: here only the first-order proximal
    # solver has none
    assert choose_solver(n_samples=300, n_parameters=5000, penalty=obj.penalty) == "alpha"


def test_check_names_what_is_missing():
    obj, _, _ = _objective("l1")
    with pytest.raises(ValueError, match=r"'lbfgs' handles only smooth.*capabilities\.proximal"):
        check_solver_objective(get_solver("lbfgs"), obj, obj.penalty)

    class NoHVP:
        penalty = obj.penalty

        def value_gradient(self, coef):  # pragma: no cover - never called
            raise AssertionError

    with pytest.raises(ValueError, match=r"'newton-cg' needs the objective to provide "):
        check_solver_objective(get_solver("newton-cg"), NoHVP(), obj.penalty)


class _Keep:
    """A checkpoint that keeps what the loop saves."""

    def __init__(self):
        self.saved = []

    def save(self, n_iter, coef, history, state):
        self.saved.append((n_iter, coef.clone(), history.as_dict(), dict(state)))


def _kind(name):
    return "l1" if SOLVERS[name].capabilities.proximal else "l2"


@pytest.mark.parametrize("name", LOOPED)
def test_one_loop_stops_the_same_way_everywhere(name):
    obj, _, _ = _objective(_kind(name), C=0.5)
    zero = torch.zeros(obj.coef_shape, dtype=torch.float64)
    keep = _Keep()
    res = get_solver(name)(tol=1e-12, max_iter=2, checkpoint=keep).solve(obj, zero)
    assert (res.n_iter, res.converged, res.message) == (2, False, "reached max_iter=2")
    assert [s[0] for s in keep.saved] == [1, 2]
    assert len(res.history.objective) == 3  # the start and two iterations
    assert torch.equal(keep.saved[-1][1], res.coef)
    stop = get_solver(name)(tol=1e-12, callback=lambda it, coef, h: it == 1).solve(obj, zero)
    assert (stop.n_iter, stop.converged, stop.message) == (1, False, "stopped by callback")
    done = get_solver(name)(tol=1e-8, max_iter=10_000).solve(obj, zero)
    assert done.converged and done.message == "converged"
    assert done.history.gradient_norm[-1] <= 1e-8 < done.history.gradient_norm[0]


@pytest.mark.parametrize("name", LOOPED)
def test_resume_continues_or_refuses_as_declared(name):
    obj, X, y = _objective(_kind(name), C=0.5, n_classes=3)
    zero = torch.zeros(obj.coef_shape, dtype=torch.float64)
    keep = _Keep()
    get_solver(name)(tol=1e-10, max_iter=2, checkpoint=keep).solve(obj, zero)
    n_iter, coef, history, state = keep.saved[-1]
    resume = ResumeState(coef, n_iter, history, state)
    solver = get_solver(name)(tol=1e-10, max_iter=10_000)
    if SOLVERS[name].capabilities.resume:
        res = solver.solve(obj, zero, resume=resume)
        # the saved history (start and first iteration) continues; iterations keep counting
        assert res.history.objective[: len(history["objective"])] == history["objective"]
        assert res.n_iter > 2
    else:
        with pytest.warns(UserWarning, match="cannot continue from a checkpoint"):
            res = solver.solve(obj, zero, resume=resume)
        fresh = get_solver(name)(tol=1e-10, max_iter=10_000).solve(obj, zero)
        assert torch.equal(res.coef, fresh.coef) and res.n_iter == fresh.n_iter
    assert res.converged
    l1, l2 = (1 / (0.5 * len(y)), 0.0) if _kind(name) == "l1" else (0.0, 1 / (0.5 * len(y)))
    g = gradient_np(X, y, np.ones(len(y)), res.coef.numpy(), l2=l2)
    assert kkt_violation_np(res.coef.numpy(), g, l1=l1, n_features=D) <= 1e-10 * 1.01


def test_lambda_max_is_where_the_weights_leave_zero():
    """``C_min = 1 / (S lambda_max)``: all-zero weights at ``C`` just below it, not above."""
    obj, X, y = _objective("l1", fit_intercept=False)
    zero = torch.zeros(obj.coef_shape, dtype=torch.float64)
    g0 = gradient_np(X, y, np.ones(len(y)), zero.numpy(), fit_intercept=False)
    lam = obj.penalty.lambda_max(torch.from_numpy(g0))
    assert lam == pytest.approx(np.abs(g0).max(), rel=1e-15)
    c_min = 1.0 / (len(y) * lam)
    for factor, all_zero in [(0.999, True), (1.001, False)]:
        o, _, _ = _objective("l1", C=c_min * factor, fit_intercept=False)
        coef = get_solver("cd")(tol=1e-12).solve(o, zero).coef
        assert bool((coef == 0).all()) is all_zero


def test_box_quadratic_matches_scipy_and_kkt():
    """``cd``'s inner problem with a box: L-BFGS-B (no L1) and the KKT conditions (L1)."""
    rng = np.random.default_rng(0)
    k = 8
    A = rng.standard_normal((20, k))
    H = A.T @ A / 20 + 0.01 * np.eye(k)
    b = rng.standard_normal(k)
    lo = np.array([-np.inf, -0.1, 0.0, -1.0, 0.2, -np.inf, 0.0, -0.05])
    hi = np.array([0.1, np.inf, 0.0, 1.0, 2.0, 0.0, np.inf, 0.05])
    u0 = np.clip(rng.standard_normal(k), lo, hi)
    u, _, _ = solve_l1_quadratic(H, b, np.zeros(k), u0, tol=1e-13, lower=lo, upper=hi)
    ref = minimize(
        lambda v: (0.5 * v @ H @ v + b @ v, H @ v + b),
        u0,
        jac=True,
        method="L-BFGS-B",
        bounds=list(zip(lo, hi, strict=True)),
        options={"ftol": 1e-15, "gtol": 1e-13, "maxiter": 10_000},
    ).x
    assert np.abs(u - ref).max() < 1e-7
    for lam in [0.05, 0.5]:
        u, _, _ = solve_l1_quadratic(H, b, np.full(k, lam), u0, tol=1e-12, lower=lo, upper=hi)
        assert np.all(u >= lo) and np.all(u <= hi)
        viol = kkt_violation_np(
            u[None], (H @ u + b)[None], l1=lam, lower=lo, upper=hi, n_features=k
        )
        assert viol <= 1e-12


def test_loss_curvature_bound_holds():
    """The losses' ``curvature_bound`` (sgd's step size) bounds the per-sample Hessian's top
    eigenvalue, computed here from the probabilities by NumPy's eigvalsh."""
    rng = np.random.default_rng(0)
    for K in [2, 3, 7]:
        loss = make_loss(K)
        worst = 0.0
        for scale in [0.1, 1.0, 5.0]:
            if K == 2:  # the binomial loss has one logit: its Hessian is p (1 - p)
                p = 1 / (1 + np.exp(-rng.normal(0, scale, 500)))
                worst = max(worst, float(np.max(p * (1 - p))))
                continue
            Z = rng.normal(0, scale, (500, K))
            P = np.exp(Z - Z.max(1, keepdims=True))
            P /= P.sum(1, keepdims=True)
            for p in P:
                worst = max(worst, np.linalg.eigvalsh(np.diag(p) - np.outer(p, p))[-1])
        assert worst <= loss.curvature_bound
        if K == 2:  # reached at z = 0
            h = loss.hessian_diagonal(torch.zeros(1, 1, dtype=torch.float64))
            assert float(h) == loss.curvature_bound


def test_auto_filters_on_the_data_it_is_told_about(monkeypatch):
    """``streamed=`` / ``distributed=`` / ``sparse=`` exclude solvers that do not declare them."""
    obj, _, _ = _objective()
    l1, _, _ = _objective("l1")
    nothing = {"streamed": False, "distributed": False, "sparse": False}
    for flag in nothing:
        renamed = {
            "only-memory": type(
                "A",
                (NewtonSolver,),
                {"name": "only-memory", "capabilities": _caps(NewtonSolver, **{flag: False})},
            ),
            "any": type("B", (FISTASolver,), {"name": "any"}),
        }
        monkeypatch.setattr("torchlogit.solvers._base.SOLVERS", renamed)
        assert choose_solver(n_samples=9, n_parameters=6, penalty=obj.penalty) == "only-memory"
        assert (
            choose_solver(n_samples=9, n_parameters=6, penalty=obj.penalty, **{flag: True}) == "any"
        )
    monkeypatch.setattr("torchlogit.solvers._base.SOLVERS", {"n": NewtonSolver})
    with pytest.raises(ValueError, match="no registered solver supports this non-smooth problem"):
        choose_solver(n_samples=9, n_parameters=6, penalty=l1.penalty)


def _caps(cls, **changes):
    from dataclasses import replace

    return replace(cls.capabilities, **changes)


class _GroupLasso:
    """A non-separable penalty ``lam sum_j ||W_:j||_2`` (block soft-thresholding): proximal,
    but without the separable L1 weights ``cd``'s coordinate solver needs."""

    is_smooth = False
    has_bounds = False

    def __init__(self, lam, d):
        self.lam, self.d = lam, d

    def smooth_value(self, coef):
        return coef.new_zeros(())

    def smooth_gradient(self, coef):
        return torch.zeros_like(coef)

    def smooth_hessian_diagonal(self, coef):
        return torch.zeros_like(coef)

    def nonsmooth_value(self, coef):
        return self.lam * coef[:, : self.d].norm(dim=0).sum()

    def prox(self, coef, step):
        out = coef.clone()
        W = out[:, : self.d]
        norms = W.norm(dim=0).clamp(min=1e-300)
        out[:, : self.d] = W * torch.clamp(1 - step * self.lam / norms, min=0.0)
        return out

    def optimality(self, coef, grad):
        W, G = coef[:, : self.d], grad[:, : self.d]
        norms = W.norm(dim=0)
        on = G + self.lam * W / norms.clamp(min=1e-300)
        off = torch.clamp(G.norm(dim=0) - self.lam, min=0.0).expand_as(G) / G.shape[0] ** 0.5
        out = grad.abs()
        out[:, : self.d] = torch.where(norms > 0, on.abs(), off)
        return out


def test_a_new_penalty_runs_where_its_methods_suffice():
    """A group lasso with only the proximal protocol: fista solves it (KKT of the group
    problem checked in NumPy); cd refuses it, naming the methods it lacks."""
    obj, X, y = _objective(None, n_classes=3)
    lam = 0.2
    obj.penalty = _GroupLasso(lam, D)
    with pytest.raises(ValueError, match=r"'cd' needs the penalty to provide \['l1_thresholds'"):
        check_solver_objective(get_solver("cd"), obj, obj.penalty)
    check_solver_objective(get_solver("fista"), obj, obj.penalty)
    zero = torch.zeros(obj.coef_shape, dtype=torch.float64)
    res = get_solver("fista")(tol=1e-10, max_iter=50_000).solve(obj, zero)
    assert res.converged
    W = res.coef.numpy()
    g = gradient_np(X, y, np.ones(len(y)), W)
    assert np.abs(g[:, D]).max() <= 1e-9  # the intercepts are free
    for j in range(D):
        norm = np.linalg.norm(W[:, j])
        if norm > 0:  # g_j + lam w_j / ||w_j|| = 0
            assert np.abs(g[:, j] + lam * W[:, j] / norm).max() <= 1e-9
        else:  # ||g_j|| <= lam
            assert np.linalg.norm(g[:, j]) <= lam + 1e-9
    assert 0 < sum(np.linalg.norm(W[:, j]) == 0 for j in range(D)) < D

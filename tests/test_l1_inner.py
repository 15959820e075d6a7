"""The inner solve of ``solver="cd"`` (the L1-penalised quadratic model) where the support has
more columns than the data has rows, so that the support's Hessian block is singular: the weak-
penalty end of an L1 path. References: scikit-learn's ``Lasso`` (the model with ``H = X^T X / n``
and ``b = -X^T y / n`` is the lasso), the KKT conditions in NumPy, and an L-BFGS-B fit of the
logistic objective; the sweep counts are what the solvers return, not times."""

import numpy as np
import pytest
from sklearn.linear_model import Lasso

import torchlogit.solvers._prox_newton as prox_newton
from _l1_reference import kkt_violation, objective, reference_fit
from torchlogit import LogisticRegression
from torchlogit.solvers._l1_quadratic import solve_l1_quadratic

MAX_SWEEPS = 50  # the single-face subspace step took 40 to hundreds here, and stalled


def _lasso_model(n, k, frac, seed):
    """``q(u) = ||X u - y||^2 / (2n) + alpha |u|_1`` up to a constant, with ``n < k``, and the
    least-squares interpolant as the start (support ``k``: a dense warm start)."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, k)) * rng.uniform(0.2, 2.0, k)
    y = X[:, :10] @ rng.standard_normal(10) + 0.5 * rng.standard_normal(n)
    H, b = X.T @ X / n, -X.T @ y / n
    alpha = frac * np.abs(b).max()
    return X, y, H, b, alpha, np.linalg.pinv(X) @ y


def _q(H, b, lam, u):
    return 0.5 * u @ H @ u + b @ u + lam @ np.abs(u)


@pytest.mark.parametrize(("n", "k", "frac", "seed"), [(40, 150, 1e-3, 0), (60, 300, 1e-3, 1)])
@pytest.mark.parametrize("positive", [False, True])
def test_singular_support_reaches_the_lasso_minimum_in_few_sweeps(n, k, frac, seed, positive):
    X, y, H, b, alpha, u0 = _lasso_model(n, k, frac, seed)
    lam = np.full(k, alpha)
    lower = np.zeros(k) if positive else None
    u, viol, sweeps = solve_l1_quadratic(H, b, lam, u0, tol=1e-10, max_sweeps=1000, lower=lower)
    assert viol <= 1e-10 and sweeps <= MAX_SWEEPS
    ref = Lasso(alpha=alpha, fit_intercept=False, positive=positive, tol=1e-14, max_iter=10**6)
    ref = ref.fit(X, y).coef_
    q, q_ref = _q(H, b, lam, u), _q(H, b, lam, ref)
    assert q <= q_ref + 1e-8 * abs(q_ref)
    assert np.count_nonzero(u) <= n  # a vertex: no more non-zeros than rows
    if positive:
        assert np.all(u >= 0)
    # KKT of the model: |grad_j| <= alpha off the support, grad_j = -alpha sign(u_j) on it
    g = H @ u + b
    on = u != 0
    np.testing.assert_allclose(g[on], -alpha * np.sign(u[on]), atol=1e-9)
    assert np.all(np.abs(g[~on]) <= alpha + 1e-9) or positive


def test_unpenalised_coordinates_and_a_nonsingular_block():
    """Unpenalised coordinates (an intercept-like column) and ``n > k``: the same minimiser as
    the lasso on the centred problem, in a handful of sweeps."""
    rng = np.random.default_rng(5)
    n, k = 200, 30
    X = rng.standard_normal((n, k))
    y = X[:, :5] @ rng.standard_normal(5) + 3.0 + 0.3 * rng.standard_normal(n)
    Z = np.hstack([X, np.ones((n, 1))])
    H, b = Z.T @ Z / n, -Z.T @ y / n
    alpha = 0.05
    lam = np.r_[np.full(k, alpha), 0.0]
    u, viol, sweeps = solve_l1_quadratic(H, b, lam, np.zeros(k + 1), tol=1e-12)
    assert viol <= 1e-12 and sweeps <= 10
    ref = Lasso(alpha=alpha, tol=1e-14, max_iter=10**6).fit(X, y)
    np.testing.assert_allclose(u[:k], ref.coef_, atol=1e-8)
    np.testing.assert_allclose(u[k], ref.intercept_, atol=1e-8)


def test_weak_l1_logistic_with_fewer_rows_than_support(monkeypatch):
    """A logistic L1 path's weak end with fewer rows than features: every inner solve takes a
    few sweeps (the counts ``solve_l1_quadratic`` returns), and the fit meets the KKT
    conditions and an independent L-BFGS-B fit's objective to 1e-8 relative."""
    rng = np.random.default_rng(0)
    n, d = 100, 400
    X = rng.standard_normal((n, d))
    y = (X[:, :40] @ rng.standard_normal(40) + rng.standard_normal(n) > 0).astype(int)
    sweeps = []

    def recording(*args, **kwargs):
        out = solve_l1_quadratic(*args, **kwargs)
        sweeps.append(out[2])
        return out

    monkeypatch.setattr(prox_newton, "solve_l1_quadratic", recording)
    m = LogisticRegression(solver="cd", l1_ratio=1.0, tol=1e-9, max_iter=200, warm_start=True)
    for C in (0.3, 3.0, 30.0, 300.0):
        m.set_params(C=C).fit(X, y)
    assert m.converged_
    nnz = int(np.count_nonzero(m.coef_))
    # 19 sweeps with the single-face subspace step; 3 now
    assert nnz > 50 and max(sweeps) <= 8
    kw = dict(C=300.0, l1_ratio=1.0)
    yy = y.astype(float)
    assert kkt_violation(X, yy, m.coef_, m.intercept_, **kw) <= 1e-9 * 1.01 + 1e-14
    W_ref, b_ref = reference_fit(X, yy, 1, **kw)
    f_ours = objective(X, yy, m.coef_, m.intercept_, **kw)
    assert f_ours <= objective(X, yy, W_ref, b_ref, **kw) * (1 + 1e-8)


def test_inner_solve_runs_on_one_thread_and_restores_the_count(monkeypatch):
    # A small solve runs its k x k LAPACK calls on one torch thread (a thread team stalls on a
    # shared machine) and gives the caller its thread count back; the minimum is Lasso's.
    import torch

    import torchlogit.solvers._l1_quadratic as l1q

    X, y, H, b, alpha, u0 = _lasso_model(40, 150, 1e-2, 0)
    lam = np.full(150, alpha)
    seen = []
    real = l1q._solve_psd

    def spy(*args, **kwargs):
        seen.append(torch.get_num_threads())
        return real(*args, **kwargs)

    monkeypatch.setattr(l1q, "_solve_psd", spy)
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        u, viol, _ = solve_l1_quadratic(H, b, lam, u0, tol=1e-10, max_sweeps=1000)
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
    assert seen and set(seen) == {1}
    ref = Lasso(alpha=alpha, fit_intercept=False, tol=1e-12, max_iter=100_000).fit(X, y)
    np.testing.assert_allclose(_q(H, b, lam, u), _q(H, b, lam, ref.coef_), rtol=1e-9)

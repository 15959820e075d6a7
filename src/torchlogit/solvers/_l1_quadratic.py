"""The inner problem of proximal Newton: an L1-penalised quadratic, solved by coordinate descent.

.. math::  \\min_u \\; q(u) = \\tfrac12 u^T H u + b^T u + \\sum_j \\lambda_j |u_j|

with ``H`` symmetric positive semi-definite (small: the working set), ``lambda_j >= 0``.

Coordinate descent (Friedman, Hastie & Tibshirani 2010, *glmnet*) updates one ``u_j`` at a time
in closed form, ``u_j <- S(u_j - (Hu + b)_j / H_jj, lambda_j / H_jj)`` with the
soft-thresholding ``S(z, a) = sign(z) max(|z| - a, 0)``, keeping ``Hu`` up to date (O(k) per
update). It finds the support quickly but crawls along directions of small curvature
(correlated features). So after every sweep a *subspace Newton step* (one Cholesky
factorisation of the support's block, cheap next to the Hessian's pass over the data) solves
the smooth problem on the current orthant face exactly,
``H_SS u_S = -(b_S + lambda_S s_S)``, and moves toward it as far as the signs allow (the
model restricted to the face is that smooth quadratic, so each such move decreases ``q``).
When the Newton point keeps the signs this is the exact minimiser up to entering variables.

Runs in NumPy float64 on the host: ``k`` is at most a few thousand, and the per-coordinate
loop is too fine-grained for a GPU.
"""

from __future__ import annotations

import numpy as np
import torch


def soft_threshold(z, a):
    """``sign(z) max(|z| - a, 0)`` (elementwise; ``a >= 0``)."""
    return np.sign(z) * np.maximum(np.abs(z) - a, 0.0)


def l1_quadratic_violation(u: np.ndarray, grad: np.ndarray, lam: np.ndarray) -> np.ndarray:
    """Minimum-norm subgradient of ``q`` per coordinate (``grad = H u + b``)."""
    at_zero = np.maximum(np.abs(grad) - lam, 0.0)
    off_zero = np.abs(grad + lam * np.sign(u))
    return np.where(u == 0, at_zero, off_zero)


def _solve_psd(A: np.ndarray, r: np.ndarray) -> np.ndarray | None:
    """Solve ``A x = r`` for symmetric PSD ``A`` by Cholesky, damping ``A`` if it is singular.

    Uses torch's LAPACK (the same threads as the rest of the fit) rather than NumPy's.
    """
    At = torch.from_numpy(A)
    rt = torch.from_numpy(r).unsqueeze(1)
    scale = float(At.diagonal().abs().max()) if A.size else 1.0
    scale = scale or 1.0
    mu = 0.0
    for _ in range(12):
        M = At if mu == 0.0 else At + mu * torch.eye(A.shape[0], dtype=At.dtype)
        L, info = torch.linalg.cholesky_ex(M)
        if int(info) == 0:
            x = torch.cholesky_solve(rt, L)[:, 0]
            if bool(torch.isfinite(x).all()):
                return x.numpy()
        mu = scale * 1e-13 if mu == 0.0 else mu * 100.0
    return None


def _model_value(H, b, lam, u):
    """``q(u)`` (for accepting a subspace step)."""
    return float(0.5 * u @ _matvec(H, u) + b @ u + lam @ np.abs(u))


def _matvec(H, u):
    return torch.from_numpy(H).mv(torch.from_numpy(u)).numpy()


def _subspace_newton(H, b, lam, u, Hu):
    """Move ``u`` toward the minimiser ``v`` of ``q`` on its orthant face; returns ``(u, Hu)``.

    The safe step stops at the first sign change (``q`` is a convex quadratic on the face, so
    it decreases). With ill-conditioned ``H`` that step can be tiny, so the projected path
    ``P(u + a (v - u))`` (coordinates that change sign set to zero) is also tried for
    ``a = 1, 1/2, 1/4, ...``; the largest ``a`` that beats the safe step is taken.
    """
    S = (u != 0) | (lam == 0)
    if not np.any(S):
        return u, Hu
    idx = np.nonzero(S)[0]
    s = np.sign(u[idx])
    v = _solve_psd(np.ascontiguousarray(H[np.ix_(idx, idx)]), -(b[idx] + lam[idx] * s))
    if v is None:
        return u, Hu
    cur = u[idx]
    penalised = lam[idx] > 0
    cross = penalised & (s * v <= 0)
    new_u = u.copy()
    if not np.any(cross):
        new_u[idx] = v
        return new_u, _matvec(H, new_u)
    ratios = np.where(cross, cur / np.where(cross, cur - v, 1.0), np.inf)
    hit = int(np.argmin(ratios))
    alpha = float(ratios[hit])
    safe = cur + alpha * (v - cur)
    safe[hit] = 0.0
    new_u[idx] = safe
    q_safe = _model_value(H, b, lam, new_u)
    a = 1.0
    while a > alpha:
        cand = cur + a * (v - cur)
        cand[penalised & (s * cand <= 0)] = 0.0
        trial = u.copy()
        trial[idx] = cand
        if _model_value(H, b, lam, trial) < q_safe:
            new_u = trial
            break
        a *= 0.5
    return new_u, _matvec(H, new_u)


def solve_l1_quadratic(
    H: np.ndarray,
    b: np.ndarray,
    lam: np.ndarray,
    u0: np.ndarray,
    *,
    tol: float,
    max_sweeps: int = 500,
) -> tuple[np.ndarray, float, int]:
    """Minimise ``q`` from ``u0`` until its KKT violation is at most ``tol``.

    Returns ``(u, violation, sweeps)``.
    """
    H = np.ascontiguousarray(H, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    lam = np.asarray(lam, dtype=np.float64)
    u = np.array(u0, dtype=np.float64, copy=True)
    Hu = _matvec(H, u)
    diag = np.diag(H).copy()
    k = u.shape[0]
    coords = [j for j in range(k) if diag[j] > 0]
    inv_diag = np.where(diag > 0, 1.0 / np.where(diag > 0, diag, 1.0), 0.0)
    viol = best = float("inf")
    stalled = 0
    sweeps = 0
    for sweeps in range(1, max_sweeps + 1):  # noqa: B007
        for j in coords:
            uj = u[j]
            z = uj - (Hu[j] + b[j]) * inv_diag[j]
            a = lam[j] * inv_diag[j]
            new = z - a if z > a else (z + a if z < -a else 0.0)
            if new != uj:
                Hu += H[j] * (new - uj)
                u[j] = new
        u, Hu = _subspace_newton(H, b, lam, u, Hu)
        viol = float(np.max(l1_quadratic_violation(u, Hu + b, lam), initial=0.0))
        if viol <= tol:
            break
        # rounding floor (about eps ||H|| ||u||) reached: no progress over several sweeps
        stalled = stalled + 1 if viol >= best else 0
        best = min(best, viol)
        if stalled >= 10:
            break
    return u, viol, sweeps

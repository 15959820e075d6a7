"""The inner problem of proximal Newton: an L1-penalised quadratic, solved by coordinate descent.

.. math::  \\min_u \\; q(u) = \\tfrac12 u^T H u + b^T u + \\sum_j \\lambda_j |u_j|

with ``H`` symmetric positive semi-definite (small: the working set), ``lambda_j >= 0``, and
optionally box constraints ``l_j <= u_j <= h_j`` (``-inf`` / ``+inf`` where free).

Coordinate descent (Friedman, Hastie & Tibshirani 2010, *glmnet*) updates one ``u_j`` at a time
in closed form, ``u_j <- S(u_j - (Hu + b)_j / H_jj, lambda_j / H_jj)`` with the
soft-thresholding ``S(z, a) = sign(z) max(|z| - a, 0)``, keeping ``Hu`` up to date (O(k) per
update); with a box the update is clamped to ``[l_j, h_j]`` (the exact minimiser of the
one-dimensional convex problem over an interval). It finds the support quickly but crawls
along directions of small curvature (correlated features). So after every sweep a
*subspace Newton step* (one Cholesky factorisation of the support's block, cheap next to the
Hessian's pass over the data) solves the smooth problem on the current orthant face exactly,
``H_SS u_S = -(b_S + lambda_S s_S)``, and moves toward it as far as the signs allow (the
model restricted to the face is that smooth quadratic, so each such move decreases ``q``).
When the Newton point keeps the signs this is the exact minimiser up to entering variables.
With a box, coordinates at a bound are held there on the face and the move also stops at the
first bound it reaches.

Runs in NumPy float64 on the host: ``k`` is at most a few thousand, and the per-coordinate
loop is too fine-grained for a GPU.
"""

from __future__ import annotations

import numpy as np
import torch

from ..objective import box_l1_violation


def soft_threshold(z, a):
    """``sign(z) max(|z| - a, 0)`` (elementwise; ``a >= 0``)."""
    return np.sign(z) * np.maximum(np.abs(z) - a, 0.0)


def l1_quadratic_violation(
    u: np.ndarray, grad: np.ndarray, lam: np.ndarray, lower=None, upper=None
) -> np.ndarray:
    """KKT violation of ``q`` per coordinate (``grad = H u + b``): the minimum-norm subgradient,
    with the box's normal cone at a bound (:func:`~torchlogit.objective.box_l1_violation`)."""
    return box_l1_violation(u, grad, lam, lower, upper)


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


def _subspace_newton(H, b, lam, u, Hu, lo=None, hi=None):
    """Move ``u`` toward the minimiser ``v`` of ``q`` on its face; returns ``(u, Hu)``.

    The face: the orthant of ``u``'s signs, with coordinates at zero (penalised) or at a bound
    held fixed. The safe step stops at the first sign change or bound (``q`` is a convex
    quadratic on the face, so it decreases). With ill-conditioned ``H`` that step can be tiny,
    so the projected path ``P(u + a (v - u))`` (coordinates that change sign set to zero, then
    clamped to the box) is also tried for ``a = 1, 1/2, 1/4, ...``; the largest ``a`` that
    beats the safe step is taken.
    """
    S = (u != 0) | (lam == 0)
    if lo is not None:
        S &= (u > lo) & (u < hi)
    if not np.any(S):
        return u, Hu
    idx = np.nonzero(S)[0]
    s = np.sign(u[idx])
    rhs = -(b[idx] + lam[idx] * s)
    if lo is not None and np.any(u[~S] != 0):  # fixed coordinates at a non-zero bound
        rhs -= Hu[idx] - H[np.ix_(idx, idx)] @ u[idx]
    v = _solve_psd(np.ascontiguousarray(H[np.ix_(idx, idx)]), rhs)
    if v is None:
        return u, Hu
    cur = u[idx]
    penalised = lam[idx] > 0
    cross = penalised & (s * v <= 0)
    new_u = u.copy()
    ratios = np.where(cross, cur / np.where(cross, cur - v, 1.0), np.inf)
    targets = np.zeros_like(cur)
    if lo is not None:
        lo_s, hi_s = lo[idx], hi[idx]
        below, above = v < lo_s, v > hi_s
        to_lo = np.where(below, (cur - lo_s) / np.where(below, cur - v, 1.0), np.inf)
        to_hi = np.where(above, (hi_s - cur) / np.where(above, v - cur, 1.0), np.inf)
        for bound, ratio, hit_mask in ((lo_s, to_lo, below), (hi_s, to_hi, above)):
            closer = hit_mask & (ratio < ratios)
            ratios = np.where(closer, ratio, ratios)
            targets = np.where(closer, bound, targets)
            cross = cross | hit_mask
    if not np.any(cross):
        new_u[idx] = v
        return new_u, _matvec(H, new_u)
    hit = int(np.argmin(ratios))
    alpha = float(ratios[hit])
    safe = cur + alpha * (v - cur)
    safe[hit] = targets[hit]
    if lo is not None:
        safe = np.clip(safe, lo_s, hi_s)
    new_u[idx] = safe
    q_safe = _model_value(H, b, lam, new_u)
    a = 1.0
    while a > alpha:
        cand = cur + a * (v - cur)
        cand[penalised & (s * cand <= 0)] = 0.0
        if lo is not None:
            cand = np.clip(cand, lo_s, hi_s)
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
    lower: np.ndarray | None = None,
    upper: np.ndarray | None = None,
) -> tuple[np.ndarray, float, int]:
    """Minimise ``q`` from ``u0`` (inside the box ``lower <= u <= upper`` when given, ``u0``
    projected onto it) until its KKT violation is at most ``tol``.

    Returns ``(u, violation, sweeps)``.
    """
    H = np.ascontiguousarray(H, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    lam = np.asarray(lam, dtype=np.float64)
    u = np.array(u0, dtype=np.float64, copy=True)
    lo = hi = None
    if lower is not None or upper is not None:
        k = u.shape[0]
        lo = np.full(k, -np.inf) if lower is None else np.asarray(lower, dtype=np.float64)
        hi = np.full(k, np.inf) if upper is None else np.asarray(upper, dtype=np.float64)
        u = np.clip(u, lo, hi)
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
            if lo is not None:
                new = min(max(new, lo[j]), hi[j])
            if new != uj:
                Hu += H[j] * (new - uj)
                u[j] = new
        u, Hu = _subspace_newton(H, b, lam, u, Hu, lo, hi)
        viol = float(np.max(l1_quadratic_violation(u, Hu + b, lam, lo, hi), initial=0.0))
        if viol <= tol:
            break
        # rounding floor (about eps ||H|| ||u||) reached: no progress over several sweeps
        stalled = stalled + 1 if viol >= best else 0
        best = min(best, viol)
        if stalled >= 10:
            break
    return u, viol, sweeps

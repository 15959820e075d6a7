"""The inner problem of proximal Newton: an L1-penalised quadratic, solved by coordinate descent.

.. math::  \\min_u \\; q(u) = \\tfrac12 u^T H u + b^T u + \\sum_j \\lambda_j |u_j|

with ``H`` symmetric positive semi-definite (small: the working set), ``lambda_j >= 0``, and
optionally box constraints ``l_j <= u_j <= h_j`` (``-inf`` / ``+inf`` where free).

Coordinate descent (Friedman, Hastie & Tibshirani 2010, *glmnet*) updates one ``u_j`` at a time
in closed form, ``u_j <- S(u_j - (Hu + b)_j / H_jj, lambda_j / H_jj)`` with the
soft-thresholding ``S(z, a) = sign(z) max(|z| - a, 0)``, keeping ``Hu`` up to date (O(k) per
update); with a box the update is clamped to ``[l_j, h_j]`` (the exact minimiser of the
one-dimensional convex problem over an interval). It finds the support quickly but crawls
along directions of small curvature (correlated features). So after every sweep an
*active-set Newton step* (:func:`_subspace_newton`) works on the orthant face of the current
signs, where ``q`` is the smooth quadratic with gradient ``g_S + lambda_S s_S``: one Cholesky
factorisation of the support's block (cheap next to the Hessian's pass over the data) gives the
Newton direction ``H_SS d = -(g_S + lambda_S s_S)``, followed along the projected path (each
coordinate that would change sign is fixed at zero, as in OWL-QN) to the path's first local
minimum, exactly and piecewise (:func:`_projected_search`); while coordinates drop the step is
repeated on the smaller face. Every move decreases ``q``, and when the Newton point keeps the
signs it is the exact minimiser up to entering variables. At weak penalties the support can
outnumber the data's effective rows (``H_SS`` singular): the factorisation is then damped, the
damping kept for the next blocks, and the repeats drop the surplus in one sweep. With a box,
coordinates at a bound are held there on the face and the path fixes coordinates at the bound
they reach.

Runs in NumPy float64 on the host: ``k`` is at most a few thousand, and the per-coordinate
loop is too fine-grained for a GPU. It runs on one torch thread (:func:`_one_thread`): its
LAPACK and matrix-vector calls on ``k x k`` blocks, ``k <=`` :data:`ONE_THREAD_UP_TO`, are
too small to gain much from a thread team, and each of them waits for every thread of the
team, so that on a shared machine a team's thread that lost its core stalls the whole solve
(measured 4x slower with 2 threads than with 1 on a loaded 2-core machine, k 1100-1400).
Larger blocks keep the caller's threads (their factorisations do gain from them).
"""

from __future__ import annotations

from contextlib import contextmanager, nullcontext

import numpy as np
import torch

from ..objective import box_l1_violation

#: Largest inner problem (coordinates) solved on one thread (see the module docstring).
ONE_THREAD_UP_TO = 2048


@contextmanager
def _one_thread():
    """Run the body on one torch CPU thread (the previous count restored afterwards)."""
    before = torch.get_num_threads()
    if before == 1:
        yield
        return
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def soft_threshold(z, a):
    """``sign(z) max(|z| - a, 0)`` (elementwise; ``a >= 0``)."""
    return np.sign(z) * np.maximum(np.abs(z) - a, 0.0)


def l1_quadratic_violation(
    u: np.ndarray, grad: np.ndarray, lam: np.ndarray, lower=None, upper=None
) -> np.ndarray:
    """KKT violation of ``q`` per coordinate (``grad = H u + b``): the minimum-norm subgradient,
    with the box's normal cone at a bound (:func:`~torchlogit.objective.box_l1_violation`)."""
    return box_l1_violation(u, grad, lam, lower, upper)


def _solve_psd(A: np.ndarray, r: np.ndarray, mu0: float = 0.0) -> tuple[np.ndarray | None, float]:
    """Solve ``(A + mu I) x = r`` for symmetric PSD ``A`` by Cholesky; returns ``(x, mu)``.

    ``mu = 0`` when ``A`` factorises, else the smallest of ``1e-13 s, 1e-11 s, ...`` (``s``
    the largest diagonal entry) that does. ``mu0 > 0`` starts there: the caller passes the
    damping its previous block needed, so that a block known to be singular (more support
    columns than the data's rank, at weak penalties) does not pay a failed factorisation.
    Uses torch's LAPACK rather than NumPy's (threads: :func:`solve_l1_quadratic`).
    """
    At = torch.from_numpy(A)
    rt = torch.from_numpy(r).unsqueeze(1)
    scale = float(At.diagonal().abs().max()) if A.size else 1.0
    scale = scale or 1.0
    mu = max(float(mu0), 0.0) * scale
    for _ in range(12):
        M = At if mu == 0.0 else At + mu * torch.eye(A.shape[0], dtype=At.dtype)
        L, info = torch.linalg.cholesky_ex(M)
        if int(info) == 0:
            x = torch.cholesky_solve(rt, L)[:, 0]
            if bool(torch.isfinite(x).all()):
                return x.numpy(), mu / scale
        mu = scale * 1e-13 if mu == 0.0 else mu * 100.0
    return None, 0.0


def _model_value(H, b, lam, u, Hu=None):
    """``q(u)`` (``Hu = H u`` when known)."""
    Hu = _matvec(H, u) if Hu is None else Hu
    return float(0.5 * u @ Hu + b @ u + lam @ np.abs(u))


def _matvec(H, u):
    return torch.from_numpy(H).mv(torch.from_numpy(u)).numpy()


def _breakpoints(cur, d, s, penalised, lo_s, hi_s):
    """Where the path ``cur + a d`` leaves the face, per coordinate: ``(ratio, target)``.

    A penalised coordinate moving toward zero (``s_i d_i < 0``) is fixed at ``0`` from
    ``a = -cur_i / d_i`` on (its sign would change); with a box, a coordinate is fixed at the
    bound it reaches first. ``ratio = inf`` where the coordinate never leaves.
    """
    ratio = np.full(cur.shape, np.inf)
    target = np.zeros_like(cur)
    cross = penalised & (s * d < 0)
    ratio[cross] = -cur[cross] / d[cross]
    if lo_s is not None:
        with np.errstate(divide="ignore", invalid="ignore"):
            for bound, moving in ((lo_s, d < 0), (hi_s, d > 0)):
                r = np.where(moving, (bound - cur) / np.where(moving, d, 1.0), np.inf)
                closer = moving & (r < ratio)
                ratio = np.where(closer, np.maximum(r, 0.0), ratio)
                target = np.where(closer, bound, target)
    return ratio, target


def _projected_search(H_SS, g, c, cur, d, ratio, target):
    """First local minimiser of ``phi(a) = q(P(cur + a d))`` along the projected path.

    ``P`` fixes each coordinate at its ``target`` once ``a`` passes its ``ratio`` (an orthant-
    wise projection as in OWL-QN, plus the box): the path is piecewise linear, ``x(a) = x_k +
    (a - a_k) d_k`` between consecutive breakpoints ``a_k`` with ``d_k`` = ``d`` less the fixed
    coordinates, so ``phi`` is a quadratic there: slope ``(g_k + c)^T d_k``, curvature
    ``d_k^T H d_k`` (``g_k = g + H (x_k - cur)``, ``c = lambda s`` the penalty's linear part on
    the face; fixed coordinates add nothing). Each breakpoint costs one column of ``H``
    (``O(|S|)``), not a product with ``H``. Several signs can change in one step, and
    ``phi`` at the result is at most its value at the first breakpoint (the safe step).
    """
    x, dd, gg = cur.copy(), d.copy(), g.copy()
    Hd = H_SS @ dd
    order = np.argsort(ratio, kind="stable")
    n_finite = int(np.isfinite(ratio).sum())
    a, pos = 0.0, 0
    while True:
        slope = float((gg + c) @ dd)
        if not slope < 0:
            break
        curv = float(dd @ Hd)
        nxt = float(ratio[order[pos]]) if pos < n_finite else np.inf
        if curv > 0 and -slope / curv <= nxt - a:
            x += (-slope / curv) * dd
            break
        if not np.isfinite(nxt):  # no curvature and nothing left to fix: stay
            break
        x += (nxt - a) * dd
        gg += (nxt - a) * Hd
        a = nxt
        while pos < n_finite and ratio[order[pos]] <= nxt:
            j = order[pos]
            x[j] = target[j]
            Hd -= H_SS[:, j] * dd[j]
            dd[j] = 0.0
            pos += 1
    return x


def _subspace_newton(H, b, lam, u, Hu, lo=None, hi=None, mu0=0.0, max_faces=20):
    """Active-set Newton on the faces of ``q`` from ``u``; returns ``(u, Hu, mu)``.

    One :func:`_face_step` moves ``u`` toward the minimiser of ``q`` on its face, fixing the
    coordinates that reach zero or a bound on the way; while it fixes some (the face changed,
    and its minimiser is not reached) the step is repeated on the smaller face, at most
    ``max_faces`` times. At weak penalties the support can have more columns than the data's
    rank (``H_SS`` singular): each face step then follows a direction of no curvature and
    drops only a few coordinates, and the repeats drop the surplus within one sweep, where one
    face step per coordinate-descent sweep needed hundreds of sweeps.
    """
    for _ in range(max_faces):
        u, Hu, mu, changed = _face_step(H, b, lam, u, Hu, lo, hi, mu0)
        mu0 = mu
        if not changed:
            break
    return u, Hu, mu0


def _face_step(H, b, lam, u, Hu, lo=None, hi=None, mu0=0.0):
    """Move ``u`` toward the minimiser of ``q`` on its face; returns ``(u, Hu, mu, fixed)``.

    ``fixed``: whether coordinates reached zero or a bound (the face changed).

    The face: the orthant of ``u``'s signs, with coordinates at zero (penalised) or at a bound
    held fixed; on it ``q`` is the smooth quadratic with gradient ``g_S + lambda_S s_S``. The
    Newton direction ``H_SS d = -(g_S + lambda_S s_S)`` (``g = H u + b``; damped when ``H_SS``
    is singular, ``mu`` the relative damping used, passed back in as ``mu0``) is followed along
    the projected path (:func:`_projected_search`), which lets any number of coordinates reach
    zero or a bound in one step. The move is kept only if ``q`` decreases (a guard against
    rounding in the incremental search).
    """
    S = (u != 0) | (lam == 0)
    if lo is not None:
        S &= (u > lo) & (u < hi)
    if not np.any(S):
        return u, Hu, mu0, False
    idx = np.nonzero(S)[0]
    s = np.sign(u[idx])
    c = lam[idx] * s
    g = Hu[idx] + b[idx]
    H_SS = np.ascontiguousarray(H[np.ix_(idx, idx)])
    d, mu = _solve_psd(H_SS, -(g + c), mu0)
    if d is None:
        return u, Hu, mu0, False
    cur = u[idx]
    lo_s, hi_s = (None, None) if lo is None else (lo[idx], hi[idx])
    ratio, target = _breakpoints(cur, d, s, lam[idx] > 0, lo_s, hi_s)
    x = _projected_search(H_SS, g, c, cur, d, ratio, target)
    if lo is not None:
        x = np.clip(x, lo_s, hi_s)
    new_u = u.copy()
    new_u[idx] = x
    new_Hu = _matvec(H, new_u)
    if not _model_value(H, b, lam, new_u, new_Hu) < _model_value(H, b, lam, u, Hu):
        return u, Hu, mu, False
    fixed = bool(np.any((x != cur) & ((x == target) & np.isfinite(ratio))))
    return new_u, new_Hu, mu, fixed


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

    Returns ``(u, violation, sweeps)``. Runs on one torch thread up to
    :data:`ONE_THREAD_UP_TO` coordinates (see the module docstring).
    """
    small = np.shape(b)[0] <= ONE_THREAD_UP_TO
    with _one_thread() if small else nullcontext():
        return _solve_l1_quadratic(
            H, b, lam, u0, tol=tol, max_sweeps=max_sweeps, lower=lower, upper=upper
        )


def _solve_l1_quadratic(H, b, lam, u0, *, tol, max_sweeps, lower, upper):
    """:func:`solve_l1_quadratic`'s sweeps (on the calling thread count)."""
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
    mu = 0.0  # the subspace step's damping, kept: a singular support block stays singular
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
        u, Hu, mu = _subspace_newton(H, b, lam, u, Hu, lo, hi, mu)
        viol = float(np.max(l1_quadratic_violation(u, Hu + b, lam, lo, hi), initial=0.0))
        if viol <= tol:
            break
        # rounding floor (about eps ||H|| ||u||) reached: no progress over several sweeps
        stalled = stalled + 1 if viol >= best else 0
        best = min(best, viol)
        if stalled >= 10:
            break
    return u, viol, sweeps

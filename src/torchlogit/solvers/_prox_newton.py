"""Proximal Newton with a working set and a coordinate-descent inner solver (``solver="cd"``).

For the averaged objective ``F(w) = f(w) + lambda_1 sum_j f_j |w_j|`` (``f``: data term plus the
smooth ``lambda_2`` part) each outer iteration

1. takes the full gradient ``g = grad f(w)`` (one pass) and the KKT violation
   ``max_j dist(0, g_j + lambda_1 f_j d|w_j|)`` — the stopping measure, recorded in
   ``History.gradient_norm``;
2. picks a working set of feature columns: the current support plus the columns closest to
   entering (largest ``|g_j| - lambda_1 f_j``), ``max(ws_min, 2 |support|)`` columns in all
   (Johnson & Guestrin 2015, *Blitz*; Massias et al. 2018, *Celer*; Bertrand et al. 2022,
   *skglm*), and the intercept;
3. builds the Hessian of ``f`` restricted to the working set, ``X_W^T diag(c) X_W`` (one
   pass: ``n |W|^2`` flops instead of ``n d^2``), from every 4th row in the global phase and,
   where the exact one is costly, while such steps work (see ``hessian_stride``);
4. solves the L1-penalised quadratic model ``g.D + 1/2 D^T H D + lambda_1 sum f_j |w_j + D_j|``
   over the working set by coordinate descent with subspace Newton steps
   (:func:`~torchlogit.solvers._l1_quadratic.solve_l1_quadratic`), to a violation of at most
   ``min(0.1, sqrt(v)) v`` for the outer violation ``v`` (inexact, superlinear);
5. backtracks on ``t`` until ``F(w + t D) <= F(w) + sigma t (g.D + r(w + D) - r(w))``
   (Lee, Sun & Saunders 2014, *Proximal Newton-type methods*; the newGLMNET of Yuan, Ho & Lin
   2012 used by liblinear).

With bounds (``lower_j <= w_kj <= upper_j``) the same steps solve the box-constrained problem
exactly: the stopping measure adds the box's normal cone (``penalty.optimality``), the inner
coordinate descent clamps each update to the box and holds coordinates at a bound on the
subspace-Newton face (``lower`` / ``upper`` of ``solve_l1_quadratic``), and the trial points
of the line search (convex combinations of feasible points) are projected to undo rounding.

Converges quadratically once the support is found and the Hessian is exact (linearly, at about
the sampling error, while it is sampled); a handful of outer iterations in practice.
Binary and multinomial (the working set is a set of feature columns, each with all ``K``
classes' coefficients). The Hessian is built on the compute device; the inner solve runs on
the host in float64 (the working set is small).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
import torch

from ..data import is_sparse_design
from ..objective import hessian_dtype
from ._base import SolverBase, SolverCapabilities, evaluations_of, register_solver
from ._l1_quadratic import solve_l1_quadratic
from ._newton import REUSE_MIN_GRAM_COST, REUSE_MIN_SIZE, SAMPLED_RATE_LIMIT

SIGMA = 1e-4


def working_set_hessian(
    objective, coef: torch.Tensor, cols: torch.Tensor, *, stride: int = 1
) -> torch.Tensor:
    """Hessian of the smooth part ``f`` restricted to feature columns ``cols`` (and intercept).

    Local parameter ``(k, i)`` (class ``k``, ``i``-th entry of ``cols`` then the intercept) has
    flat index ``k q + i`` with ``q = len(cols) + fit_intercept``. Returns ``(m q, m q)``.
    One pass over the data; dense rows are processed in blocks so that the temporary copy of
    ``X[:, cols]`` stays near 128 MB; sparse data in one call for all blocks ``(k, l)``
    (:meth:`~torchlogit.data.SparseDesign.column_weighted_grams`: the columns gathered once).

    ``stride > 1`` estimates the data term from every ``stride``-th row of each batch, with
    weights multiplied by ``stride`` (a systematic sample: ``stride`` times cheaper, relative
    error about ``sqrt(q stride / n)``), with products in float32 (twice as fast; its rounding
    is far below the sampling error). Otherwise the products and sums run in
    :func:`~torchlogit.objective.hessian_dtype` (float64 for float32 data, whose float32 Gram
    would carry rounding as large as the penalty's curvature along collinear columns), and so
    does the returned ``H``.
    """
    m = coef.shape[0]
    d = objective.n_features
    fi = int(objective.fit_intercept)
    if d > cols.numel() > 0.8 * d:
        # nearly all columns: the full product costs little more than gathering the columns
        full = working_set_hessian(
            objective, coef, torch.arange(d, device=coef.device), stride=stride
        )
        p = d + fi
        local = torch.cat([cols, torch.arange(d, d + fi, device=coef.device)])
        pick = (torch.arange(m, device=coef.device).unsqueeze(1) * p + local).reshape(-1)
        return full[pick][:, pick]
    nc = int(cols.numel())
    q = nc + fi
    all_cols = nc == d
    device = coef.device
    dtype = hessian_dtype(coef.dtype, device)  # float64 for float32 data: exact products
    H = torch.zeros(m * q, m * q, dtype=dtype, device=device)
    objective.n_evaluations += 1
    for batch in objective.data.batches():
        work, scale = dtype, 1.0
        if stride > 1:  # the sampled rows only: their predictions, curvatures and products
            batch = replace(
                batch,
                X=batch.X[::stride],
                y=batch.y[::stride],
                sample_weight=batch.sample_weight[::stride],
                offset=None if batch.offset is None else batch.offset[::stride],
            )
            work, scale = torch.float32, float(stride)
        raw = objective.batch_raw(batch, coef).to(dtype)
        sw = batch.sample_weight.to(dtype) * scale
        curv = {kl: sw * h for kl, h in objective.loss.hessian_blocks(raw)}
        X = batch.X
        if is_sparse_design(X):  # one call for every block: columns gathered once, no copy
            keys = list(curv)
            C = torch.stack([curv[key] for key in keys], dim=1).to(work)
            grams, crosses = X.column_weighted_grams(None if all_cols else cols, C)
            for i, (k, l) in enumerate(keys):
                _add_block(H, grams[i], crosses[i], C[:, i].sum(), k, l, q, nc, fi)
            continue
        n = X.shape[0]
        rows = max(1, (1 << 24) // max(q, 1))
        for start in range(0, n, rows):
            stop = min(start + rows, n)
            Xb = X[start:stop]
            copied = not all_cols or Xb.dtype != work  # Xb below is a copy of X
            if not all_cols:  # advanced indexing gathers 1.3-3x faster than index_select
                Xb = Xb[:, cols]  # along dim 1 (B5's sampled rows: 48 against 140 ms)
            Xb = Xb.to(work)
            for (k, l), c in curv.items():
                cb = c[start:stop].to(work)
                if m == 1:  # c >= 0: a symmetric product of one scaled copy
                    root = cb.sqrt()
                    Xs = Xb.mul_(root.unsqueeze(1)) if copied else Xb * root.unsqueeze(1)
                    gram, cross = Xs.T @ Xs, Xs.T @ root
                else:
                    Xc = Xb * cb.unsqueeze(1)
                    gram, cross = Xb.T @ Xc, Xc.sum(dim=0)
                _add_block(H, gram, cross, cb.sum(), k, l, q, nc, fi)
    if stride > 1:  # float32 products are symmetric only up to rounding
        H = 0.5 * (H + H.T)
    H = objective.reduce(H.reshape(-1)).reshape(m * q, m * q) / float(objective.data.weight_sum)
    local = torch.cat([cols, torch.arange(d, d + fi, device=device)])
    H.diagonal().add_(
        objective.penalty.smooth_hessian_diagonal(coef.to(dtype))[:, local].reshape(-1)
    )
    return H


def _add_block(H, gram, cross, csum, k: int, l: int, q: int, nc: int, fi: int) -> None:
    """Add the Gram of classes ``(k, l)`` (and its mirror ``(l, k)``) to ``H``, with the
    intercept's row and column (``cross``: ``c @ X_W``, ``csum``: ``sum c``) when ``fi``."""
    gram, cross, csum = gram.to(H.dtype), cross.to(H.dtype), csum.to(H.dtype)
    for r, s in {(k, l), (l, k)}:
        H[r * q : r * q + nc, s * q : s * q + nc] += gram
        if fi:
            H[r * q : r * q + nc, s * q + nc] += cross
            H[r * q + nc, s * q : s * q + nc] += cross
            H[r * q + nc, s * q + nc] += csum


def _fix_softmax_null_space(H: np.ndarray, free: np.ndarray, m: int) -> None:
    """Add ``c u_j u_j^T`` to ``H`` (in place) for every unpenalised local column ``j``.

    The softmax is invariant to adding one number to every class's coefficient of an
    unpenalised column (``u_j = (1, ..., 1) (x) e_j``), so ``H`` is singular along ``u_j`` and
    the gradient is orthogonal to it. The added term leaves the model unchanged on the other
    directions and makes its minimiser the one with no component along ``u_j`` (as in
    ``"newton"``), instead of an arbitrary, possibly huge, shift.
    """
    q = free.shape[0]
    c = float(np.mean(np.diag(H))) or 1.0
    for i in np.flatnonzero(free):
        rows = np.arange(m) * q + i
        H[np.ix_(rows, rows)] += c


@register_solver
class ProxNewtonCDSolver(SolverBase):
    """Proximal Newton, working set, coordinate-descent inner solver (``solver="cd"``).

    Stopping rule: the KKT violation (largest minimum-norm subgradient entry of the averaged
    objective) ``<= tol``; for a smooth penalty this is ``max |grad|`` as for ``"newton"``.

    Parameters
    ----------
    ws_min : int, default=128
        Smallest working set (feature columns); it grows to twice the support.
    hessian_stride : int, default=4
        While the violation is above ``sample_until`` times the first one (the global phase,
        where the step is steered by the support and the nonlinearity more than by the
        Hessian's last digits), the Hessian is estimated from every ``hessian_stride``-th row,
        when that still leaves ``50 q`` rows for ``q`` working-set columns (relative error
        about ``sqrt(q stride / n) <= 0.14``). Past it, the sampled Hessian is kept only where
        the exact one costs far more than the passes of an iteration (its flops over a pass's
        reads, ``q^2 (m + 1) / (2 d)`` for ``m`` coefficient rows, at least
        :data:`~torchlogit.solvers._newton.REUSE_MIN_GRAM_COST`, on data of at least
        :data:`~torchlogit.solvers._newton.REUSE_MIN_SIZE` entries: ``"newton"``'s measure)
        and only while it works: a full step that shrinks the violation by less than
        :data:`~torchlogit.solvers._newton.SAMPLED_RATE_LIMIT` switches to the exact Hessian
        for the rest of the fit, as ``"newton"``'s sample grows to all rows. A sampled step
        that fails (no descent, or the line search) is retried with the exact Hessian. The
        gradient and the line search are always exact, so the minimiser is unchanged, and so is
        the final (quadratic) convergence, once exact. ``1`` disables it.
    sample_until : float, default=1e-2
    """

    name = "cd"
    # Quadratic (superlinear) convergence: 1e-8 costs 1-3 iterations more than 1e-4 and lands
    # within 1e-6 relative of the exact coefficients on scikit-learn's datasets (issue #12)
    default_tol = 1e-8
    requires = ("value_gradient", "value", "data", "loss", "batch_raw", "reduce")
    # a separable L1 part and a box: what the coordinate-wise inner solver can take
    penalty_requires = (
        "l1_thresholds",
        "limits",
        "project",
        "optimality",
        "nonsmooth_value",
        "unpenalized_mask",
        "selects_features",
    )
    capabilities = SolverCapabilities(proximal=True, bounds=True, hessian=True)
    n_passes_of = staticmethod(evaluations_of)

    def __init__(
        self, *, ws_min: int = 128, hessian_stride: int = 4, sample_until: float = 1e-2, **kwargs
    ):
        super().__init__(**kwargs)
        self.ws_min = int(ws_min)
        self.hessian_stride = int(hessian_stride)
        self.sample_until = float(sample_until)

    def _stride(self, objective, it, m: int, k: int) -> int:
        """Row stride for this iteration's Hessian (1: exact), ``k`` working-set columns."""
        if self.hessian_stride <= 1 or it.exact_hessian:
            return 1
        q = m * k
        n = getattr(objective.data, "n_samples", None)
        if n is None:  # a streamed source without a row count: one pass to count
            n = sum(b.X.shape[0] for b in objective.data.batches())
        if n < 50 * q * self.hessian_stride:
            return 1
        if it.measure > self.sample_until * it.viol0:  # the global phase
            return self.hessian_stride
        # past it: where the exact Gram's flops dwarf an iteration's passes (newton's measure)
        d = objective.n_features
        gram_cost = k * k * (m + 1) / (2 * max(d, 1))
        costly = n * d >= REUSE_MIN_SIZE and gram_cost >= REUSE_MIN_GRAM_COST
        return self.hessian_stride if costly else 1

    def _working_set(self, coef, grad, penalty, d) -> torch.Tensor:
        """Support columns (and unpenalised ones) plus the columns closest to entering.

        A zero column's score is ``max_k |g_kj| - lambda_1 f_j`` (positive: it violates the
        KKT conditions); the working set is filled up to its size with the highest scores, so
        that columns about to enter are in the model too (their gradient moves with the step).
        Without a penalty that selects features (no L1 part) every column is in it.
        """
        W = coef[:, :d]
        t = penalty.l1_thresholds(coef)[:, :d]
        score = (grad[:, :d].abs() - t).amax(dim=0)
        keep = (W != 0).any(dim=0) | penalty.unpenalized_mask(coef)[0, :d]
        if not penalty.selects_features:
            keep[:] = True
        n_keep = int(keep.sum())
        size = min(d, max(self.ws_min, 2 * n_keep))
        if size == d:
            return torch.arange(d, device=coef.device)
        score = torch.where(keep, torch.full_like(score, math.inf), score)
        top = torch.topk(score, size).indices
        return torch.sort(top).values

    def _start(self, objective, coef, state, resumed):
        pen = objective.penalty
        coef = coef.clone()
        f, g = objective.value_gradient(coef)
        F = float(f) + float(pen.nonsmooth_value(coef))
        viol = float(pen.optimality(coef, g).max())
        viol0 = state.get("viol0")
        return _CDIterate(
            coef,
            F,
            viol,
            float(state.get("step", math.nan)),
            g,
            viol if viol0 is None else viol0,
            bool(state.get("exact_hessian", False)),
        )

    def _step(self, objective, it) -> str | None:
        while True:  # a sampled Hessian whose step fails is replaced by the exact one
            failure, stride = self._prox_newton_step(objective, it)
            if failure is None or stride == 1:
                return failure
            it.exact_hessian = True

    def _prox_newton_step(self, objective, it) -> tuple[str | None, int]:
        """One step: ``(failure or None, the Hessian's row stride)``."""
        pen = objective.penalty
        coef, g, viol = it.coef, it.gradient, it.measure
        m = coef.shape[0]
        d = objective.n_features
        fi = int(objective.fit_intercept)
        cols = self._working_set(coef, g, pen, d)
        idx = torch.cat([cols, torch.arange(d, d + fi, device=coef.device)])
        stride = self._stride(objective, it, m, idx.numel())
        H = working_set_hessian(objective, coef, cols, stride=stride)
        Hn = H.detach().to("cpu", torch.float64).numpy()

        def local(t):  # the working set's entries, flat, as float64 NumPy
            return t[:, idx].reshape(-1).to("cpu", torch.float64).numpy()

        wn, gn, lamn = local(coef), local(g), local(pen.l1_thresholds(coef))
        limits = pen.limits(coef)
        lo, hi = (None, None) if limits is None else (local(limits[0]), local(limits[1]))
        if objective.loss.shift_invariant:
            _fix_softmax_null_space(Hn, pen.unpenalized_mask(coef)[0, idx].cpu().numpy(), m)
        b = gn - Hn @ wn
        # inexact inner solve, tighter as the outer violation shrinks (superlinear rate)
        inner_tol = max(min(0.1, math.sqrt(viol)) * viol, 1e-2 * self.tol)
        u, _, _ = solve_l1_quadratic(
            Hn, b, lamn, wn, tol=inner_tol, max_sweeps=1000, lower=lo, upper=hi
        )
        delta_n = u - wn
        decrease = float(gn @ delta_n + lamn @ (np.abs(u) - np.abs(wn)))
        if not decrease < 0:
            return self._no_decrease(coef.dtype, "no descent direction on the working set"), stride
        delta = torch.zeros_like(coef)
        delta[:, idx] = torch.from_numpy(delta_n).to(coef).reshape(m, -1)
        t, coef_new, _, g_new, F_new = self._line_search(objective, coef, delta, it.value, decrease)
        it.step = t
        if t == 0.0:
            return self._no_decrease(coef.dtype), stride
        it.coef, it.gradient, it.value = coef_new, g_new, F_new
        it.measure = float(pen.optimality(coef_new, g_new).max())
        past_global = viol <= self.sample_until * it.viol0
        if stride > 1 and past_global and t == 1.0 and it.measure > SAMPLED_RATE_LIMIT * viol:
            it.exact_hessian = True  # the sampling error now dominates the step
        return None, stride

    def _state(self, it) -> dict:
        return {"step": it.step, "viol0": it.viol0, "exact_hessian": it.exact_hessian}

    @staticmethod
    def _line_search(objective, coef, delta, F0, decrease, max_halvings=40):
        """Armijo backtracking on the composite objective; ``t = 0`` when nothing decreases it.

        Trial points are projected on the box (a no-op without one): ``coef + delta`` is
        feasible, but its rounding may leave an entry meant to sit on a bound a hair outside.
        """
        pen = objective.penalty
        eps = torch.finfo(coef.dtype).eps
        resolution = 8 * eps * max(abs(F0), 1.0)
        t = 1.0
        for _ in range(max_halvings):
            trial = pen.project(coef + t * delta)
            f_t, g_t = objective.value_gradient(trial)
            F_t = float(f_t) + float(pen.nonsmooth_value(trial))
            if F_t == F_t and (
                F_t <= F0 + SIGMA * t * decrease
                or (abs(SIGMA * t * decrease) < resolution and F_t <= F0 + resolution)
            ):
                return t, trial, f_t, g_t, F_t
            t *= 0.5
        return 0.0, coef, None, None, F0


@dataclass
class _CDIterate:
    coef: torch.Tensor
    value: float  # F = f + nonsmooth part
    measure: float  # KKT violation
    step: float
    gradient: torch.Tensor  # of the smooth part
    viol0: float  # the first violation: ends the global (sampled-Hessian) phase
    exact_hessian: bool  # a sampled Hessian stopped working: exact from here on

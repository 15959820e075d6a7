"""FISTA with backtracking and adaptive restart (``solver="fista"``), on the device.

For ``F(w) = f(w) + r(w)`` (``f`` smooth: data term and ``lambda_2`` part; ``r`` the L1 part
and the box ``lower <= w <= upper`` when there are bounds, with its prox ``penalty.prox``:
soft-thresholding, then the projection onto the box) each iteration (Beck & Teboulle 2009,
*A fast iterative shrinkage-thresholding algorithm*):

- proximal gradient step from the extrapolated point ``y``:
  ``x+ = prox_{r/L}(y - grad f(y) / L)``, with backtracking on ``L`` until
  ``f(x+) <= f(y) + grad f(y).(x+ - y) + L/2 ||x+ - y||^2``, or the sufficient condition
  ``(grad f(x+) - grad f(y)).(x+ - y) <= L/2 ||x+ - y||^2`` that is free of cancellation near
  the optimum (``L`` doubles on failure and shrinks by ``0.8`` after each step, so that it
  tracks the local curvature);
- momentum ``t+ = (1 + sqrt(1 + 4 t^2)) / 2``, ``y+ = x+ + (t - 1)/t+ (x+ - x)``;
- adaptive restart (O'Donoghue & Candès 2015): when ``(y - x+).(x+ - x) > 0`` (the momentum
  points uphill) or ``F`` rose by more than its rounding error, the momentum is reset to
  ``t = 1``, ``y = x+``.

Every trial ``x+`` is evaluated with value and gradient together (one pass), so the KKT
violation at ``x+`` is exact: the stopping rule is the same as ``"cd"``'s — the largest
minimum-norm subgradient entry of the averaged objective (with the box's normal cone at a
bound, ``penalty.optimality``) ``<= tol``. The gradient at ``y`` costs
a second pass, except right after a restart (``y = x+``). Only a few scalars per iteration are
read back to the host, so it runs well on a GPU; iterations are cheap but many (use a larger
``max_iter`` than for Newton-type solvers).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from ._base import SolverBase, SolverCapabilities, evaluations_of, register_solver


def _initial_lipschitz(objective, x, g) -> float:
    """Curvature of ``f`` along ``-g`` from one gradient difference (a lower estimate of ``L``)."""
    gn = float(g.norm())
    if gn == 0.0:
        return 1.0
    h = 1e-3 / gn * max(1.0, float(x.norm()))
    _, g2 = objective.value_gradient(x - h * g)
    L = float((g2 - g).norm()) / (h * gn)
    return L if L > 0 and math.isfinite(L) else 1.0


@register_solver
class FISTASolver(SolverBase):
    """Accelerated proximal gradient with backtracking and adaptive restart."""

    name = "fista"
    requires = ("value_gradient",)
    penalty_requires = ("prox", "optimality", "nonsmooth_value")
    capabilities = SolverCapabilities(proximal=True, bounds=True)

    def __init__(self, *, shrink: float = 0.8, **kwargs):
        super().__init__(**kwargs)
        self.shrink = float(shrink)

    n_passes_of = staticmethod(evaluations_of)

    def _start(self, objective, coef, state, resumed):
        pen = objective.penalty
        x = coef.clone()
        f_x, g_x = objective.value_gradient(x)
        L = state.get("L") or _initial_lipschitz(objective, x, g_x)
        F_x = float(f_x) + float(pen.nonsmooth_value(x))
        viol = float(pen.optimality(x, g_x).max())
        return _FISTAIterate(x, F_x, viol, math.nan, L, 1.0, x, f_x, g_x)

    def _step(self, objective, it) -> str | None:
        pen = objective.penalty
        if it.g_y is None:  # the extrapolated point's gradient, left for this step
            it.f_y, it.g_y = objective.value_gradient(it.y)
        y, g_y, fy, L = it.y, it.g_y, float(it.f_y), it.L
        for _ in range(60):
            step = 1.0 / L
            x_new = pen.prox(y - step * g_y, step)
            diff = x_new - y
            f_new, g_new = objective.value_gradient(x_new)
            half_l_dd = 0.5 * L * float((diff * diff).sum())
            # descent lemma, or its gradient form (no cancellation near the optimum):
            # by convexity f(x+) - f(y) - g_y.d <= (g(x+) - g_y).d
            if (
                float(((g_new - g_y) * diff).sum()) <= half_l_dd
                or float(f_new) <= fy + float((g_y * diff).sum()) + half_l_dd
            ):
                break
            L *= 2.0
        else:
            return "backtracking failed: the objective is not finite or not smooth"
        F_new = float(f_new) + float(pen.nonsmooth_value(x_new))
        it.measure = float(pen.optimality(x_new, g_new).max())
        # a rise of F within its rounding error (2 eps |F|) is not evidence of uphill momentum:
        # near the optimum F is flat at rounding, and restarting on that noise would drop the
        # momentum at random and leave a first-order rate where the measure should still fall
        risen = F_new - it.value > 2.0 * torch.finfo(x_new.dtype).eps * abs(F_new)
        if float(((y - x_new) * (x_new - it.coef)).sum()) > 0 or risen:
            it.tk = 1.0  # adaptive restart: the momentum points uphill
            it.y, it.f_y, it.g_y = x_new, f_new, g_new
        else:
            t_next = 0.5 * (1.0 + math.sqrt(1.0 + 4.0 * it.tk * it.tk))
            it.y = x_new + ((it.tk - 1.0) / t_next) * (x_new - it.coef)
            it.tk = t_next
            it.g_y = None  # computed by the next step (none after the last one)
        it.coef, it.value, it.step = x_new, F_new, step
        it.L = L * self.shrink
        return None

    def _state(self, it) -> dict:
        # momentum is not part of the state: a resumed run restarts it (t = 1)
        return {"L": it.L}


@dataclass
class _FISTAIterate:
    coef: torch.Tensor  # x
    value: float  # F(x) = f(x) + nonsmooth part
    measure: float  # KKT violation at x
    step: float
    L: float  # Lipschitz estimate
    tk: float  # momentum parameter
    y: torch.Tensor  # extrapolated point
    f_y: torch.Tensor | None
    g_y: torch.Tensor | None  # None: not computed yet

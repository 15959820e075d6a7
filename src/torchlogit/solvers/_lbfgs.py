"""Limited-memory BFGS on the device (``solver="lbfgs"``).

The two-loop recursion (Nocedal & Wright, *Numerical Optimization*, Alg. 7.4) over the last
``memory`` pairs ``(s_k, y_k)``, with the initial scaling ``gamma = s.y / y.y`` and an Armijo
backtracking line search along ``f(x + t d)`` evaluated from ``raw + t X d``: one pass over X
for ``X d``, none per trial step, one for the gradient at the accepted step. Pairs with
``s.y <= eps ||s|| ||y||`` are skipped, which keeps the inverse-Hessian approximation positive
definite without a Wolfe search. Everything stays on the device; the
only host synchronisations are the scalars the line search and the stopping rule read.

Stopping rule: ``max_j |grad_j| <= tol`` on the averaged objective (as ``"newton"``).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ._adapter import line_objective
from ._base import SolverBase, SolverCapabilities, register_solver
from ._linesearch import armijo_on_line


def two_loop_direction(g: torch.Tensor, pairs: list, gamma: float) -> torch.Tensor:
    """``-H_k g`` for the L-BFGS inverse-Hessian approximation ``H_k`` (flat tensors)."""
    q = g.clone()
    alphas = []
    for s, y, rho in reversed(pairs):
        a = rho * torch.dot(s, q)
        q.sub_(a * y)
        alphas.append(a)
    r = q * gamma
    for (s, y, rho), a in zip(pairs, reversed(alphas), strict=True):
        b = rho * torch.dot(y, r)
        r.add_((a - b) * s)
    return -r


@register_solver
class LBFGSSolver(SolverBase):
    """L-BFGS with ``memory`` correction pairs (default 10)."""

    name = "lbfgs"
    requires = ("value_gradient",)
    capabilities = SolverCapabilities()

    def __init__(self, *, memory: int = 10, **kwargs):
        super().__init__(**kwargs)
        if int(memory) < 1:
            raise ValueError(f"memory must be >= 1 (correction pairs kept), got {memory}")
        self.memory = int(memory)

    def _start(self, objective, coef, state, resumed):
        obj = line_objective(objective)
        pt = obj.point(coef.clone())
        pairs, gamma, t = _unpack_state(state, pt.coef.reshape(-1))
        g = pt.gradient.reshape(-1)
        return _LBFGSIterate(pt, float(pt.value), float(g.abs().max()), t, obj, pairs, gamma)

    def _step(self, objective, it) -> str | None:
        pt, f, pairs = it.pt, it.value, it.pairs
        shape = pt.coef.shape
        x, g = pt.coef.reshape(-1), pt.gradient.reshape(-1)
        eps = torch.finfo(x.dtype).eps
        while True:
            d = two_loop_direction(g, pairs, it.gamma)
            slope = float(torch.dot(g, d))
            if slope >= 0:  # lost descent (rounding): restart from steepest descent
                pairs.clear()
                d, slope = -g, -float(torch.dot(g, g))
            step = 1.0 if pairs else min(1.0, 1.0 / max(float(g.abs().sum()), 1e-30))
            line = it.obj.line(pt, d.reshape(shape))
            t, _ = armijo_on_line(line, f, slope, step=step, eps=eps)
            if t == 0.0 and pairs:  # a bad curvature model: forget it, try steepest descent
                pairs.clear()
                it.gamma = 1.0
                continue
            break
        if t == 0.0:
            return self._no_decrease(x.dtype)
        it.pt = line.point(t)
        x_new, g_new = it.pt.coef.reshape(-1), it.pt.gradient.reshape(-1)
        s, y = x_new - x, g_new - g
        sy = float(torch.dot(s, y))
        if sy > eps * float(s.norm()) * float(y.norm()):
            pairs.append((s, y, 1.0 / sy))
            if len(pairs) > self.memory:
                pairs.pop(0)
            it.gamma = sy / float(torch.dot(y, y))
        it.value, it.measure, it.step = float(it.pt.value), float(g_new.abs().max()), t
        return None

    def _state(self, it) -> dict:
        return _pack_state(it.pairs, it.gamma, it.step) if self.checkpoint is not None else {}


@dataclass
class _LBFGSIterate:
    """L-BFGS's iteration state: the point and the correction pairs ``(s, y, 1 / s.y)``."""

    pt: object  # Point
    value: float
    measure: float  # max |grad|
    step: float
    obj: object  # the point / line interface
    pairs: list
    gamma: float

    @property
    def coef(self) -> torch.Tensor:
        return self.pt.coef


def _pack_state(pairs: list, gamma: float, t: float) -> dict:
    """L-BFGS's memory as tensors and floats (what a checkpoint stores)."""
    state = {"gamma": gamma, "step": t, "rho": [p[2] for p in pairs]}
    if pairs:
        state["s"] = torch.stack([p[0] for p in pairs])
        state["y"] = torch.stack([p[1] for p in pairs])
    return state


def _unpack_state(state: dict, x: torch.Tensor):
    """``(pairs, gamma, step)`` from :func:`_pack_state`'s output (empty state: a fresh start)."""
    pairs = []
    if state.get("rho"):
        S = state["s"].to(dtype=x.dtype, device=x.device)
        Y = state["y"].to(dtype=x.dtype, device=x.device)
        pairs = [(S[i], Y[i], float(r)) for i, r in enumerate(state["rho"])]
    return pairs, float(state.get("gamma", 1.0)), float(state.get("step", 0.0))

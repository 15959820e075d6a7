"""Backtracking (Armijo) line search shared by the smooth solvers."""

from __future__ import annotations

import torch

ARMIJO_C1 = 1e-4


def armijo_backtracking(
    objective,
    coef: torch.Tensor,
    direction: torch.Tensor,
    f0: float,
    slope: float,
    *,
    step: float = 1.0,
    shrink: float = 0.5,
    max_halvings: int = 40,
    with_gradient: bool = False,
):
    """Largest ``t = step * shrink**k`` with ``f(coef + t d) <= f0 + c1 t slope``.

    ``slope`` is the directional derivative ``g . d`` (negative for a descent direction).
    Returns ``(t, coef_new, f_new, g_new)`` (``g_new`` is None unless ``with_gradient``), or
    ``(0.0, coef, f0, None)`` when no step decreases the objective: the objective is then flat
    to the working precision along ``d``.

    A decrease that is within rounding of ``f0`` is accepted when the Armijo test is
    undecidable in floating point (``|c1 t slope|`` below the resolution of ``f0``), so that
    the last iterations of a float32 fit are not rejected for noise.
    """
    eps = torch.finfo(coef.dtype).eps
    t = step
    for _ in range(max_halvings):
        trial = coef + t * direction
        if with_gradient:
            f_t, g_t = objective.value_gradient(trial)
        else:
            f_t, g_t = objective.value(trial), None
        f_t = float(f_t)
        resolution = 4 * eps * max(abs(f0), 1.0)
        if f_t <= f0 + ARMIJO_C1 * t * slope or (
            abs(ARMIJO_C1 * t * slope) < resolution and f_t <= f0 + resolution
        ):
            if f_t == f_t:  # not NaN
                return t, trial, f_t, g_t
        t *= shrink
    return 0.0, coef, f0, None


def armijo_on_line(
    line,
    f0: float,
    slope: float,
    *,
    step: float = 1.0,
    shrink: float = 0.5,
    max_halvings: int = 40,
    eps: float,
):
    """:func:`armijo_backtracking` on a line object (``line.value(t) = f(coef + t d)``).

    With :class:`~torchlogit.objective._linear.Line` the trials need no pass over the data.
    Returns ``(t, f_t)``; ``(0.0, f0)`` when no step decreases the objective.
    """
    t = step
    resolution = 4 * eps * max(abs(f0), 1.0)
    for _ in range(max_halvings):
        f_t = float(line.value(t))
        if f_t <= f0 + ARMIJO_C1 * t * slope or (
            abs(ARMIJO_C1 * t * slope) < resolution and f_t <= f0 + resolution
        ):
            if f_t == f_t:  # not NaN
                return t, f_t
        t *= shrink
    return 0.0, f0

"""Box constraints ``lower_j <= w_kj <= upper_j`` on the weights (never on the intercept).

A box is the indicator function :math:`I_B(w)` (0 inside, :math:`+\\infty` outside) added to a
separable penalty ``h(w) = sum_j h_j(w_j)``. Because both are separable and one-dimensional
per entry, the proximal operator of ``h + I_B`` is the proximal operator of ``h`` followed by
the projection onto ``[lower_j, upper_j]`` (the minimiser of a convex function of one variable
over an interval is the clamp of its unconstrained minimiser), and the KKT conditions of the
constrained problem read, entry by entry,

.. math::  0 \\in g + \\partial h_j(w) + N_{[l, u]}(w), \\qquad
           N_{[l,u]}(w) = \\{0\\} \\;(l < w < u),\\; (-\\infty, 0] \\;(w = l),\\;
           [0, \\infty) \\;(w = u),\\; \\mathbb R \\;(l = w = u).

:func:`box_l1_violation` is the distance of ``0`` to that set for ``h_j = t_j |w|``: the
optimality measure every proximal solver stops on (and, in NumPy, the inner solver of
``"cd"``). Bounds of ``-inf`` / ``+inf`` leave an entry free.

Shape:
    - ``lower``, ``upper``: ``(d,)`` tensors (one value per feature); applied to the ``d``
      weight columns of every row of ``coef`` (``(m, p)``, intercept last when fitted).
"""

from __future__ import annotations

import math

import numpy as np
import torch


def _as_bounds(value, n_features: int, name: str, default: float) -> np.ndarray:
    if value is None:
        return np.full(n_features, default)
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    try:
        arr = np.array(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be a number or an array of numbers: {exc}") from None
    if arr.ndim == 0:
        arr = np.full(n_features, float(arr))
    if arr.shape != (n_features,):
        raise ValueError(
            f"{name} must be a scalar or have shape ({n_features},) (one value per feature), "
            f"got shape {arr.shape}"
        )
    if np.isnan(arr).any():
        j = int(np.flatnonzero(np.isnan(arr))[0])
        raise ValueError(f"{name} must not be NaN; feature {j} has NaN")
    return arr


class Box:
    """``lower <= w <= upper`` per feature; build it with :meth:`from_bounds`.

    Parameters
    ----------
    lower, upper : tensors of shape (d,)
        ``-inf`` / ``+inf`` for an unbounded side; ``lower <= upper`` everywhere.
    """

    def __init__(self, lower: torch.Tensor, upper: torch.Tensor):
        self.lower = lower
        self.upper = upper
        self.n_features = int(lower.shape[0])

    @classmethod
    def from_bounds(cls, lower, upper, n_features: int, *, dtype=None, device=None):
        """The box of ``lower_bounds`` / ``upper_bounds`` (scalars or ``(d,)``), or None when
        both are None or every bound is infinite (no constraint).

        Raises ValueError for NaN, a wrong shape, or ``lower > upper`` (naming the feature).
        """
        if lower is None and upper is None:
            return None
        lo = _as_bounds(lower, n_features, "lower_bounds", -math.inf)
        hi = _as_bounds(upper, n_features, "upper_bounds", math.inf)
        bad = lo > hi
        if bad.any():
            j = int(np.flatnonzero(bad)[0])
            raise ValueError(
                f"lower_bounds must be <= upper_bounds: feature {j} has lower bound "
                f"{float(lo[j])!r} > upper bound {float(hi[j])!r}"
            )
        if np.isneginf(lo).all() and np.isposinf(hi).all():
            return None
        dtype = dtype or torch.float64  # converted to the coefficients' dtype where used
        return cls(
            torch.as_tensor(lo, dtype=dtype, device=device),
            torch.as_tensor(hi, dtype=dtype, device=device),
        )

    def limits(self, coef: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(lo, hi)`` shaped like ``coef``: the bounds on the weights, ``-+inf`` elsewhere."""
        d = self.n_features
        lo = torch.full_like(coef, -math.inf)
        hi = torch.full_like(coef, math.inf)
        lo[:, :d] = self.lower.to(dtype=coef.dtype, device=coef.device)
        hi[:, :d] = self.upper.to(dtype=coef.dtype, device=coef.device)
        return lo, hi

    def project(self, coef: torch.Tensor) -> torch.Tensor:
        """The nearest point of the box (a copy; the intercept column unchanged)."""
        lo, hi = self.limits(coef)
        return torch.minimum(torch.maximum(coef, lo), hi)

    def check_feasible(self, coef: torch.Tensor) -> None:
        """Raise ValueError naming the first entry of ``coef`` outside the box."""
        lo, hi = self.limits(coef)
        bad = (coef < lo) | (coef > hi)
        if bool(bad.any()):
            k, j = (int(i) for i in torch.nonzero(bad)[0])
            raise ValueError(
                "the starting coefficients are outside the bounds: coefficient "
                f"{float(coef[k, j])!r} of feature {j} (row {k}) is not in "
                f"[{float(lo[k, j])!r}, {float(hi[k, j])!r}]; start inside the box "
                "(or without a warm start)"
            )


def box_l1_violation(w, g, t, lo=None, hi=None):
    """Per-entry distance of ``0`` to ``g + t d|w| + N_[lo, hi](w)`` (torch or NumPy arrays).

    ``g``: the gradient of the smooth part; ``t >= 0``: the L1 weights (0 where there is no L1
    term); ``lo``, ``hi``: the bounds (None: no box). Without a box this is the minimum-norm
    subgradient, ``max(|g| - t, 0)`` at ``w = 0`` and ``|g + t sign(w)|`` elsewhere. At a
    lower bound the normal cone adds ``(-inf, 0]``, so only ``max(-(g + t s_+), 0)`` remains,
    with ``s_+`` the largest subgradient of ``|w|`` (``sign(w)``, or ``1`` at ``0``); at an
    upper bound ``max(g + t s_-, 0)``; at ``lo = hi`` nothing.
    """
    lib = torch if isinstance(w, torch.Tensor) else np
    s = lib.sign(w)
    if lib is np:
        at_zero = np.maximum(np.abs(g) - t, 0.0)
    else:
        at_zero = torch.clamp(g.abs() - t, min=0.0)
    out = lib.where(w == 0, at_zero, lib.abs(g + t * s))
    if lo is None:
        return out
    s_up = lib.where(w == 0, lib.ones_like(s), s)
    s_down = lib.where(w == 0, -lib.ones_like(s), s)
    zero = lib.zeros_like(g)
    at_lo = lib.maximum(-(g + t * s_up), zero)
    at_hi = lib.maximum(g + t * s_down, zero)
    out = lib.where(w <= lo, at_lo, out)
    out = lib.where(w >= hi, at_hi, out)
    return lib.where((lo == hi) & (w == lo), zero, out)

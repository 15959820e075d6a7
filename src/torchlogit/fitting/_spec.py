"""The problem spec: what to fit, as plain validated values (no data, no estimator).

The problem is scikit-learn's, for sample weights ``s_i`` (class weights folded in), logits
``z_i = W x_i + b (+ o_i)`` with an optional fixed offset ``o_i``, and ``S = sum_i s_i``:

.. math::

    \\min_{W, b}\\; C \\sum_i s_i \\, \\mathrm{logloss}(y_i, z_i) + r(W),
    \\qquad r(W) = \\sum_j f_j \\Big(\\rho |W_j| + \\frac{1 - \\rho}{2} W_j^2\\Big),

subject to ``lower_j <= W_kj <= upper_j`` when bounds are given, with ``rho`` = 0 (``"l2"``),
1 (``"l1"``), ``l1_ratio`` (``"elasticnet"``), ``r = 0`` for ``penalty=None`` or
``C = inf``, ``f_j`` the ``penalty_factor`` (default 1). The intercept ``b`` is never
penalised nor bounded. The engine minimises the same objective divided by ``C S``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np
import torch


@dataclass(frozen=True)
class FitSpec:
    """Everything that defines a fit except the data (see the module docstring).

    ``penalty_factor``, ``lower_bounds`` and ``upper_bounds`` are ``None`` or validated
    by :func:`validate_penalty_factor` / :func:`validate_bounds` once the number of
    features is known. ``class_weight`` only names the problem in checkpoint keys (the
    prepared data already carry it).
    """

    penalty: str | None = "l2"
    C: float = 1.0
    l1_ratio: float | None = None
    penalty_factor: object = None
    lower_bounds: object = None
    upper_bounds: object = None
    fit_intercept: bool = True
    class_weight: object = None
    solver: str = "auto"
    # None: the solver's declared default_tol (1e-8 for the Newton-type solvers, else 1e-4)
    tol: float | None = None
    max_iter: int = 100
    solver_options: dict = field(default_factory=dict)
    verbose: int = 0
    checkpoint_dir: str | os.PathLike | None = None
    # seeds the solvers that sample (``random_state`` option); int, RandomState or None
    random_state: object = None
    # CPU threads while solving (None: unchanged; -1: all cores); ignored on CUDA
    n_jobs: int | None = None

    @property
    def penalized(self) -> bool:
        """Whether ``r`` bounds the coefficients (``penalty`` given and ``C`` finite)."""
        return self.penalty is not None and bool(np.isfinite(self.C))


def check_penalty_scale(spec: FitSpec, weight_sum: float, dtype) -> None:
    """The averaged objective's penalty strength ``1 / (C S)`` must be a finite number of the
    working ``dtype``: a tiny ``C`` (``1e-320``) makes it overflow, which the penalty would
    only report as a negative or NaN strength."""
    if not spec.penalized:
        return
    with np.errstate(over="ignore", divide="ignore", under="ignore"):
        strength = np.float64(1.0) / (np.float64(spec.C) * np.float64(weight_sum))
    top = torch.finfo(dtype).max
    if not (np.isfinite(strength) and strength <= top):
        smallest = 1.0 / (top * float(weight_sum)) if weight_sum > 0 else float("nan")
        raise ValueError(
            f"C={spec.C!r} is too small: the penalty strength 1 / (C * S) with S={weight_sum:g} "
            f"(the total sample weight) overflows {dtype}. Use C >= {smallest:.3g} (C that "
            "small already fits the all-zero model)"
        )


def _as_float_array(value, name: str) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    try:
        return np.array(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be an array of numbers: {exc}") from None


def validate_penalty_factor(penalty_factor, n_features: int) -> np.ndarray | None:
    """``penalty_factor`` as a float64 array of shape ``(d,)`` (finite, >= 0), or None."""
    if penalty_factor is None:
        return None
    factor = _as_float_array(penalty_factor, "penalty_factor")
    if factor.shape != (n_features,):
        raise ValueError(
            f"penalty_factor must have shape ({n_features},), one factor per feature of X, "
            f"got shape {factor.shape}"
        )
    bad = np.flatnonzero(~(np.isfinite(factor) & (factor >= 0)))
    if bad.size:
        j = int(bad[0])
        raise ValueError(
            f"penalty_factor must be finite and >= 0; feature {j} has {factor[j]!r}"
            + (f" ({bad.size} bad entries in all)" if bad.size > 1 else "")
        )
    return factor


def validate_bounds(lower, upper, n_features: int | None):
    """``(lower, upper)``: each ``None`` or a float64 array ``(d,)`` (a scalar is broadcast).

    NaN is refused; ``-inf`` / ``+inf`` mean unbounded; ``lower_j <= upper_j`` is required.
    With ``n_features=None`` (before the data are seen) only scalars are broadcast to 1.
    """
    out = []
    for name, value in (("lower_bounds", lower), ("upper_bounds", upper)):
        if value is None:
            out.append(None)
            continue
        arr = _as_float_array(value, name)
        if arr.ndim == 0:
            arr = np.full(1 if n_features is None else n_features, float(arr))
        elif arr.ndim != 1 or (n_features is not None and arr.shape[0] != n_features):
            want = "a scalar or shape (d,)" if n_features is None else f"({n_features},)"
            raise ValueError(
                f"{name} must be a scalar or have shape {want}, one bound per feature of X; "
                f"got shape {arr.shape}"
            )
        if np.isnan(arr).any():
            raise ValueError(
                f"{name} contains NaN (feature {int(np.flatnonzero(np.isnan(arr))[0])})"
            )
        out.append(arr)
    lo, up = out
    if lo is not None and up is not None:
        try:
            blo, bup = np.broadcast_arrays(lo, up)
        except ValueError:
            raise ValueError(
                f"lower_bounds and upper_bounds have different lengths ({lo.shape[0]} and "
                f"{up.shape[0]})"
            ) from None
        crossed = np.flatnonzero(blo > bup)
        if crossed.size:
            j = int(crossed[0])
            raise ValueError(
                f"lower_bounds > upper_bounds for feature {j} ({float(blo[j])!r} > "
                f"{float(bup[j])!r}): the feasible set is empty"
            )
    return lo, up

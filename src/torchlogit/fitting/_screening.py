"""Sequential strong-rule screening for L1 / elastic-net paths (Tibshirani et al. 2012,
*Strong rules for discarding predictors in lasso-type problems*, JRSS B 74).

On the averaged objective (:mod:`torchlogit.objective`) the L1 threshold of feature ``j`` at
``C`` is ``t_j(C) = lambda_1(C) f_j = l1_ratio f_j / (C S)``. A penalised coefficient column
``W_{:j}`` is zero at the optimum exactly when ``max_k |g_kj| <= t_j(C)``, ``g`` the gradient of
the smooth part there. Along a path from ``C_prev`` to ``C > C_prev``, with ``g`` taken at the
previous solution, the *sequential strong rule* discards ``j`` (zero at ``C_prev``) when

.. math::  \\max_k |g_{kj}(W_{prev})| < 2\\, t_j(C) - t_j(C_{prev}),

which holds whenever ``|g_kj|`` moves by at most ``t_j(C_prev) - t_j(C)`` between the two
solutions (the "unit slope" assumption). It is a heuristic, so after fitting on the kept
columns the KKT conditions are checked on the discarded ones over the full data, at the
expanded solution ``W`` (zeros on the discarded columns): any discarded ``j`` with
``max_k |g_kj(W)| > t_j(C)`` (``penalty.optimality > 0``) joins the kept set and the fit is
repeated from ``W``. When none violates, ``W`` satisfies every KKT condition of the full
problem to the solver's tolerance: it is the full fit's minimiser, with the same zeros.

The kept columns are fitted by the engine itself (:func:`~torchlogit.fitting.fit`) on
:class:`~torchlogit.data.ColumnSubset` (the same rows, ``X[:, kept]``), the penalty factors
and bounds restricted likewise, so a point costs passes over ``n x |kept|`` instead of
``n x d``.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import torch

from ..data import ColumnSubset
from ._engine import build_objective, build_penalty, fit

#: Above this share of the columns kept, the fit runs on all of them (gathering the columns
#: would cost about as much as it saves).
MAX_KEPT_SHARE = 0.5


@dataclasses.dataclass
class Screened:
    """A path point's fit and what the next point screens with: the gradient of the smooth
    part at the fitted ``coef`` (every column), the L1 thresholds there, and the number of
    feature columns the last fit ran on."""

    result: object
    gradient: torch.Tensor
    thresholds: torch.Tensor
    n_columns: int


def _restrict(value, keep: np.ndarray, d: int):
    """A per-feature spec array (penalty factors, bounds) restricted to the kept columns."""
    if value is None:
        return None
    arr = np.asarray(value)
    return arr[keep] if arr.shape == (d,) else arr


def fit_columns(spec, training, keep: np.ndarray, warm: torch.Tensor):
    """The engine's fit of ``spec`` on the feature columns ``keep`` (boolean ``(d,)``), from
    ``warm`` (the full ``(m, p)`` block, restricted); returns the result with its ``coef``
    expanded to every column (zeros elsewhere)."""
    d = training.n_features
    cols = torch.as_tensor(np.flatnonzero(keep), dtype=torch.int64, device=training.device)
    p = warm.shape[1]
    local = torch.cat([cols, torch.arange(d, p, device=warm.device)])
    sub_training = dataclasses.replace(
        training,
        data=ColumnSubset(training.data, cols),
        n_features=int(cols.numel()),
        feature_names=None,
    )
    sub_spec = dataclasses.replace(
        spec,
        penalty_factor=_restrict(spec.penalty_factor, keep, d),
        lower_bounds=_restrict(spec.lower_bounds, keep, d),
        upper_bounds=_restrict(spec.upper_bounds, keep, d),
    )
    result = fit(sub_spec, sub_training, warm_start=(warm[:, local], training.classes))
    coef = torch.zeros_like(warm)
    coef[:, local] = result.coef.to(warm)
    return dataclasses.replace(result, coef=coef, n_features=d)


def fit_screened(spec, training, previous: Screened | None, warm_start=None) -> Screened:
    """Fit ``spec`` (an L1 / elastic-net penalty) at its ``C``, screening with the strong rule
    from ``previous`` (the path's point at the next smaller ``C``; None: no screening), then
    checking the KKT conditions on the discarded columns (see the module docstring)."""
    d = training.n_features
    penalty = build_penalty(spec, training)
    objective = build_objective(spec, training, penalty)
    keep = None
    if previous is not None:
        coef0 = previous.result.coef.to(device=training.device, dtype=training.dtype)
        t_now = penalty.l1_thresholds(coef0)[:, :d]
        g = previous.gradient[:, :d].abs()
        strong = (g >= 2 * t_now - previous.thresholds[:, :d]).any(dim=0)
        active = (coef0[:, :d] != 0).any(dim=0) | penalty.unpenalized_mask(coef0)[0, :d]
        keep = (strong | active).cpu().numpy()
        warm = coef0
    n_checks = 0
    while keep is not None and keep.sum() <= MAX_KEPT_SHARE * d:
        result = fit_columns(spec, training, keep, warm)
        _, grad = objective.value_gradient(result.coef)
        n_checks += 1
        violation = penalty.optimality(result.coef, grad)[:, :d].amax(dim=0).cpu().numpy()
        violators = ~keep & (violation > 0)
        if not violators.any():
            result.n_passes += 2 * n_checks  # the KKT checks' passes (X W^T, G^T X)
            thresholds = penalty.l1_thresholds(result.coef)
            return Screened(result, grad, thresholds, int(keep.sum()))
        keep = keep | violators
        warm = result.coef
    if keep is not None:
        warm_start = (warm, training.classes)
    result = fit(spec, training, warm_start=warm_start)
    _, grad = objective.value_gradient(result.coef)
    return Screened(result, grad, penalty.l1_thresholds(result.coef), d)

"""(Quasi-)separation at the fitted coefficients, from the sums of the inference pass.

(Quasi-)separation: each parameter's information is at most its bound
``B_j = ¼ sum_i s_i a_ij²`` (``h_i <= ¼``). When a direction separates the classes (every
row on its side of it, ties allowed), the unpenalised optimum lies at infinity along it: the
fit's coefficients there grow with its ``tol``, the rows off the tie are fitted with
probability 0 or 1 and their ``h_i`` vanish, so ``I_jj / B_j`` of the terms that vary on them
falls by orders of magnitude (``e^{-margin}``); a finite optimum keeps it near the average
``4 h_i`` over the rows where the term varies. The sum is taken over the *decided* rows
``D = {i: 4 h_i < τ}`` only (``τ`` = :data:`DECIDED`; usually none, so no work):
``r_j = I_jj / (¼ sum_{i in D} s_i a_ij²) >= I_jj / B_j``, and as the other rows give
``I_jj >= (τ/4) sum_{i not in D} s_i a_ij²``, ``I_jj / B_j < ρ`` implies ``r_j < ρ / (1 -
ρ/τ)``: the same test within ``ρ/τ`` = 10%. ``r_j`` below ``ρ`` = :data:`SEPARATION_RATIO`
is reported (:class:`SeparableDataWarning`) naming those terms; every row on its side is
perfect separation, reported as such.

Reference: statsmodels' ``PerfectSeparationWarning`` ("Perfect separation or prediction
detected, parameter may not be identified"), which catches only perfect prediction; the
certificate of separation is a linear programme (Konis 2007; R's ``detectseparation``),
used by the tests.
"""

from __future__ import annotations

import warnings

import numpy as np
import torch

from ..data import SparseDesign, weighted_square_sums
from ._engine import SeparableDataWarning

#: ``I_jj / B_j`` below this names term ``j`` as separating (module docstring). A finite
#: optimum keeps it above ~1e-2 on statsmodels' datasets and on a slope of 8 per standard
#: deviation; quasi-separated terms fall below 1e-7 at the default ``tol`` (1e-8).
SEPARATION_RATIO = 1e-5
#: ``4 h_i`` below this: a decided row (fitted probability within ~1e-4 / 4 of 0 or 1).
DECIDED = 1e-4


def decided_square_sums(X, sw: torch.Tensor, decided: torch.Tensor, fit_intercept: bool):
    """``(p,)``: ``sum_{i decided} s_i a_ij²`` (``[x_1² .. x_d², 1]``); zeros, without
    touching ``X``, when no row is decided."""
    p = X.shape[1] + int(fit_intercept)
    if not bool(decided.any()):
        return torch.zeros(p, dtype=torch.float64, device=sw.device)
    if isinstance(X, SparseDesign):
        w = torch.where(decided, sw, torch.zeros_like(sw))
        col = weighted_square_sums(X, w.unsqueeze(1))[:, 0]
    else:
        idx = decided.nonzero()[:, 0]
        w = sw[idx]
        col = weighted_square_sums(X[idx], w.unsqueeze(1))[:, 0]
    out = torch.cat([col, w.sum().reshape(1)]) if fit_intercept else col
    return out.double()


def warn_if_quasi_separated(info_diag, bound, names, fit_intercept: bool, classes) -> None:
    """Warn naming the terms whose information is below :data:`SEPARATION_RATIO` of its
    decided rows' bound (``info_diag``, ``bound``: table order, every class block for
    ``m > 1``)."""
    ratio = np.divide(info_diag, bound, out=np.ones_like(bound), where=bound > 0)
    flagged = np.flatnonzero((bound > 0) & (ratio < SEPARATION_RATIO))
    if flagged.size == 0:
        return
    terms = (["intercept"] if fit_intercept else []) + list(names)
    p = len(terms)
    per_class = len(bound) > p
    labels = []
    for j in flagged:
        term = terms[j % p]
        label = f"{term} (class {classes.tolist()[j // p]!r})" if per_class else term
        labels.append(f"{label}: {ratio[j]:.1e}")
    warnings.warn(
        "Perfect separation or prediction detected, parameters may not be identified: the "
        "classes are (quasi-)separated along " + ", ".join(labels) + " (information as a "
        "share of ¼ Σ s_i x_ij² over the rows fitted with probability ~0 or 1). The fitted "
        "probabilities are 0 or 1 on the rows where these terms vary, their estimates grow "
        "without bound as tol shrinks, and their standard errors, z and p-values mean "
        "nothing. Drop these terms (or the rows they predict perfectly), or fit with "
        "penalty='l2'.",
        SeparableDataWarning,
        stacklevel=5,
    )

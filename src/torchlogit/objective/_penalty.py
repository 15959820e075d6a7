"""Penalties on the weights (never on the intercept), and the registry ``make_penalty`` reads.

A penalty works on the coefficient matrix ``coef`` of shape ``(m, p)`` whose last column is
the intercept when ``fit_intercept`` (then ``p = d + 1``). With per-feature factors ``f_j >= 0``
(1 when not given) the elastic-net family is

.. math::  r(w) = \\lambda_1 \\sum_j f_j |w_j| + \\frac{\\lambda_2}{2} \\sum_j f_j w_j^2
           \\; [+ I_B(w)]

summed over the ``m`` rows, optionally restricted to a box ``B`` (``lower_j <= w_kj <=
upper_j``, see :mod:`._box`). The smooth part (``lambda_2``) goes into value, gradient and
Hessian of :class:`~torchlogit.objective.LinearObjective`; the non-smooth part (``lambda_1``
and the box) is handled by proximal solvers through :meth:`ElasticNetPenalty.prox`.

The penalty protocol (what solvers call; no solver reads a penalty's fields):

- ``is_smooth``: no non-smooth part (no L1 term, no box): smooth-only solvers may take it;
  ``has_bounds``: there is a box; ``selects_features``: the non-smooth part sets entries
  exactly to zero (working sets pay off);
- ``smooth_value``, ``smooth_gradient``, ``smooth_hessian_diagonal``: the smooth part;
- ``nonsmooth_value``, ``prox(coef, step)``, ``project(coef)``, ``limits(coef)`` (the box as
  ``(lo, hi)`` shaped like ``coef``, or None), ``check_feasible(coef)``;
- ``l1_thresholds(coef)``: the separable L1 weights (for coordinate-wise inner solvers);
- ``optimality(coef, grad)``: per-entry KKT violation, zero exactly at the minimiser;
- ``unpenalized_mask(coef)``: entries with no L1 / L2 term;
- ``lambda_max(grad)``: the smallest ``lambda_1`` that keeps ``W = 0`` optimal.

To add a penalty: one file with a class that implements the protocol, and a builder registered
with :func:`register_penalty` (``make_penalty(kind, ...)`` then builds it by name).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from ._box import Box, box_l1_violation


class ElasticNetPenalty:
    """``lambda_1 * sum f_j |w_j| + lambda_2 / 2 * sum f_j w_j^2`` on the non-intercept columns,
    optionally with box constraints.

    Parameters
    ----------
    l1, l2 : float
        Strengths on the *averaged* objective (the data term is divided by the sum of sample
        weights ``S``): for scikit-learn's ``C``, ``l1 = l1_ratio / (C S)`` and
        ``l2 = (1 - l1_ratio) / (C S)``.
    n_features : int
        ``d``: the number of penalised columns (the intercept column, if any, comes after).
    factor : tensor of shape (d,), optional
        Per-feature penalty factors (0 leaves a feature unpenalised).
    box : Box, optional
        ``lower_j <= w_kj <= upper_j`` (see :meth:`Box.from_bounds`); the intercept is free.
    """

    def __init__(
        self,
        l1: float,
        l2: float,
        n_features: int,
        factor: torch.Tensor | None = None,
        box: Box | None = None,
    ):
        if not (l1 >= 0 and l2 >= 0):
            raise ValueError(f"penalty strengths must be >= 0, got l1={l1}, l2={l2}")
        self.l1 = float(l1)
        self.l2 = float(l2)
        self.n_features = int(n_features)
        if factor is not None:
            factor = torch.as_tensor(factor)
            if factor.shape != (self.n_features,):
                raise ValueError(
                    f"penalty factor must have shape ({self.n_features},) (one per feature), "
                    f"got {tuple(factor.shape)}"
                )
            bad = ~(torch.isfinite(factor) & (factor >= 0))
            if bool(bad.any()):
                j = int(torch.nonzero(bad)[0])
                raise ValueError(
                    f"penalty factor must be finite and >= 0, got {float(factor[j])} "
                    f"for feature {j}"
                )
        self.factor = factor
        if box is not None and box.n_features != self.n_features:
            raise ValueError(f"the box has {box.n_features} features, the penalty {n_features}")
        self.box = box

    # ------------------------------------------------------------------ what kind of penalty
    @property
    def is_smooth(self) -> bool:
        return self.l1 == 0.0 and self.box is None

    @property
    def has_bounds(self) -> bool:
        return self.box is not None

    @property
    def selects_features(self) -> bool:
        return self.l1 > 0.0

    # ------------------------------------------------------------------ smooth part
    def _weights(self, coef: torch.Tensor) -> torch.Tensor:
        return coef[:, : self.n_features]

    def _f(self, like: torch.Tensor):
        return 1.0 if self.factor is None else self.factor.to(like.dtype)

    def smooth_value(self, coef: torch.Tensor) -> torch.Tensor:
        w = self._weights(coef)
        return 0.5 * self.l2 * (self._f(w) * w * w).sum()

    def smooth_gradient(self, coef: torch.Tensor) -> torch.Tensor:
        g = torch.zeros_like(coef)
        w = self._weights(coef)
        g[:, : self.n_features] = self.l2 * self._f(w) * w
        return g

    def smooth_hessian_diagonal(self, coef: torch.Tensor) -> torch.Tensor:
        """Diagonal of the smooth part's Hessian, same shape as ``coef``."""
        h = torch.zeros_like(coef)
        h[:, : self.n_features] = self.l2 * (
            self.factor.to(coef.dtype) if self.factor is not None else 1.0
        )
        return h

    # ------------------------------------------------------------------ non-smooth part
    def nonsmooth_value(self, coef: torch.Tensor) -> torch.Tensor:
        """The L1 part (the box's indicator is 0 on the feasible points solvers keep)."""
        w = self._weights(coef)
        return self.l1 * (self._f(w) * w.abs()).sum()

    def value(self, coef: torch.Tensor) -> torch.Tensor:
        return self.smooth_value(coef) + self.nonsmooth_value(coef)

    def prox(self, coef: torch.Tensor, step: float) -> torch.Tensor:
        """``argmin_u 1/(2 step) ||u - coef||^2 + l1 sum f_j |u_j| + I_B(u)``: soft-thresholding,
        then the projection onto the box (exact: both are separable, see :mod:`._box`).

        Only the non-smooth part: the smooth part belongs to the gradient step.
        """
        out = coef.clone()
        w = out[:, : self.n_features]
        thresh = step * self.l1 * self._f(w)
        out[:, : self.n_features] = torch.sign(w) * torch.clamp(w.abs() - thresh, min=0.0)
        return out if self.box is None else self.box.project(out)

    def project(self, coef: torch.Tensor) -> torch.Tensor:
        """The nearest feasible point (``coef`` itself when there is no box)."""
        return coef if self.box is None else self.box.project(coef)

    def limits(self, coef: torch.Tensor):
        """``(lo, hi)`` shaped like ``coef`` (``-+inf`` where free), or None without a box."""
        return None if self.box is None else self.box.limits(coef)

    def check_feasible(self, coef: torch.Tensor) -> None:
        """Raise ValueError naming the entry when ``coef`` is outside the box."""
        if self.box is not None:
            self.box.check_feasible(coef)

    def l1_thresholds(self, coef: torch.Tensor) -> torch.Tensor:
        """``l1 * f_j`` for every entry of ``coef`` (0 on the intercept column)."""
        t = torch.zeros_like(coef)
        t[:, : self.n_features] = self.l1 * self._f(coef)
        return t

    def optimality(self, coef: torch.Tensor, grad: torch.Tensor) -> torch.Tensor:
        """Per-entry distance of ``0`` to the subdifferential of ``f + r`` at ``coef``.

        ``grad`` is the gradient of the smooth part (data term plus ``lambda_2`` term). With
        ``t = lambda_1 f_j``: ``|g + t sign(w)|`` where ``w != 0`` and ``max(|g| - t, 0)`` where
        ``w = 0`` (the minimum-norm subgradient); with a box, at a bound only the part that
        the normal cone cannot absorb (:func:`box_l1_violation`). Its maximum is the KKT
        violation: zero exactly at the minimiser.
        """
        if self.l1 == 0.0 and self.box is None:
            return grad.abs()
        t = self.l1_thresholds(coef)
        lim = self.limits(coef)
        return box_l1_violation(coef, grad, t, *(lim or (None, None)))

    def unpenalized_mask(self, coef: torch.Tensor) -> torch.Tensor:
        """Boolean mask (shape of ``coef``) of entries with no L1 / L2 term at all."""
        mask = torch.ones_like(coef, dtype=torch.bool)
        if self.l1 > 0 or self.l2 > 0:
            pen = torch.ones(self.n_features, dtype=torch.bool, device=coef.device)
            if self.factor is not None:
                pen = self.factor > 0
            mask[:, : self.n_features] = ~pen
        return mask

    def lambda_max(self, grad: torch.Tensor) -> float:
        """``max_{k, j: f_j > 0} |g_kj| / f_j``: the smallest L1 strength for which ``W = 0`` is
        optimal, given the gradient ``grad`` of the data term at the null model (``W = 0``,
        unpenalised entries fitted; the L2 part has zero gradient there). ``l1_min_c`` is
        ``l1_ratio / (S lambda_max)``.
        """
        g = grad[:, : self.n_features].abs().amax(dim=0)
        f = torch.ones_like(g) if self.factor is None else self.factor.to(g)
        pen = f > 0
        return float((g[pen] / f[pen]).max()) if bool(pen.any()) else 0.0


# ---------------------------------------------------------------------- registry
PENALTIES: dict[str | None, Callable] = {}


def register_penalty(kind: str | None):
    """Decorator: ``builder(*, C, l1_ratio, weight_sum, n_features, factor, box) -> penalty``
    becomes ``make_penalty(kind, ...)``."""

    def add(builder):
        PENALTIES[kind] = builder
        return builder

    return add


def _elastic_net(ratio_of):
    def build(*, C, l1_ratio, weight_sum, n_features, factor, box):
        scale = 1.0 / (float(C) * float(weight_sum))
        ratio = ratio_of(l1_ratio)
        return ElasticNetPenalty(ratio * scale, (1.0 - ratio) * scale, n_features, factor, box)

    return build


register_penalty("l2")(_elastic_net(lambda _: 0.0))
register_penalty("l1")(_elastic_net(lambda _: 1.0))
register_penalty("elasticnet")(_elastic_net(lambda r: r))


@register_penalty(None)
def _no_penalty(*, C, l1_ratio, weight_sum, n_features, factor, box):
    return ElasticNetPenalty(0.0, 0.0, n_features, factor, box)


def make_penalty(
    kind: str | None,
    *,
    C: float,
    l1_ratio: float | None,
    weight_sum: float,
    n_features: int,
    factor=None,
    dtype=None,
    device=None,
    lower_bounds=None,
    upper_bounds=None,
) -> ElasticNetPenalty:
    """The penalty of scikit-learn's objective ``C sum_i s_i loss_i + r(W)`` on the averaged
    objective (divided by ``C S``, ``S = sum_i s_i``): strengths ``l1 = rho / (C S)`` and
    ``l2 = (1 - rho) / (C S)`` with ``rho = 0`` for ``"l2"``, ``1`` for ``"l1"`` and
    ``l1_ratio`` for ``"elasticnet"``; ``kind=None`` gives no penalty (``C = inf``: strengths
    0). ``factor`` (shape ``(d,)``, finite, >= 0) multiplies each feature's terms.

    ``lower_bounds`` / ``upper_bounds``: a scalar or one value per feature (``-inf`` / ``+inf``
    allowed; the intercept is never bounded) constrain the weights to a box; ValueError when
    ``lower > upper`` anywhere (naming the feature). A penalty with a box is non-smooth: it
    needs a solver that declares ``bounds=True``.
    """
    try:
        builder = PENALTIES[kind]
    except KeyError:
        known = sorted(k for k in PENALTIES if k is not None)
        raise ValueError(f"unknown penalty {kind!r}; available: {known} or None") from None
    if factor is not None:
        factor = torch.as_tensor(factor, dtype=dtype, device=device)
    box = Box.from_bounds(lower_bounds, upper_bounds, n_features, dtype=dtype, device=device)
    return builder(
        C=C, l1_ratio=l1_ratio, weight_sum=weight_sum, n_features=n_features, factor=factor, box=box
    )

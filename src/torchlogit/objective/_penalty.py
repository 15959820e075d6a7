"""Penalties on the weights (never on the intercept).

A penalty works on the coefficient matrix ``coef`` of shape ``(m, p)`` whose last column is
the intercept when ``fit_intercept`` (then ``p = d + 1``). With per-feature factors ``f_j >= 0``
(1 when not given) the elastic-net family is

.. math::  r(w) = \\lambda_1 \\sum_j f_j |w_j| + \\frac{\\lambda_2}{2} \\sum_j f_j w_j^2

summed over the ``m`` rows. The smooth part (``lambda_2``) goes into value, gradient and
Hessian; the non-smooth part (``lambda_1``) is handled by proximal solvers through
:meth:`ElasticNetPenalty.prox`.

To add a penalty: give it ``smooth_value``, ``smooth_gradient``, ``smooth_hessian_diagonal``
(for the smooth part, zero when there is none), ``nonsmooth_value`` and ``prox``, and say in
``is_smooth`` whether solvers that need a smooth objective may take it.
"""

from __future__ import annotations

import torch


class ElasticNetPenalty:
    """``lambda_1 * sum f_j |w_j| + lambda_2 / 2 * sum f_j w_j^2`` on the non-intercept columns.

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
    """

    def __init__(self, l1: float, l2: float, n_features: int, factor: torch.Tensor | None = None):
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

    @property
    def is_smooth(self) -> bool:
        return self.l1 == 0.0

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

    def nonsmooth_value(self, coef: torch.Tensor) -> torch.Tensor:
        w = self._weights(coef)
        return self.l1 * (self._f(w) * w.abs()).sum()

    def value(self, coef: torch.Tensor) -> torch.Tensor:
        return self.smooth_value(coef) + self.nonsmooth_value(coef)

    def prox(self, coef: torch.Tensor, step: float) -> torch.Tensor:
        """``argmin_u  1/(2 step) ||u - coef||^2 + l1 sum f_j |u_j|`` (soft-thresholding).

        Only the non-smooth part: the smooth part belongs to the gradient step.
        """
        out = coef.clone()
        w = out[:, : self.n_features]
        thresh = step * self.l1 * self._f(w)
        out[:, : self.n_features] = torch.sign(w) * torch.clamp(w.abs() - thresh, min=0.0)
        return out

    def l1_thresholds(self, coef: torch.Tensor) -> torch.Tensor:
        """``l1 * f_j`` for every entry of ``coef`` (0 on the intercept column)."""
        t = torch.zeros_like(coef)
        t[:, : self.n_features] = self.l1 * self._f(coef)
        return t

    def optimality(self, coef: torch.Tensor, grad: torch.Tensor) -> torch.Tensor:
        """Per-entry distance of ``0`` to the subdifferential of ``f + r`` at ``coef``.

        ``grad`` is the gradient of the smooth part (data term plus ``lambda_2`` term). With
        ``t = lambda_1 f_j``: ``|g + t sign(w)|`` where ``w != 0`` and ``max(|g| - t, 0)`` where
        ``w = 0`` (the minimum-norm subgradient). Its maximum is the KKT violation: zero exactly
        at the minimiser.
        """
        if self.l1 == 0.0:
            return grad.abs()
        t = self.l1_thresholds(coef)
        at_zero = torch.clamp(grad.abs() - t, min=0.0)
        off_zero = (grad + t * torch.sign(coef)).abs()
        return torch.where(coef == 0, at_zero, off_zero)

    def unpenalized_mask(self, coef: torch.Tensor) -> torch.Tensor:
        """Boolean mask (shape of ``coef``) of entries with no penalty at all."""
        mask = torch.ones_like(coef, dtype=torch.bool)
        if self.l1 > 0 or self.l2 > 0:
            pen = torch.ones(self.n_features, dtype=torch.bool, device=coef.device)
            if self.factor is not None:
                pen = self.factor > 0
            mask[:, : self.n_features] = ~pen
        return mask


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
) -> ElasticNetPenalty:
    """The penalty of scikit-learn's objective ``C sum_i s_i loss_i + r(W)`` on the averaged
    objective (divided by ``C S``, ``S = sum_i s_i``): strengths ``l1 = rho / (C S)`` and
    ``l2 = (1 - rho) / (C S)`` with ``rho = 0`` for ``"l2"``, ``1`` for ``"l1"`` and
    ``l1_ratio`` for ``"elasticnet"``; ``kind=None`` or ``C = inf`` give no penalty.
    ``factor`` (shape ``(d,)``, finite, >= 0) multiplies each feature's terms.
    """
    if kind is None:
        l1 = l2 = 0.0
    else:
        scale = 1.0 / (float(C) * float(weight_sum))
        ratio = {"l2": 0.0, "l1": 1.0}.get(kind, l1_ratio)
        l1, l2 = ratio * scale, (1.0 - ratio) * scale
    if factor is not None:
        factor = torch.as_tensor(factor, dtype=dtype, device=device)
    return ElasticNetPenalty(l1, l2, n_features, factor=factor)

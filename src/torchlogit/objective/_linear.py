"""The linear model's objective: a loss on ``X @ W.T + b``, averaged with sample weights.

.. math::

    f(W, b) = \\frac{1}{S} \\sum_i s_i \\, \\ell(y_i, W x_i + b) + r_{smooth}(W),
    \\qquad S = \\sum_i s_i .

This is scikit-learn's objective ``C * sum_i s_i logloss_i + r(w)`` divided by ``C * S``: the
same minimiser, with values and gradients of order one whatever ``n`` and ``C`` are, so a
stopping tolerance means the same thing for every problem, device and dtype.

Coefficients are one tensor ``coef`` of shape ``(m, p)``: ``m = 1`` (binary) or ``K`` classes,
``p = d + 1`` with the intercept in the **last** column when ``fit_intercept`` (never
penalised), else ``p = d``. Hessians are ``(m p, m p)`` matrices over ``coef.reshape(-1)``.

The data come from ``data.batches()``, an iterable of :class:`~torchlogit.data.Batch`:
one batch for an in-memory fit, many for a stream. Sums over batches are passed through
``reduce`` (identity on one process; an all-reduce on many), so a solver never needs to know
where the rows live.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from ..data._design import (
    Batch,
    linear_predict,
    transpose_matmul,
    weighted_cross_gram,
    weighted_gram,
    weighted_square_sums,
)


def _identity(t: torch.Tensor) -> torch.Tensor:
    return t


class LinearObjective:
    """Value, gradient, Hessian and Hessian-vector products of the averaged objective.

    Parameters
    ----------
    loss : BinomialLoss or MultinomialLoss
    data : object with ``batches()`` (iterable of Batch) and ``weight_sum`` (``S``)
    penalty : ElasticNetPenalty; only its smooth part enters here
    fit_intercept : bool
    n_features : int
    reduce : callable, optional
        Applied to every per-process sum (a flat tensor) before it is used.
    """

    def __init__(
        self,
        loss,
        data,
        penalty,
        *,
        fit_intercept: bool,
        n_features: int,
        reduce: Callable[[torch.Tensor], torch.Tensor] | None = None,
    ):
        self.loss = loss
        self.data = data
        self.penalty = penalty
        self.fit_intercept = bool(fit_intercept)
        self.n_features = int(n_features)
        self.n_outputs = loss.n_outputs
        self.reduce = reduce or _identity
        self.n_evaluations = 0  # passes over the data, for diagnostics

    # ------------------------------------------------------------------ shapes
    @property
    def coef_shape(self) -> tuple[int, int]:
        return (self.n_outputs, self.n_features + int(self.fit_intercept))

    def split(self, coef: torch.Tensor):
        """``(W, b)``: weights ``(m, d)`` and intercept ``(m,)`` (zeros without one)."""
        W = coef[:, : self.n_features]
        if self.fit_intercept:
            return W, coef[:, self.n_features]
        return W, None

    def raw_prediction(self, X: torch.Tensor, coef: torch.Tensor) -> torch.Tensor:
        """``X @ W.T + b``, shape ``(n, m)``."""
        W, b = self.split(coef)
        raw = linear_predict(X, W)
        if b is not None:
            raw = raw + b
        return raw

    def _weight_sum(self) -> float:
        return float(self.data.weight_sum)

    def _grad_from_raw_grad(self, batch: Batch, G: torch.Tensor) -> torch.Tensor:
        """Gradient w.r.t. ``coef`` of ``sum_i G_i . raw_i``: ``[G.T X, G.T 1]``."""
        gW = transpose_matmul(batch.X, G)
        if self.fit_intercept:
            return torch.cat([gW, G.sum(dim=0).unsqueeze(1)], dim=1)
        return gW

    # ------------------------------------------------------------------ values
    def value(self, coef: torch.Tensor) -> torch.Tensor:
        """``f(coef)`` as a 0-d tensor on the compute device."""
        self.n_evaluations += 1
        total = torch.zeros((), dtype=coef.dtype, device=coef.device)
        for batch in self.data.batches():
            raw = self.raw_prediction(batch.X, coef)
            total = total + (batch.sample_weight * self.loss.loss(batch.y, raw)).sum()
        total = self.reduce(total.reshape(1))[0]
        return total / self._weight_sum() + self.penalty.smooth_value(coef)

    def value_gradient(self, coef: torch.Tensor):
        """``(f, grad)``; ``grad`` has the shape of ``coef``."""
        self.n_evaluations += 1
        S = self._weight_sum()
        acc = torch.zeros(coef.numel() + 1, dtype=coef.dtype, device=coef.device)
        for batch in self.data.batches():
            raw = self.raw_prediction(batch.X, coef)
            lo, G = self.loss.loss_gradient(batch.y, raw)
            sw = batch.sample_weight
            acc[0] += (sw * lo).sum()
            acc[1:] += self._grad_from_raw_grad(batch, G * sw.unsqueeze(1)).reshape(-1)
        acc = self.reduce(acc)
        f = acc[0] / S + self.penalty.smooth_value(coef)
        g = acc[1:].reshape(coef.shape) / S + self.penalty.smooth_gradient(coef)
        return f, g

    def value_gradient_hessian(self, coef: torch.Tensor):
        """``(f, grad, H)`` with the exact Hessian ``H`` of shape ``(m p, m p)``.

        Binary: ``H = X_a^T diag(s p (1-p) / S) X_a`` (``X_a = [X, 1]``). Multinomial: block
        ``(k, l)`` is ``X_a^T diag(s (p_k delta_kl - p_k p_l) / S) X_a``. Plus the smooth
        penalty's diagonal.
        """
        self.n_evaluations += 1
        S = self._weight_sum()
        m, p = self.coef_shape
        d = self.n_features
        n_par = m * p
        acc = torch.zeros(1 + n_par + n_par * n_par, dtype=coef.dtype, device=coef.device)
        for batch in self.data.batches():
            raw = self.raw_prediction(batch.X, coef)
            lo, G = self.loss.loss_gradient(batch.y, raw)
            sw = batch.sample_weight
            acc[0] += (sw * lo).sum()
            acc[1 : 1 + n_par] += self._grad_from_raw_grad(batch, G * sw.unsqueeze(1)).reshape(-1)
            H = acc[1 + n_par :].view(n_par, n_par)
            if m == 1:
                self._add_block(H, batch, sw * self.loss.hessian_diagonal(raw)[:, 0], 0, 0, p, d)
            else:
                P = torch.softmax(raw, dim=1)
                for k in range(m):
                    for l in range(k, m):
                        if k == l:
                            c = sw * P[:, k] * (1.0 - P[:, k])
                        else:
                            c = -sw * P[:, k] * P[:, l]
                        self._add_block(H, batch, c, k, l, p, d, psd=(k == l))
        acc = self.reduce(acc)
        f = acc[0] / S + self.penalty.smooth_value(coef)
        g = acc[1 : 1 + n_par].reshape(coef.shape) / S + self.penalty.smooth_gradient(coef)
        H = acc[1 + n_par :].view(n_par, n_par) / S
        H.diagonal().add_(self.penalty.smooth_hessian_diagonal(coef).reshape(-1))
        return f, g, H

    def _add_block(self, H, batch, c, k, l, p, d, psd=True):
        """Add ``X_a^T diag(c) X_a`` to block ``(k, l)`` (and its mirror) of ``H``."""
        X = batch.X
        gram = weighted_gram(X, c) if psd else weighted_cross_gram(X, c)
        rk, rl = k * p, l * p
        H[rk : rk + d, rl : rl + d] += gram
        if self.fit_intercept:
            xc = c @ X
            H[rk : rk + d, rl + d] += xc
            H[rk + d, rl : rl + d] += xc
            H[rk + d, rl + d] += c.sum()
        if k != l:
            H[rl : rl + p, rk : rk + p] = H[rk : rk + p, rl : rl + p].T

    def hessian_product(self, coef: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        """``H(coef) @ v`` for ``v`` shaped like ``coef`` (one pass, no ``(m p)^2`` matrix)."""
        self.n_evaluations += 1
        S = self._weight_sum()
        acc = torch.zeros(coef.numel(), dtype=coef.dtype, device=coef.device)
        for batch in self.data.batches():
            raw = self.raw_prediction(batch.X, coef)
            raw_v = self.raw_prediction(batch.X, v)
            hv = self.loss.hessian_product(raw, raw_v) * batch.sample_weight.unsqueeze(1)
            acc += self._grad_from_raw_grad(batch, hv).reshape(-1)
        acc = self.reduce(acc)
        return acc.reshape(coef.shape) / S + self.penalty.smooth_hessian_diagonal(coef) * v

    # ------------------------------------------------------------------ mini-batches
    def batch_value_gradient(self, coef: torch.Tensor, batch: Batch):
        """``(sum_b s_i l_i, sum_b s_i grad l_i)`` over one batch: no penalty, no ``1/S``.

        The pieces a stochastic solver scales into an estimate of the averaged objective's
        value and gradient (no ``reduce``: a mini-batch is local to its process).
        """
        raw = self.raw_prediction(batch.X, coef)
        lo, G = self.loss.loss_gradient(batch.y, raw)
        sw = batch.sample_weight
        return (sw * lo).sum(), self._grad_from_raw_grad(batch, G * sw.unsqueeze(1))

    def hessian_diagonal(self, coef: torch.Tensor) -> torch.Tensor:
        """The diagonal of ``H(coef)``, shaped like ``coef`` (one pass, for preconditioning).

        Entry ``(k, j)`` is ``sum_i s_i h_ik x_ij^2 / S`` plus the smooth penalty's, with
        ``h_ik = p_ik (1 - p_ik)`` (binary: ``p (1 - p)``); the intercept's is
        ``sum_i s_i h_ik / S``.
        """
        self.n_evaluations += 1
        S = self._weight_sum()
        acc = torch.zeros(coef.numel(), dtype=coef.dtype, device=coef.device)
        for batch in self.data.batches():
            raw = self.raw_prediction(batch.X, coef)
            if raw.shape[1] == 1:
                h = self.loss.hessian_diagonal(raw)
            else:
                P = torch.softmax(raw, dim=1)
                h = P * (1.0 - P)
            h = h * batch.sample_weight.unsqueeze(1)
            dW = weighted_square_sums(batch.X, h).T
            if self.fit_intercept:
                dW = torch.cat([dW, h.sum(dim=0).unsqueeze(1)], dim=1)
            acc += dW.reshape(-1)
        acc = self.reduce(acc)
        return acc.reshape(coef.shape) / S + self.penalty.smooth_hessian_diagonal(coef)

    def hessian_operator(self, coef: torch.Tensor):
        """``v -> H(coef) @ v`` with the logits at ``coef`` computed once (one pass now).

        Each call is then one pass with two products (``X v`` and ``X^T``) instead of the
        three of :meth:`hessian_product`; the price is keeping the ``(n, m)`` logits.
        """
        self.n_evaluations += 1
        S = self._weight_sum()
        batches = list(self.data.batches())
        raws = [self.raw_prediction(b.X, coef) for b in batches]
        pen_diag = self.penalty.smooth_hessian_diagonal(coef)

        def apply(v: torch.Tensor) -> torch.Tensor:
            self.n_evaluations += 1
            acc = torch.zeros(coef.numel(), dtype=coef.dtype, device=coef.device)
            for batch, raw in zip(batches, raws, strict=True):
                raw_v = self.raw_prediction(batch.X, v)
                hv = self.loss.hessian_product(raw, raw_v) * batch.sample_weight.unsqueeze(1)
                acc += self._grad_from_raw_grad(batch, hv).reshape(-1)
            acc = self.reduce(acc)
            return acc.reshape(coef.shape) / S + pen_diag * v

        return apply

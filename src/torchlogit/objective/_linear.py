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

With per-row offsets ``o_i`` (``batch.offset``, ``(n, m)``; None: zero) the raw prediction is
``X W^T + b + o``: every value, gradient, Hessian and line below is taken at it (the offset is
a constant, so derivatives w.r.t. ``coef`` keep their form).

The data come from ``data.batches()``, an iterable of :class:`~torchlogit.data.Batch`:
one batch for an in-memory fit, many for a stream. Sums over batches are passed through
``reduce`` (identity on one process; an all-reduce on many), so a solver never needs to know
where the rows live.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from ..data import (
    Batch,
    add_gram_block,
    iter_row_blocks,
    linear_predict,
    transpose_matmul,
    weighted_square_sums,
)
from ._points import Line, Point, hessian_dtype
from ._sampled_hessian import RowSampledHessian


def _identity(t: torch.Tensor) -> torch.Tensor:
    return t


#: With several outputs (multinomial), :meth:`LinearObjective.value` and
#: :meth:`~LinearObjective.value_gradient` work through each batch in blocks of rows with at
#: most this many raw-prediction entries (rows x classes; 2 MB in float64): their ``(n, K)``
#: temporaries (raw predictions, softmax, gradient) stay bounded however many classes, and
#: the chain of elementwise passes over a block runs in cache (K = 1,000 on 20,000 rows, one
#: thread: 0.21 s for a value and a gradient against 0.85 s unblocked). One output: no blocks.
BLOCK_ENTRIES = 1 << 18


class LinearObjective(RowSampledHessian):
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
        self.n_evaluations = 0  # evaluations of the objective, for diagnostics
        self.n_passes = 0.0  # products with the whole of X (a Gram on a sample counts its share)
        self._hessian_samples: dict = {}
        self._label_cache: dict = {}

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

    def batch_raw(self, batch: Batch, coef: torch.Tensor) -> torch.Tensor:
        """The raw prediction of a batch's rows: ``X W^T + b``, plus ``batch.offset`` if any."""
        raw = self.raw_prediction(batch.X, coef)
        if batch.offset is not None:
            raw = raw + batch.offset
        return raw

    def _labels(self, batch: Batch, dtype: torch.dtype | None = None) -> torch.Tensor:
        """``batch.y`` as the loss reads it: in the raw predictions' ``dtype`` (default X's)
        for the binomial loss (which would convert it on every call), converted once per
        batch and kept; class indices else."""
        if self.loss.is_multiclass:
            return batch.y
        return self._converted(batch, "y", batch.y, dtype or batch.X.dtype)

    def _weights(self, batch: Batch, dtype: torch.dtype) -> torch.Tensor:
        """``batch.sample_weight`` in ``dtype``: itself when the data are in it; else (float32
        data, float64 coefficients) converted once per batch and kept, so every sum over rows
        is taken in the coefficients' dtype."""
        sw = batch.sample_weight
        return sw if sw.dtype == dtype else self._converted(batch, "w", sw, dtype)

    def _converted(self, batch: Batch, what: str, t: torch.Tensor, dtype) -> torch.Tensor:
        key = (id(batch), what, dtype)
        cached = self._label_cache.get(key)
        if cached is None or cached[0] is not t:
            if len(self._label_cache) > 64:  # a stream of new batches: do not grow
                self._label_cache.clear()
            cached = self._label_cache[key] = (t, t.to(dtype))
        return cached[1]

    def _n_rows(self) -> int:
        n = getattr(self.data, "n_samples", None)
        return int(n) if n is not None else sum(b.n_samples for b in self.data.batches())

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
        self.n_passes += 1
        total = torch.zeros((), dtype=coef.dtype, device=coef.device)
        for batch in self._row_blocks():
            raw = self.batch_raw(batch, coef)
            sw = self._weights(batch, raw.dtype)
            total = total + (sw * self.loss.loss(batch.y, raw)).sum()
        total = self.reduce(total.reshape(1))[0]
        return total / self._weight_sum() + self.penalty.smooth_value(coef)

    def value_gradient(self, coef: torch.Tensor):
        """``(f, grad)``; ``grad`` has the shape of ``coef``."""
        self.n_evaluations += 1
        self.n_passes += 2
        S = self._weight_sum()
        acc = torch.zeros(coef.numel() + 1, dtype=coef.dtype, device=coef.device)
        for batch in self._row_blocks():
            raw = self.batch_raw(batch, coef)
            lo, G = self.loss.loss_gradient(batch.y, raw)
            sw = self._weights(batch, raw.dtype)
            acc[0] += (sw * lo).sum()
            acc[1:] += self._grad_from_raw_grad(batch, G * sw.unsqueeze(1)).reshape(-1)
        acc = self.reduce(acc)
        f = acc[0] / S + self.penalty.smooth_value(coef)
        g = acc[1:].reshape(coef.shape) / S + self.penalty.smooth_gradient(coef)
        return f, g

    def _row_blocks(self):
        """The rows of every batch, in blocks of at most :data:`BLOCK_ENTRIES` raw entries
        with several outputs (views, no copy of X); with one, the batches themselves."""
        if self.n_outputs == 1:
            yield from self.data.batches()
            return
        rows = max(1, BLOCK_ENTRIES // self.n_outputs)
        for batch in self.data.batches():
            yield from iter_row_blocks(batch, rows)

    def value_gradient_hessian(
        self, coef: torch.Tensor, *, row_fraction: float = 1.0, seed: int | None = None
    ):
        """``(f, grad, H)`` in one pass: the Hessian exact, or from a row sample.

        Binary: ``H = X_a^T diag(s p (1-p) / S) X_a`` (``X_a = [X, 1]``). Multinomial: block
        ``(k, l)`` is ``X_a^T diag(s (p_k delta_kl - p_k p_l) / S) X_a``. Plus the smooth
        penalty's diagonal. ``row_fraction < 1``: the data term from the kept row sample of
        :meth:`hessian` (the same rows, scaled by ``n_b / |sample_b|``), so a stream's pass
        costs its reading and two products instead of a Gram of every row; ``f`` and
        ``grad`` stay exact.

        ``H`` is in :func:`~torchlogit.objective.hessian_dtype` (float64 for float32 ``coef``:
        accumulated there from the float32 numbers), ``f`` and ``grad`` in ``coef``'s dtype.
        """
        self.n_evaluations += 1
        self.n_passes += 2  # X W^T and G^T X; the Hessian counts its own rows
        S = self._weight_sum()
        m, p = self.coef_shape
        n_par = m * p
        acc = torch.zeros(1 + n_par, dtype=coef.dtype, device=coef.device)
        hdt = hessian_dtype(coef.dtype, coef.device)
        H = torch.zeros(n_par, n_par, dtype=hdt, device=coef.device)
        for i, batch in enumerate(self.data.batches()):
            raw = self.batch_raw(batch, coef)
            lo, G = self.loss.loss_gradient(batch.y, raw)
            sw = self._weights(batch, raw.dtype)
            acc[0] += (sw * lo).sum()
            acc[1:] += self._grad_from_raw_grad(batch, G * sw.unsqueeze(1)).reshape(-1)
            self._add_batch_hessian(H, i, batch, raw, row_fraction, seed)
        acc = self.reduce(acc)
        f = acc[0] / S + self.penalty.smooth_value(coef)
        g = acc[1:].reshape(coef.shape) / S + self.penalty.smooth_gradient(coef)
        return f, g, self._finish_hessian(H, coef, row_fraction)

    #: ``value_gradient_hessian`` takes ``row_fraction`` / ``seed`` (see the solvers' adapter)
    samples_hessian = True

    def _add_data_hessian(self, H, batch: Batch, raw: torch.Tensor) -> None:
        """Add ``sum_i s_i X_a,i^T h_i X_a,i`` of ``batch`` to ``H`` (not yet divided by ``S``).

        Binary: ``h_i = p_i (1 - p_i)``; multinomial: block ``(k, l)`` has
        ``h_i = p_ik (delta_kl - p_il)``, built block by block (upper triangle, mirrored).
        The weights ``s_i h_i`` are computed in ``H``'s dtype (from ``raw`` converted to it),
        and the Gram accumulated there: float32 data give the float64 Hessian of their numbers.
        """
        _, p = self.coef_shape
        d = self.n_features
        raw = raw.to(H.dtype)
        sw = self._weights(batch, raw.dtype)
        for (k, l), h in self.loss.hessian_blocks(raw):
            add_gram_block(H, batch.X, sw * h, k, l, p, d, self.fit_intercept, psd=(k == l))

    def hessian_product(self, coef: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        """``H(coef) @ v`` for ``v`` shaped like ``coef`` (one pass, no ``(m p)^2`` matrix)."""
        self.n_evaluations += 1
        self.n_passes += 3
        S = self._weight_sum()
        acc = torch.zeros(coef.numel(), dtype=coef.dtype, device=coef.device)
        for batch in self.data.batches():
            raw = self.batch_raw(batch, coef)
            raw_v = self.raw_prediction(batch.X, v)
            hv = self.loss.hessian_product(raw, raw_v) * self._weights(batch, raw.dtype)[:, None]
            acc += self._grad_from_raw_grad(batch, hv).reshape(-1)
        acc = self.reduce(acc)
        return acc.reshape(coef.shape) / S + self.penalty.smooth_hessian_diagonal(coef) * v

    # ------------------------------------------------------------------ mini-batches
    def batch_value_gradient(self, coef: torch.Tensor, batch: Batch):
        """``(sum_b s_i l_i, sum_b s_i grad l_i)`` over one batch: no penalty, no ``1/S``.

        The pieces a stochastic solver scales into an estimate of the averaged objective's
        value and gradient (no ``reduce``: a mini-batch is local to its process).
        """
        raw = self.batch_raw(batch, coef)
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
            raw = self.batch_raw(batch, coef)
            h = self.loss.hessian_diagonal(raw) * self._weights(batch, raw.dtype).unsqueeze(1)
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
        # The batches are not kept: each call below iterates data.batches() again, so a stream's
        # memory stays bounded by its chunk (in memory, that is the same one batch).
        raws = [self.batch_raw(b, coef) for b in self.data.batches()]
        pen_diag = self.penalty.smooth_hessian_diagonal(coef)

        def apply(v: torch.Tensor) -> torch.Tensor:
            self.n_evaluations += 1
            acc = torch.zeros(coef.numel(), dtype=coef.dtype, device=coef.device)
            for batch, raw in zip(self.data.batches(), raws, strict=True):
                raw_v = self.raw_prediction(batch.X, v)
                hv = (
                    self.loss.hessian_product(raw, raw_v) * self._weights(batch, raw.dtype)[:, None]
                )
                acc += self._grad_from_raw_grad(batch, hv).reshape(-1)
            acc = self.reduce(acc)
            return acc.reshape(coef.shape) / S + pen_diag * v

        return apply

    # ------------------------------------------------------------------ reusable raw predictions
    def point(self, coef: torch.Tensor) -> Point:
        """Value, gradient and raw predictions at ``coef`` (two passes: ``X W^T``, ``G^T X``).

        At ``W = 0`` (the usual start) the raw predictions are the intercepts: one pass.
        """
        W, b = self.split(coef)
        zero = not bool(W.any())
        raws = []
        for batch in self.data.batches():
            if zero:
                raw = torch.zeros(batch.n_samples, W.shape[0], dtype=coef.dtype, device=coef.device)
                if batch.offset is not None:
                    raw = raw + batch.offset
                raws.append(raw + b if b is not None else raw)
            else:
                raws.append(self.batch_raw(batch, coef))
        self.n_passes += 0 if zero else 1
        return self._point_from_raw(coef, raws)

    def _point_from_raw(self, coef: torch.Tensor, raws: list, data_term=None) -> Point:
        """Value and gradient from the raw predictions; ``data_term``: the known loss sum."""
        self.n_evaluations += 1
        self.n_passes += 1
        acc = torch.zeros(coef.numel() + 1, dtype=coef.dtype, device=coef.device)
        for batch, raw in zip(self.data.batches(), raws, strict=True):
            sw = self._weights(batch, raw.dtype)
            y = self._labels(batch, raw.dtype)
            if data_term is None:
                lo, G = self.loss.loss_gradient(y, raw)
                acc[0] += torch.dot(sw, lo)
            else:
                G = self.loss.gradient(y, raw)
            acc[1:] += self._grad_from_raw_grad(batch, G * sw.unsqueeze(1)).reshape(-1)
        acc = self.reduce(acc)
        if data_term is not None:
            acc[0] = data_term
        S = self._weight_sum()
        f = acc[0] / S + self.penalty.smooth_value(coef)
        g = acc[1:].reshape(coef.shape) / S + self.penalty.smooth_gradient(coef)
        return Point(coef, f, g, raws)

    def line(self, point: Point, direction: torch.Tensor) -> Line:
        """The objective along ``point.coef + t direction`` (one pass: ``X d``)."""
        W, b = self.split(direction)
        raw_dir = []
        for batch in self.data.batches():
            rd = linear_predict(batch.X, W)
            raw_dir.append(rd + b if b is not None else rd)
        self.n_passes += 1
        return Line(self, point, direction, raw_dir)

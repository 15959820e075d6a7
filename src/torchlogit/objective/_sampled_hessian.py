"""The Hessian at a kept point, exact or from a fixed row sample (a mixin of
:class:`~torchlogit.objective.LinearObjective`).

``X_a = [X, 1]`` with an intercept. The data term of the Hessian is ``X_a^T diag(s h) X_a / S``
with the loss's curvature ``h`` at the point's raw predictions (``X W^T + b + offset``, kept
by the :class:`~torchlogit.objective.Point`), so no product ``X W^T`` is needed. A uniform
row sample (drawn once, seeded, kept) scaled by ``n_b / |sample_b|`` gives an unbiased
estimate at a fraction of the cost; :meth:`row_sample` is the objective restricted to it.

Seeds: batch ``b`` keeps row ``i`` when ``u_i < fraction`` for ``u`` uniform from a torch
generator seeded with ``b`` (``seed=None``: what every fit did before ``random_state`` reached
Newton) or with :func:`sample_seed` ``(seed, b)``: one independent stream per batch, a
different sample for a different ``seed``. The gradient is exact either way, so the minimiser
does not depend on the sample.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass

import numpy as np
import torch

from ..data import Batch, weighted_gram
from ._points import BatchList, Point, hessian_dtype


@dataclass
class _KeptSample:
    """A batch's row sample: indices and scale ``n_b / |rows|``; its gathered rows
    ``X_a[rows]`` once the same ``X`` (``seen``, a weak reference) came back."""

    rows: torch.Tensor
    scale: float
    X_rows: torch.Tensor | None = None
    seen: weakref.ref | None = None


class RowSampledHessian:
    """``hessian(point, row_fraction=)`` and ``row_sample(fraction)`` for the linear objective
    (uses its ``data``, ``loss``, ``penalty``, ``coef_shape``, ``_add_data_hessian``)."""

    def hessian(
        self, point: Point, *, row_fraction: float = 1.0, seed: int | None = None
    ) -> torch.Tensor:
        """The Hessian at ``point`` (``(m p, m p)``) from its raw predictions: no ``X W^T``.

        ``row_fraction < 1`` builds the data term from a fixed uniform sample of about that
        share of each batch's rows (drawn once, seeded, and kept), scaled by
        ``n_b / |sample_b|``: an unbiased estimate of ``X^T D X`` at a fraction of the cost,
        in :func:`hessian_dtype` (float64 for float32 data: float32 rounding over tens of
        thousands of rows, ~1e-5 relative, would swamp the curvature that only the penalty
        gives along redundant features, and the factorisation would need damping). The
        penalty's diagonal is exact. With the exact gradient, a Newton iteration on this
        Hessian still converges to the exact minimiser (linearly, at a rate set by the
        sample's relative error). ``seed`` chooses the sample (see the module docstring).
        """
        self.n_evaluations += 1
        m, p = self.coef_shape
        coef = point.coef
        H = torch.zeros(
            m * p, m * p, dtype=hessian_dtype(coef.dtype, coef.device), device=coef.device
        )
        for i, (batch, raw) in enumerate(zip(self.data.batches(), point.raw, strict=True)):
            self._add_batch_hessian(H, i, batch, raw, row_fraction, seed)
        return self._finish_hessian(H, coef, row_fraction)

    def _add_batch_hessian(self, H, index: int, batch: Batch, raw, row_fraction: float, seed):
        """Add batch ``index``'s data Hessian (exact, or from its kept row sample) to ``H``."""
        m, p = self.coef_shape
        if row_fraction < 1.0 and _is_dense(batch.X):
            self._add_sampled_hessian(H, index, batch, raw, row_fraction, seed)
        elif m > 1 and _is_dense(batch.X) and batch.n_samples * m * p <= _ONE_PRODUCT_MAX:
            # all rows through the one-product Laplacian form (see _add_sampled_hessian)
            self._add_sampled_hessian(H, index, batch, raw, 1.0)
        else:
            self.n_passes += batch.n_samples / max(self._n_rows(), 1)
            self._add_data_hessian(H, batch, raw)

    def _finish_hessian(self, H, coef, row_fraction: float) -> torch.Tensor:
        """The summed data Hessians ``H`` (every batch added) reduced over ranks, divided by
        ``S``, plus the smooth penalty's diagonal."""
        m, p = self.coef_shape
        n_par = m * p
        if row_fraction < 1.0 or m > 1:  # products leave diagonal blocks off by rounding
            H = 0.5 * (H + H.T)
        H = self.reduce(H.reshape(-1)).view(n_par, n_par) / self._weight_sum()
        H.diagonal().add_(self.penalty.smooth_hessian_diagonal(coef.to(H.dtype)).reshape(-1))
        return H

    def _hessian_sample(self, index: int, batch: Batch, fraction: float, seed=None):
        """``(rows, X_a[rows], n_b / |rows|)``, drawn once (per ``seed``) and kept.

        ``X_a = [X, 1]`` with an intercept: the Gram then holds the intercept's row too. The
        row indices are kept for every batch; the gathered rows only once the same ``X``
        comes back (data in memory), so a stream, whose every pass brings new chunks, keeps
        indices alone (8 bytes a sampled row) and gathers its rows again in each pass.
        """
        n = batch.n_samples
        key = (index, float(fraction), seed)
        cached = self._hessian_samples.get(key)
        if cached is None:
            for old in [k for k in self._hessian_samples if k[1:] != key[1:]]:
                del self._hessian_samples[old]  # keep one sample's copy at a time
            gen = torch.Generator(device="cpu").manual_seed(sample_seed(seed, index))
            keep = torch.rand(n, generator=gen) < fraction
            if not bool(keep.any()):
                keep[0] = True
            rows = torch.nonzero(keep)[:, 0].to(batch.X.device)
            cached = self._hessian_samples[key] = _KeptSample(rows, n / rows.shape[0])
        Xs = cached.X_rows
        if Xs is None or cached.seen is None or cached.seen() is not batch.X:
            Xs = batch.X[cached.rows]
            if self.fit_intercept:
                Xs = torch.cat([Xs, torch.ones_like(Xs[:, :1])], dim=1)
            again = cached.seen is not None and cached.seen() is batch.X
            cached.X_rows, cached.seen = (Xs if again else None), weakref.ref(batch.X)
        return cached.rows, Xs, cached.scale

    def row_sample(self, fraction: float, seed: int | None = None):
        """The same objective on the kept row sample of :meth:`hessian` for ``seed`` (its
        own ``S``).

        Its minimiser is a cheap, statistically close start for the full problem; its exact
        Hessian is the sampled Hessian of this objective (up to the weight normalisation).
        ``n_passes`` of the returned objective count passes over the sample.
        """
        batches = []
        for i, batch in enumerate(self.data.batches()):
            rows, _, _ = self._hessian_sample(i, batch, fraction, seed)
            offset = None if batch.offset is None else batch.offset[rows]
            batches.append(Batch(batch.X[rows], batch.y[rows], batch.sample_weight[rows], offset))
        return type(self)(
            self.loss,
            BatchList(batches),
            self.penalty,
            fit_intercept=self.fit_intercept,
            n_features=self.n_features,
            reduce=self.reduce,
        )

    def _add_sampled_hessian(
        self, H, index: int, batch: Batch, raw, fraction: float, seed=None
    ) -> None:
        """Add the rescaled data Hessian of the kept row sample of ``batch`` to ``H``."""
        if fraction >= 1.0:
            rows = torch.arange(batch.n_samples, device=batch.X.device)
            Xa = batch.X
            if self.fit_intercept:
                Xa = torch.cat([Xa, torch.ones_like(Xa[:, :1])], dim=1)
            scale = 1.0
        else:
            rows, Xa, scale = self._hessian_sample(index, batch, fraction, seed)
        self.n_passes += rows.shape[0] / max(self._n_rows(), 1)
        m = raw.shape[1]
        p = Xa.shape[1]
        # Curvature weights in H's dtype; float32 rows are multiplied in it (exact products)
        r = raw[rows].to(H.dtype)
        w = batch.sample_weight[rows].to(H.dtype) * scale
        if m == 1:
            c = w * self.loss.hessian_diagonal(r)[:, 0]
            if Xa.dtype != H.dtype:  # float32 rows: float64 panels in cache
                H += weighted_gram(Xa, c)
                return
            Xw = Xa * c.sqrt().unsqueeze(1)
            H += Xw.T @ Xw
            return
        Xa = Xa.to(H.dtype)
        # Multinomial: with A_kl = X_a^T diag(w P_k P_l) X_a = U_k^T U_l (U_k = sqrt(w) P_k X_a),
        # the data Hessian is -A_kl off the diagonal and sum_{l != k} A_kl on it (sum_l P_l
        # = 1): the softmax's null space (1, ..., 1) (x) v stays exact whatever the rounding.
        P = self.loss.predict_proba(r)
        U = (Xa.unsqueeze(1) * (w.sqrt().unsqueeze(1) * P).unsqueeze(2)).reshape(-1, m * p)
        A = torch.zeros(m * p, m * p, dtype=H.dtype, device=H.device)
        for k in range(m - 1):  # blocks l > k, one product per row of blocks
            A[k * p : (k + 1) * p, (k + 1) * p :] = (
                U[:, k * p : (k + 1) * p].T @ U[:, (k + 1) * p :]
            )
        A = A + A.T
        for k in range(m):
            rk = slice(k * p, (k + 1) * p)
            H[rk, :] -= A[rk, :]
            H[rk, rk] += A[rk, :].reshape(p, m, p).sum(dim=1)


def sample_seed(seed: int | None, index: int) -> int:
    """The generator seed of batch ``index``'s row sample: ``index`` when ``seed`` is None,
    else a 63-bit seed from NumPy's ``SeedSequence((seed, index))`` (independent streams for
    distinct pairs, whatever their size or sign)."""
    if seed is None:
        return index
    entropy = (int(seed) % 2**64, index)
    return int(np.random.SeedSequence(entropy).generate_state(1, np.uint64)[0] >> np.uint64(1))


# Multinomial exact Hessians take the one-product form while (n m p) stays below this.
_ONE_PRODUCT_MAX = 20_000_000


def _is_dense(X) -> bool:
    """A strided torch tensor: rows can be gathered for the sampled Hessian (sparse: exact)."""
    return isinstance(X, torch.Tensor) and X.layout == torch.strided

"""The design matrix operations every objective needs, and the ``Batch`` they run on.

A batch's ``X`` is a 2-D dense ``torch.Tensor`` of shape ``(n, d)`` or a
:class:`~torchlogit.data._sparse.SparseDesign` (sparse CSR, never densified); each product
below dispatches on it. Nothing above this module touches ``X`` directly.

Mixed precision: the other operand (weights, ``G``, ``c``) may be in a wider dtype than ``X``
(float64 coefficients over float32 data): the product then reads ``X`` in its own dtype and
returns the operand's, with the error bounds of :mod:`._kernels`. When every operand has X's
dtype the plain torch products below run, except the dense Grams, which go through row
panels in cache in either case (no ``(n, d)`` scaled copy of X).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ._kernels import (
    mixed_predict,
    mixed_square_sums,
    mixed_transpose_matmul,
    mixed_weighted_sums,
    panel_weighted_gram,
    panel_weighted_grams,
)
from ._sparse import SparseDesign


@dataclass(frozen=True)
class Batch:
    """Rows of the training data on the compute device.

    Shape:
        - ``X``: ``(n, d)``, float32 or float64
        - ``y``: ``(n,)`` int64 class indices in ``[0, K)``
        - ``sample_weight``: ``(n,)`` same dtype as ``X`` (class weights already folded in)
        - ``offset``: ``None``, or ``(n, m)`` same dtype as ``X``: a fixed term added to the
          raw prediction ``X W^T + b`` (``m = 1`` for two classes, ``K`` for more)
    """

    X: torch.Tensor | SparseDesign
    y: torch.Tensor
    sample_weight: torch.Tensor
    offset: torch.Tensor | None = None

    @property
    def n_samples(self) -> int:
        return self.X.shape[0]


def _wider(X, t: torch.Tensor) -> bool:
    """The operand ``t`` is in another dtype than ``X``: the mixed precision products."""
    return t.dtype != X.dtype


def linear_predict(X: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """``X @ weights.T``: ``(n, d) x (m, d) -> (n, m)``, in ``weights``' dtype."""
    if isinstance(X, SparseDesign):
        if _wider(X, weights):  # float32 arithmetic (no row panels of a CSR)
            return X.matmul(weights.to(X.dtype).T).to(weights.dtype)
        return X.matmul(weights.T)
    if _wider(X, weights):
        return mixed_predict(X, weights)
    return X @ weights.T


def transpose_matmul(X: torch.Tensor, G: torch.Tensor) -> torch.Tensor:
    """``(X.T @ G).T``: ``(n, d) x (n, m) -> (m, d)``, in ``G``'s dtype."""
    if _wider(X, G):
        if isinstance(X, SparseDesign):  # float32 accumulation (no row panels of a CSR)
            return X.rmatmul(G.to(X.dtype)).T.to(G.dtype)
        return mixed_transpose_matmul(X, G)
    if isinstance(X, SparseDesign):
        return X.rmatmul(G).T
    return G.T @ X


def _sparse_gram(X: SparseDesign, c: torch.Tensor) -> torch.Tensor:
    """The sparse Gram in ``c``'s dtype; for a wider ``c`` on the values converted to it (the
    products of float32 values are exact in float64, the sums float64's: a Hessian)."""
    return X.to(c.dtype).weighted_gram(c)


def weighted_gram(X: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
    """``X.T @ diag(c) @ X`` for ``c >= 0``, ``(d, d)``, symmetric, in ``c``'s dtype."""
    if isinstance(X, SparseDesign):
        return _sparse_gram(X, c)
    return panel_weighted_gram(X, c, psd=True)


def weighted_cross_gram(X: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
    """``X.T @ diag(c) @ X`` for ``c`` of any sign, ``(d, d)``, in ``c``'s dtype."""
    if isinstance(X, SparseDesign):
        return _sparse_gram(X, c)
    return panel_weighted_gram(X, c, psd=False)


def add_gram_block(H, X, c, k: int, l: int, p: int, d: int, fit_intercept: bool, *, psd=True):
    """``H[block (k, l)] += A^T diag(c) A`` with ``A = [X, 1]`` (``[X]`` without intercept),
    blocks of size ``p = d + fit_intercept`` (intercept last), and its mirror ``(l, k)``.

    ``psd``: ``c >= 0`` (:func:`weighted_gram`, symmetric by construction), else
    :func:`weighted_cross_gram`. The block layout of the Hessian and of the information and
    meat matrices of inference. A ``c`` (and ``H``) wider than ``X`` (float64 over float32
    data) accumulates every sum in ``c``'s dtype, dense or sparse.
    """
    if isinstance(X, SparseDesign):  # a wider c: the values converted once for both sums
        X = X.to(c.dtype)
        gram = weighted_gram(X, c) if psd else weighted_cross_gram(X, c)
        xc = _weighted_sums(X, c) if fit_intercept else None
    elif fit_intercept:  # the intercept row from the Gram's panels (one read of X for both)
        gram, xc = panel_weighted_gram(X, c, psd=psd, with_sums=True)
    else:
        gram = panel_weighted_gram(X, c, psd=psd)
    rk, rl = k * p, l * p
    H[rk : rk + d, rl : rl + d] += gram
    if fit_intercept:
        H[rk : rk + d, rl + d] += xc
        H[rk + d, rl : rl + d] += xc
        H[rk + d, rl + d] += c.sum()
    if k != l:
        H[rl : rl + p, rk : rk + p] = H[rk : rk + p, rl : rl + p].T


def weighted_grams(X, C: torch.Tensor, fit_intercept: bool) -> torch.Tensor:
    """``(r, p, p)``: ``A^T diag(C[:, k]) A`` for each column of ``C`` ``(n, r)`` (any sign),
    ``A = [X, 1]`` with ``fit_intercept`` (intercept last, ``p = d + 1``) else ``X``, in
    ``C``'s dtype, symmetric. Dense: one read of ``X`` and one product per row panel for
    all ``r`` (:func:`~._kernels.panel_weighted_grams`); sparse: one Gram per column."""
    if not isinstance(X, SparseDesign):
        return panel_weighted_grams(X, C, intercept=fit_intercept)
    X = X.to(C.dtype)
    d = X.shape[1]
    p = d + int(fit_intercept)
    out = torch.zeros(C.shape[1], p, p, dtype=C.dtype, device=C.device)
    for k in range(C.shape[1]):
        c = C[:, k].contiguous()
        out[k, :d, :d] = _sparse_gram(X, c)
        if fit_intercept:
            xc = _weighted_sums(X, c)
            out[k, :d, d], out[k, d, :d], out[k, d, d] = xc, xc, c.sum()
    return out


def _weighted_sums(X, c: torch.Tensor) -> torch.Tensor:
    """``c @ X``, ``(d,)``, in ``c``'s dtype."""
    if not _wider(X, c):
        return c @ X
    if isinstance(X, SparseDesign):
        return transpose_matmul(X, c.unsqueeze(1))[0]
    return mixed_weighted_sums(X, c)


def weighted_square_sums(X, C: torch.Tensor) -> torch.Tensor:
    """``(X * X).T @ C``: ``(n, d) x (n, m) -> (d, m)``; the diagonals of ``X.T diag(c) X``.

    Dense ``X`` is squared one block of rows at a time (bounded extra memory).
    """
    if isinstance(X, SparseDesign):
        return X.weighted_square_sums(C.to(X.dtype)).to(C.dtype)
    if _wider(X, C):
        return mixed_square_sums(X, C)
    out = torch.zeros(X.shape[1], C.shape[1], dtype=C.dtype, device=C.device)
    block = max(1, (1 << 24) // max(X.shape[1], 1))
    for start in range(0, X.shape[0], block):
        Xb = X[start : start + block]
        out += (Xb * Xb).T @ C[start : start + block]
    return out


def row_square_norms(X) -> torch.Tensor:
    """``||x_i||^2`` for every row: ``(n, d) -> (n,)``."""
    if isinstance(X, SparseDesign):
        return X.row_square_norms()
    return (X * X).sum(dim=1)


def iter_row_blocks(batch: Batch, block_rows: int):
    """Yield views of ``batch`` with at most ``block_rows`` rows (no copy of X)."""
    n = batch.n_samples
    if n <= block_rows:
        yield batch
        return
    for start in range(0, n, block_rows):
        stop = min(start + block_rows, n)
        offset = None if batch.offset is None else batch.offset[start:stop]
        yield Batch(
            batch.X[start:stop], batch.y[start:stop], batch.sample_weight[start:stop], offset
        )

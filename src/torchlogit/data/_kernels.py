"""Mixed precision products: low-precision ``X`` (float32), high-precision operands (float64).

float32 data halve the bytes every pass reads; the solver's state (coefficients, gradient,
Hessian, objective value) stays in float64, so the stopping test, the line search and the
Newton solve keep float64's resolution. Each product below reads ``X`` in its own dtype and
returns the operand's dtype. With ``u = 2^-24`` (float32's unit roundoff):

- ``X W^T`` (:func:`mixed_predict`): ``W = W_hi + W_lo`` with ``W_hi = fl32(W)``,
  ``W_lo = fl32(W - W_hi)``, so ``|W - W_hi - W_lo| <= u^2 |W|``: the coefficients are *not*
  rounded to float32 (which would move the point the objective is evaluated at by ``u |W|``,
  a systematic gradient error ``~ u ||H|| |W|`` the solver could not get below). Both halves
  go through one product ``[W_hi; W_lo] X^T`` (one read of X); what remains is float32's
  rounding of each row's ``d``-term sum, ``<= d u sum_j |x_ij w_j|``, independent from row to
  row, which averages out of every sum over rows.
- ``X^T G`` (:func:`mixed_transpose_matmul`): ``fl32(G)`` times ``X`` one panel of
  :data:`PANEL_ROWS` rows at a time, the panels' results added in float64: the float32
  accumulation error is bounded by a panel's length, not ``n``. (``G``'s own rounding is
  per row and uncorrelated with ``X``: ``u |G|`` that averages out like the above.)
- ``X^T diag(c) X`` (:func:`mixed_weighted_gram`): each panel converted to float64 (a panel
  stays in cache) and multiplied there. The products ``x_ij x_ik`` of float32 numbers are
  exact in float64, so the Gram is as accurate as one of float64 data: the curvature that only
  the penalty gives along redundant features (``~ 1 / (C S)``) is far above its rounding.
- ``c^T X`` (:func:`mixed_weighted_sums`, the Hessian's intercept row) and ``(X * X)^T C``
  (:func:`mixed_square_sums`): the same, per panel in float64.

The uniform case (every operand in X's dtype) does not come here: :mod:`._design` keeps its
plain products for it.
"""

from __future__ import annotations

import torch

__all__ = [
    "PANEL_ROWS",
    "mixed_predict",
    "mixed_square_sums",
    "mixed_transpose_matmul",
    "mixed_weighted_gram",
    "mixed_weighted_sums",
]

#: Rows per panel converted to float64 for a Gram (100 columns: 6.5 MB, within L2 + L3).
GRAM_PANEL_ROWS = 8192

#: Rows of X per panel of ``X^T G`` (float32, 100 columns: 6.5 MB). The float32 rounding
#: of a panel's sums grows like ``u sqrt(PANEL_ROWS)`` (random) and is then averaged over
#: the panels: with 1e6 rows, ~3e-9 absolute on a gradient whose rows' terms are of order
#: one; smaller panels cost a parallel region each.
PANEL_ROWS = 16384


def _panels(n: int, rows: int = PANEL_ROWS):
    for start in range(0, n, rows):
        yield start, min(start + rows, n)


def mixed_predict(X, weights: torch.Tensor, product) -> torch.Tensor:
    """``X @ weights.T`` in ``weights``' dtype, X read once in its own: ``(n, d) x (m, d)``.

    ``product(X, B)`` computes ``(B @ X.T)``, ``(k, n)``, for ``B`` in X's dtype (dense or
    sparse).
    """
    m = weights.shape[0]
    hi = weights.to(X.dtype)
    lo = (weights - hi.to(weights.dtype)).to(X.dtype)
    both = product(X, torch.cat([hi, lo], dim=0))  # (2m, n)
    raw = both[:m].to(weights.dtype)
    raw += both[m:]
    return raw.T if m == 1 else raw.T.contiguous()


def mixed_transpose_matmul(X, G: torch.Tensor, product) -> torch.Tensor:
    """``(X.T @ G).T`` in ``G``'s dtype: ``(n, d) x (n, m) -> (m, d)``, float64 across panels.

    ``product(X_panel, G_panel)`` computes ``(X_panel.T @ G_panel).T`` in X's dtype.
    """
    out = torch.zeros(G.shape[1], X.shape[1], dtype=G.dtype, device=G.device)
    Gl = G.to(X.dtype)
    for a, b in _panels(X.shape[0]):
        out += product(X[a:b], Gl[a:b]).to(G.dtype)
    return out


def _float64_panels(X: torch.Tensor, dtype: torch.dtype):
    """``(a, b, X[a:b] in dtype)`` for panels of :data:`GRAM_PANEL_ROWS` rows, converted into
    one buffer reused from panel to panel (no allocation, no page faults; it stays in cache)."""
    rows = min(GRAM_PANEL_ROWS, X.shape[0])
    buf = torch.empty(rows, X.shape[1], dtype=dtype, device=X.device)
    for a, b in _panels(X.shape[0], rows or 1):
        Xp = buf[: b - a]
        Xp.copy_(X[a:b])
        yield a, b, Xp


def mixed_weighted_gram(X: torch.Tensor, c: torch.Tensor, *, psd: bool) -> torch.Tensor:
    """``X.T @ diag(c) @ X`` in ``c``'s dtype, dense ``X`` converted one panel at a time.

    ``psd`` (``c >= 0``): ``Xs^T Xs`` with ``Xs = diag(sqrt(c)) X`` (symmetric by
    construction); else ``X^T (diag(c) X)``.
    """
    d = X.shape[1]
    out = torch.zeros(d, d, dtype=c.dtype, device=c.device)
    root = c.sqrt() if psd else None
    for a, b, Xp in _float64_panels(X, c.dtype):
        if psd:
            Xs = Xp.mul_(root[a:b].unsqueeze(1))
            out.addmm_(Xs.T, Xs)
        else:
            out.addmm_(Xp.T, Xp * c[a:b].unsqueeze(1))
    return out


def mixed_weighted_sums(X: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
    """``c @ X`` in ``c``'s dtype, per panel in float64 (the Hessian's intercept row, as
    accurate as the Gram beside it): ``(n,) x (n, d) -> (d,)``."""
    out = torch.zeros(X.shape[1], dtype=c.dtype, device=c.device)
    for a, b, Xp in _float64_panels(X, c.dtype):
        out.addmv_(Xp.T, c[a:b])
    return out


def mixed_square_sums(X: torch.Tensor, C: torch.Tensor) -> torch.Tensor:
    """``(X * X).T @ C`` in ``C``'s dtype: ``(n, d) x (n, m) -> (d, m)``, per panel."""
    out = torch.zeros(X.shape[1], C.shape[1], dtype=C.dtype, device=C.device)
    for a, b, Xp in _float64_panels(X, C.dtype):
        out.addmm_(Xp.mul_(Xp).T, C[a:b])
    return out

"""Mixed precision products: low-precision ``X`` (float32), high-precision operands (float64).

float32 data halve the bytes every pass reads; the solver's state (coefficients, gradient,
Hessian, objective value) stays in float64, so the stopping test, the line search and the
Newton solve keep float64's resolution. Each product below reads ``X`` in its own dtype and
returns the operand's dtype. With ``u = 2^-24`` (float32's unit roundoff):

- ``X W^T`` (:func:`mixed_predict`) and ``X^T G`` (:func:`mixed_transpose_matmul`): each
  small panel of X converted to float64 (in L2) and multiplied there: exact products,
  float64 sums. float32 arithmetic does not do. Near the optimum the directions lie largely
  along redundant features, where ``x_i . d`` cancels to far below ``sum_j |x_ij d_j|``; the
  gradient's sums over rows cancel likewise. Their float32 rounding (``~ u sum |terms|``,
  even summed in float64 over panels of 16,384 rows) is then of the size of what the float64
  line search and stopping test resolve: B1 at n = 200,000 stalled at ``max|grad| = 5e-6``
  (tol 1e-6) with either product in float32, and took float64's 10 Newton iterations with
  both converted. So these products cost, on one thread, what float64 ones do; what float32
  data save is half the memory and half the bytes each pass reads from DRAM.
- ``X^T diag(c) X`` (:func:`panel_weighted_gram`): each panel converted to float64 (a panel
  stays in cache) and multiplied there. The products ``x_ij x_ik`` of float32 numbers are
  exact in float64, so the Gram is as accurate as one of float64 data: the curvature that only
  the penalty gives along redundant features (``~ 1 / (C S)``) is far above its rounding.
- ``c^T X`` (:func:`mixed_weighted_sums`, the Hessian's intercept row) and ``(X * X)^T C``
  (:func:`mixed_square_sums`): the same, per panel in float64.

The uniform case (every operand in X's dtype) does not come here: :mod:`._design` keeps its
plain products for it.

Sparse (CSR) Grams and products are in :mod:`._sparse_kernels`.
"""

from __future__ import annotations

import torch

__all__ = [
    "DEVICE_PANEL_BYTES",
    "GRAM_PANEL_ROWS",
    "PREDICT_PANEL_ROWS",
    "mixed_predict",
    "mixed_square_sums",
    "mixed_transpose_matmul",
    "mixed_weighted_sums",
    "panel_rows",
    "panel_weighted_gram",
    "panel_weighted_grams",
]

#: Rows per panel converted to float64 for ``X W^T`` and ``X^T G`` (100 columns: 800 kB,
#: within L2: on one thread of the benchmark CPU as fast as the float64 product, 32 vs 31 ms
#: for 500,000 rows; 8,192-row panels took 53 ms).
PREDICT_PANEL_ROWS = 1024

#: Rows per panel converted to float64 for a Gram (100 columns: 6.5 MB, within L2 + L3).
GRAM_PANEL_ROWS = 8192


#: On an accelerator the panels are sized by bytes instead: each panel costs a few kernel
#: launches (~5-10 us each), so CPU-cache-sized panels would leave the device idle between
#: launches (20,000,000 rows in 1,024-row panels: ~40,000 launches, far longer than the
#: milliseconds one read of X takes at HBM bandwidth). 256 MiB of float64 panel: ~260,000
#: rows of 128 columns, a few dozen launches per pass, and negligible beside device memory.
DEVICE_PANEL_BYTES = 2**28


def panel_rows(X: torch.Tensor, rows: int) -> int:
    """Rows per converted panel of ``X``: ``rows`` (cache-sized) on the CPU; on another device
    (CUDA) at least :data:`DEVICE_PANEL_BYTES` of float64 panel."""
    if X.device.type == "cpu":
        return rows
    return max(rows, DEVICE_PANEL_BYTES // (8 * max(1, X.shape[1])))


def _panels(n: int, rows: int):
    for start in range(0, n, rows):
        yield start, min(start + rows, n)


def mixed_predict(X: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """``X @ weights.T`` in ``weights``' dtype: ``(n, d) x (m, d) -> (n, m)``, dense ``X``
    converted one small panel at a time (:data:`PREDICT_PANEL_ROWS`, stays in L2)."""
    out = torch.empty(X.shape[0], weights.shape[0], dtype=weights.dtype, device=weights.device)
    for a, b, Xp in _float64_panels(X, weights.dtype, PREDICT_PANEL_ROWS):
        torch.mm(Xp, weights.T, out=out[a:b])
    return out


def mixed_transpose_matmul(X: torch.Tensor, G: torch.Tensor) -> torch.Tensor:
    """``(X.T @ G).T`` in ``G``'s dtype: ``(n, d) x (n, m) -> (m, d)``, dense ``X`` converted
    one small panel at a time (:data:`PREDICT_PANEL_ROWS`)."""
    out = torch.zeros(G.shape[1], X.shape[1], dtype=G.dtype, device=G.device)
    for a, b, Xp in _float64_panels(X, G.dtype, PREDICT_PANEL_ROWS):
        out.addmm_(G[a:b].T, Xp)
    return out


def _float64_panels(X: torch.Tensor, dtype: torch.dtype, rows: int | None = None):
    """``(a, b, X[a:b] in dtype)`` for panels of ``rows`` (:data:`GRAM_PANEL_ROWS`) rows
    (:func:`panel_rows`: more on an accelerator), converted into one buffer reused from panel
    to panel (no allocation, no page faults; on the CPU it stays in cache)."""
    rows = min(panel_rows(X, rows or GRAM_PANEL_ROWS), X.shape[0])
    buf = torch.empty(rows, X.shape[1], dtype=dtype, device=X.device)
    for a, b in _panels(X.shape[0], rows or 1):
        Xp = buf[: b - a]
        Xp.copy_(X[a:b])
        yield a, b, Xp


def panel_weighted_gram(X: torch.Tensor, c: torch.Tensor, *, psd: bool, with_sums: bool = False):
    """``X.T @ diag(c) @ X`` in ``c``'s dtype, dense ``X`` copied (converted, for float32
    data and float64 ``c``) one panel at a time into a buffer in cache.

    ``psd`` (``c >= 0``): ``Xs^T Xs`` with ``Xs = diag(sqrt(c)) X`` (symmetric by
    construction); else ``X^T (diag(c) X)``. Also the uniform-dtype Gram: no ``(n, d)``
    scaled copy of X (on one thread of the benchmark CPU, 200,000 x 100: 90 ms against
    163 ms for ``Xs = X * sqrt(c)`` then ``Xs^T Xs``).

    ``with_sums``: return ``(gram, c @ X)``, the Hessian's intercept row taken from the same
    panels while they are in cache (one conversion and one read of X for both, instead of a
    second pass over X for the sums).
    """
    n, d = X.shape
    out = torch.zeros(d, d, dtype=c.dtype, device=c.device)
    sums = torch.zeros(d, dtype=c.dtype, device=c.device) if with_sums else None
    if psd:  # each scaled panel written once (converted and multiplied: the same numbers)
        root = c.sqrt().unsqueeze(1)
        rows = min(panel_rows(X, GRAM_PANEL_ROWS), n)
        buf = torch.empty(rows, d, dtype=c.dtype, device=c.device)
        for a, b in _panels(n, rows or 1):
            Xs = torch.mul(X[a:b], root[a:b], out=buf[: b - a])
            out.addmm_(Xs.T, Xs)
            if sums is not None:  # sum_i c_i x_i = sum_i sqrt(c_i) (sqrt(c_i) x_i)
                sums.addmv_(Xs.T, root[a:b, 0])
        return (out, sums) if with_sums else out
    for a, b, Xp in _float64_panels(X, c.dtype):
        if sums is not None:
            sums.addmv_(Xp.T, c[a:b])
        out.addmm_(Xp.T, Xp * c[a:b].unsqueeze(1))
    return (out, sums) if with_sums else out


#: Bytes of one panel's scaled copies ``[c_1 A_p, ..., c_r A_p]`` in :func:`panel_weighted_grams`
#: (with the panel itself, within L2 + L3 as for :data:`GRAM_PANEL_ROWS`).
GRAMS_PANEL_BYTES = 8 << 20
#: Fewest rows per panel there (a product over fewer rows runs far below the Gram's speed):
#: past that, the columns of ``C`` are taken in groups, one read of ``X`` per group.
GRAMS_MIN_ROWS = 512


def panel_weighted_grams(X: torch.Tensor, C: torch.Tensor, *, intercept: bool) -> torch.Tensor:
    """``(r, p, p)``: ``A^T diag(C[:, k]) A`` for each of the ``r`` columns of ``C`` (any sign),
    with ``A = [X, 1]`` (``intercept``, ``p = d + 1``, the ones column last) or ``A = X``, in
    ``C``'s dtype.

    One panel of rows at a time: ``A_p`` copied (converted, for float32 data) once into a
    buffer in cache whose ones column is written once, its ``r`` scaled copies side by side,
    and one product ``A_p^T [c_1 A_p, ..., c_r A_p]`` (``(p, r p)``): one read of ``X`` and one
    matrix product for all ``r`` Grams and their intercept rows, instead of ``r`` Grams, ``r``
    weighted column sums and ``r`` copies of each panel. The products are exact in ``C``'s
    dtype (as :func:`panel_weighted_gram`); each Gram is symmetrised (``(G + G^T) / 2``), as
    the product leaves its two triangles different by rounding.
    """
    n, d = X.shape
    r = C.shape[1]
    p = d + int(intercept)
    group = max(1, GRAMS_PANEL_BYTES // (8 * GRAMS_MIN_ROWS * p) - 1)
    if r > group:  # wide rows: the columns in groups, so that panels keep enough rows
        parts = [
            panel_weighted_grams(X, C[:, a : a + group], intercept=intercept)
            for a in range(0, r, group)
        ]
        return torch.cat(parts)
    width = r * p
    budget = GRAMS_PANEL_BYTES if X.device.type == "cpu" else DEVICE_PANEL_BYTES
    rows = max(1, min(panel_rows(X, GRAM_PANEL_ROWS), budget // (8 * (width + p)), n))
    out = torch.zeros(p, width, dtype=C.dtype, device=C.device)
    buf = torch.empty(rows, p, dtype=C.dtype, device=C.device)
    if intercept:
        buf[:, d] = 1.0
    scaled = torch.empty(rows, r, p, dtype=C.dtype, device=C.device)
    for a, b in _panels(n, rows):
        k = b - a
        Ap = buf[:k]
        Ap[:, :d].copy_(X[a:b])
        Wp = torch.mul(Ap.unsqueeze(1), C[a:b].unsqueeze(2), out=scaled[:k])
        out.addmm_(Ap.T, Wp.view(k, width))
    grams = out.view(p, r, p).transpose(0, 1)
    return 0.5 * (grams + grams.transpose(1, 2))


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

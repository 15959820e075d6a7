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

Sparse (CSR, SciPy) Grams ``A^T diag(c) A`` with a dense result (:func:`csr_weighted_grams`)
live here too: row panels, the densest columns as a dense block, SciPy's sparse product
without its sizing pass, float32 values converted to the weights' dtype (exact products).
"""

from __future__ import annotations

import numpy as np
import torch

__all__ = [
    "DEVICE_PANEL_BYTES",
    "MIN_PART_NNZ",
    "GRAM_PANEL_ROWS",
    "PREDICT_PANEL_ROWS",
    "column_grams",
    "csr_weighted_grams",
    "map_threads",
    "mixed_predict",
    "mixed_square_sums",
    "mixed_transpose_matmul",
    "mixed_weighted_sums",
    "panel_rows",
    "panel_weighted_gram",
    "panel_weighted_grams",
    "parallel_product",
    "row_block",
    "row_parts",
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


# ---------------------------------------------------------------------- sparse (CSR) Grams
#: Fewest stored values in one thread's share of a sparse Gram (less is not worth a thread).
MIN_PART_NNZ = 100_000

_POOL: dict = {}  # one thread pool per process (a forked child has none of its threads)


def map_threads(fn, items: list, workers: int) -> list:
    """``[fn(x) for x in items]``, on up to ``workers`` threads when there are several items
    (for work that releases the GIL: SciPy's sparse loops, NumPy's and torch's kernels)."""
    if workers <= 1 or len(items) <= 1:
        return [fn(x) for x in items]
    import os
    from concurrent.futures import ThreadPoolExecutor

    pool = _POOL.get(os.getpid())
    if pool is None or pool._max_workers < workers:
        pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="torchlogit")
        _POOL.clear()
        _POOL[os.getpid()] = pool
    return list(pool.map(fn, items))


def row_block(A, a: int, b: int):
    """Rows ``a:b`` of a SciPy CSR matrix, sharing its indices and values."""
    import scipy.sparse as sp

    lo, hi = A.indptr[a], A.indptr[b]
    block = (A.data[lo:hi], A.indices[lo:hi], A.indptr[a : b + 1] - lo)
    return sp.csr_matrix(block, shape=(b - a, A.shape[1]), copy=False)


def parallel_product(A, B: np.ndarray, transpose: bool) -> np.ndarray:
    """``A @ B`` (or ``A.T @ B`` with ``transpose``) for a SciPy CSR ``A`` and a dense ``B``,
    in row parts of ``A`` (:func:`row_parts`) on torch's threads (:func:`map_threads`): each
    part's rows of ``A @ B``, or its share ``A_p^T B_p`` of ``A^T B``, summed in part order.
    SciPy's loops run on each part's offsets into ``A``'s arrays (no sliced matrix: building
    one costs a third of the product). B4's ``X @ w`` and ``X^T g``: 2.7 ms on one thread, 1.7
    and 1.8 ms on two. One part (one thread, small ``A``, or values and ``B`` in different
    dtypes): SciPy's product."""
    workers = torch.get_num_threads()
    parts = row_parts(A.indptr, workers)
    try:
        from scipy.sparse import _sparsetools
    except ImportError:  # pragma: no cover - a SciPy without its (long-stable) sparsetools
        parts = []
    if len(parts) <= 1 or A.dtype != B.dtype or B.ndim > 2:
        return np.asarray((A.T if transpose else A) @ B)
    n, d = A.shape
    m = () if B.ndim == 1 else (B.shape[1],)
    B = np.ascontiguousarray(B)
    loop = {
        (False, 1): _sparsetools.csr_matvec,
        (False, 2): _sparsetools.csr_matvecs,
        (True, 1): _sparsetools.csc_matvec,  # CSR of A read as CSC of A^T
        (True, 2): _sparsetools.csc_matvecs,
    }[transpose, B.ndim]
    out = np.zeros((len(parts), d) + m if transpose else (n,) + m, dtype=B.dtype)

    def run(i):
        a, b = parts[i]
        ptr = A.indptr[a : b + 1]
        if transpose:  # out[i] = A[a:b]^T B[a:b]
            loop(d, b - a, *m, ptr, A.indices, A.data, B[a:b].reshape(-1), out[i].reshape(-1))
        else:  # out[a:b] = A[a:b] B
            loop(b - a, d, *m, ptr, A.indices, A.data, B.reshape(-1), out[a:b].reshape(-1))

    map_threads(run, list(range(len(parts))), workers)
    return out.sum(axis=0) if transpose else out


def row_parts(indptr, parts: int, min_nnz: int = MIN_PART_NNZ) -> list[tuple[int, int]]:
    """At most ``parts`` consecutive row ranges ``(a, b)`` of a CSR matrix (``indptr``) with
    about equal numbers of stored values, each at least ``min_nnz`` (one range if fewer)."""
    n = len(indptr) - 1
    nnz = int(indptr[-1])
    parts = max(1, min(parts, nnz // max(min_nnz, 1), n))
    cuts = np.searchsorted(indptr, np.arange(parts + 1) * (nnz / parts)).clip(0, n)
    cuts[0], cuts[-1] = 0, n
    return [(int(a), int(b)) for a, b in zip(cuts[:-1], cuts[1:], strict=True) if b > a]


#: Stored values per row panel of a sparse Gram (its CSR, ~1.5 MB, stays in L2 while every
#: column's entries visit its rows): on B4's working set (100,000 x 418, 16 stored values a
#: row) one thread forms the Gram in 78 ms in panels of 8,192 rows, 91 ms in one panel.
GRAM_PANEL_NNZ = 1 << 17

#: Costs of a sparse Gram's parts on one thread of the benchmark CPU, in ns (fitted on B4's
#: working sets): a dense entry of the dense block (filled, scaled, transposed), a multiply-add
#: of its sparse-dense product, a pair ``x_ia x_ib`` of the sparse-sparse product.
DENSE_ENTRY_NS, SPARSE_DENSE_FMA_NS, SPARSE_PAIR_NS = 2.0, 0.5, 2.0


def dense_column_count(density) -> int:
    """How many of the densest columns a sparse Gram takes as a dense block (0: none).

    ``density``: each column's fraction of non-zero rows, in decreasing order. With the ``t``
    densest columns as the block ``D``, a row costs about ``DENSE_ENTRY_NS t`` and
    ``SPARSE_DENSE_FMA_NS s_D t`` for ``D^T C D`` (a sparse-dense product: each of the row's
    ``s_D`` dense-block entries meets ``t`` dense ones) and ``SPARSE_PAIR_NS E[r_L r]`` for
    the other columns' rows of the Gram (each sparse entry meets its row's ``r`` entries, ``r_L``
    of them sparse), with ``E[r_L r] = s_L s + sum_L p_j (1 - p_j)`` for independent columns
    (``s``, ``s_L``, ``s_D``: the mean number of a row's entries in all, the sparse and the
    dense columns). Returns the minimising ``t``. Text data (Zipf word frequencies): a dozen
    or two, where B4's Gram costs 67 against 75 ms with none (the optimum is flat from 8 to 32).
    """
    p = np.asarray(density, dtype=np.float64)
    tail = lambda v: np.concatenate([np.cumsum(v[::-1])[::-1], [0.0]])  # noqa: E731
    s_light, q_light = tail(p), tail(p * (1 - p))  # [t]: over the columns t, t+1, ...
    t = np.arange(p.size + 1)
    dense = DENSE_ENTRY_NS * t + SPARSE_DENSE_FMA_NS * (s_light[0] - s_light) * t
    return int(np.argmin(dense + SPARSE_PAIR_NS * (s_light * s_light[0] + q_light)))


def csr_weighted_grams(A, C: np.ndarray, dense: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``(grams, sums)``: ``A^T diag(C[:, s]) A`` (``(r, k, k)``, dense) and ``C^T A``
    (``(r, k)``) for a SciPy CSR ``A`` ``(n, k)`` and ``C`` ``(n, r)`` of any sign, in
    ``C``'s dtype (float32 values with float64 ``C``: exact products, float64 sums).

    Row panels of :data:`GRAM_PANEL_NNZ` stored values; per panel ``P`` one transpose
    ``P^T`` (CSR) for all ``r``. The first ``dense`` columns (the densest, placed first by the
    caller: :func:`dense_column_count`) make the block ``D^T diag(c) D``, their rows of
    ``P^T`` times the dense ``diag(c) D`` (SciPy's single-threaded loop: BLAS's threads,
    started for a product this small on a busy core, stalled for milliseconds); the other
    columns' rows of the Gram,
    ``P_L^T diag(c) P``, a sparse product added into the dense Gram (the block between the
    two parts is the transpose of the one computed). SciPy's own product would size its
    sparse result in a first pass over every pair of entries (40 of its 100 ms on B4's
    working set); a result added into a dense ``(k, k)`` array cannot hold more than ``k^2``
    (nor ``sum_i nnz_i^2``) entries, so the numeric pass runs alone, into buffers of that
    size reused from panel to panel. Never a dense copy of ``A``'s sparse columns;
    falls back to the public product without SciPy's sparsetools. Not symmetrised.
    """
    import scipy.sparse as sp

    try:
        from scipy.sparse import _sparsetools
    except ImportError:  # pragma: no cover - a SciPy without its (long-stable) sparsetools
        _sparsetools = None
    n, k = A.shape
    r, t = C.shape[1], int(dense)
    index = np.int32 if max(n, k * k, A.nnz) < 2**31 - 1 else np.int64
    indptr = A.indptr.astype(index, copy=False)
    indices = A.indices.astype(index, copy=False)
    values = A.data.astype(C.dtype, copy=False)
    row_nnz = np.diff(indptr)
    panels = row_parts(indptr, -(-int(indptr[-1]) // GRAM_PANEL_NNZ), 1)
    pairs = np.concatenate([[0], np.cumsum(row_nnz.astype(np.int64) ** 2)])
    cap = min((k - t) * k, max((int(pairs[b] - pairs[a]) for a, b in panels), default=0))
    out_ptr = np.empty(k - t + 1, dtype=index)
    out_idx = np.empty(cap, dtype=index)
    out_val = np.empty(cap, dtype=C.dtype)
    grams = np.zeros((r, k, k), dtype=C.dtype)
    sums = np.zeros((r, k), dtype=C.dtype)
    for a, b in panels:
        lo, hi = indptr[a], indptr[b]
        ptr = (indptr[a : b + 1] - lo).astype(index, copy=False)
        P = sp.csr_matrix((values[lo:hi], indices[lo:hi], ptr), shape=(b - a, k), copy=False)
        Pt = P.T.tocsr()
        Pt_ptr, Pt_idx = Pt.indptr.astype(index, copy=False), Pt.indices.astype(index, copy=False)
        sums += np.asarray(Pt @ C[a:b]).T
        p0 = int(Pt_ptr[t])
        light_ptr, light_idx = (Pt_ptr[t:] - p0).astype(index, copy=False), Pt_idx[p0:]
        if t:  # D^T: the dense columns' rows of P^T
            Pt_dense = sp.csr_matrix((Pt.data[:p0], Pt_idx[:p0], Pt_ptr[: t + 1]), (t, b - a))
            Dt = Pt_dense.toarray()
        for s in range(r):  # (P_L^T diag(c)) P: P_L^T's entries scaled by their rows' c
            c = C[a:b, s]
            if t:
                grams[s, :t, :t] += Pt_dense @ np.ascontiguousarray((Dt * c).T)
            if t == k:
                continue
            scaled = Pt.data[p0:] * c[light_idx]
            if _sparsetools is None:  # pragma: no cover
                Bt = sp.csr_matrix((scaled, light_idx, light_ptr), shape=(k - t, b - a))
                grams[s, t:] += (Bt @ P).toarray()
                continue
            _sparsetools.csr_matmat(
                k - t, k, light_ptr, light_idx, scaled, ptr, indices[lo:hi], values[lo:hi],
                out_ptr, out_idx, out_val,
            )  # fmt: skip
            _sparsetools.csr_todense(k - t, k, out_ptr, out_idx, out_val, grams[s, t:])  # adds
    grams[:, :t, t:] = grams[:, t:, :t].transpose(0, 2, 1)
    return grams, sums


def column_grams(A, index, C: np.ndarray, counts, workers: int):
    """:func:`csr_weighted_grams` of the columns ``index`` of a SciPy CSR ``A`` (``None``:
    all), ``counts`` stored values per column of ``A``: ``(grams, sums)`` in the order of
    ``index``, unsymmetrised.

    The columns are gathered densest first (the first :func:`dense_column_count` of them the
    dense block); the rows in parts of about equal stored values (:func:`row_parts`), each
    part gathered and multiplied on a thread of its own (:func:`map_threads`), then summed.
    """
    n, d = A.shape
    index = np.arange(d) if index is None else np.asarray(index)
    order = np.argsort(-counts[index], kind="stable")  # the densest columns first
    dense = dense_column_count(counts[index[order]] / max(n, 1))
    gather = index[order]
    if not dense and gather.size == d and (gather == np.arange(d)).all():
        gather = None  # every column in place, none dense: no gather

    def part(rows):
        a, b = rows
        P = row_block(A, a, b)
        return csr_weighted_grams(P if gather is None else P[:, gather], C[a:b], dense)

    k = index.size
    grams = np.zeros((C.shape[1], k, k), dtype=C.dtype)
    sums = np.zeros((C.shape[1], k), dtype=C.dtype)
    for g, s in map_threads(part, row_parts(A.indptr, workers), workers):
        grams += g
        sums += s
    if (order == np.arange(k)).all():
        return grams, sums
    back = np.argsort(order)  # to the order of index
    return grams[:, back[:, None], back], sums[:, back]

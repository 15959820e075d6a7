"""Sparse (CSR, SciPy) kernels: Grams ``A^T diag(c) A`` with a dense result, and ``X B`` /
``X^T B`` in row parts on threads.

:func:`csr_weighted_grams`: row panels (each panel's CSR stays in L2), the densest columns as
a dense block (:func:`dense_column_count`'s cost model), SciPy's sparse product without its
sizing pass, float32 values converted to the weights' dtype (exact products, float64 sums).
:func:`column_grams` gathers the columns and forms the Grams of each row part on a thread of
its own; :func:`parallel_product` does the same for the two products of a pass.
"""

from __future__ import annotations

import numpy as np
import torch

__all__ = [
    "GRAM_PANEL_NNZ",
    "MIN_PART_NNZ",
    "column_grams",
    "csr_weighted_grams",
    "dense_column_count",
    "map_threads",
    "parallel_product",
    "row_block",
    "row_parts",
]

#: Fewest stored values in one thread's share of a sparse Gram (less is not worth a thread).
MIN_PART_NNZ = 100_000

_POOL: dict = {}  # pid -> (pool, workers): one pool per process (a fork has no threads)


def map_threads(fn, items: list, workers: int) -> list:
    """``[fn(x) for x in items]``, on up to ``workers`` threads when there are several items
    (for work that releases the GIL: SciPy's sparse loops, NumPy's and torch's kernels)."""
    if workers <= 1 or len(items) <= 1:
        return [fn(x) for x in items]
    import os
    from concurrent.futures import ThreadPoolExecutor

    pool, size = _POOL.get(os.getpid(), (None, 0))
    if size < workers:
        if pool is not None:  # a smaller pool of this process: its idle threads end
            pool.shutdown(wait=False)
        pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="torchlogit")
        _POOL.clear()
        _POOL[os.getpid()] = (pool, workers)
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

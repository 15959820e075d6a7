"""Sparse input to :class:`~torchlogit.data.SparseDesign`: SciPy sparse matrices / arrays (any
format) and torch sparse tensors (COO, CSR, CSC, BSR), checked (finite values, in-range and
canonical indices: sorted, unique within a row) and converted to CSR on the compute device
without ever densifying. Errors name the input (``X``) and the first offending entry.
"""

from __future__ import annotations

import warnings

import numpy as np
import torch

from ._sparse import _SPARSE_LAYOUTS, SparseDesign, _index_dtype

__all__ = ["from_scipy", "from_torch_sparse", "is_sparse_input"]


def is_sparse_input(X) -> bool:
    """True for SciPy sparse matrices / arrays and torch sparse tensors."""
    if isinstance(X, torch.Tensor):
        return X.layout in _SPARSE_LAYOUTS
    try:
        import scipy.sparse as sp
    except ImportError:  # pragma: no cover
        return False
    return sp.issparse(X)


# ---------------------------------------------------------------------- validation helpers
def _first_nonfinite(values: torch.Tensor, crow: torch.Tensor, col: torch.Tensor, name: str):
    """A ValueError naming the first non-finite stored entry (row, column), or nothing."""
    if not values.is_floating_point():
        return
    # One sum (~0.6 ms for 3M values) is finite when every value is; only a sum that is
    # not (a non-finite value, or finite values overflowing it) pays for the exact search.
    if bool(torch.isfinite(values.sum())):
        return
    bad = ~torch.isfinite(values)
    if not bool(bad.any()):
        return
    k = int(torch.nonzero(bad)[0, 0])
    key = torch.tensor([k], dtype=crow.dtype, device=crow.device)
    row = int(torch.searchsorted(crow, key, right=True)[0]) - 1
    kind = "NaN" if bool(torch.isnan(values[k])) else "infinity"
    raise ValueError(f"Input {name} contains {kind} (first at row {row}, column {int(col[k])}).")


def _check_structure(crow: torch.Tensor, col: torch.Tensor, shape, name: str) -> None:
    """ValueError unless ``crow`` / ``col`` describe a valid CSR structure for ``shape``."""
    n, d = shape
    nnz = col.numel()
    ok = crow.numel() == n + 1 and int(crow[0]) == 0 and int(crow[-1]) == nnz
    if ok and n > 0:
        ok = bool((crow.diff() >= 0).all())
    if not ok:
        raise ValueError(f"{name} is a malformed CSR tensor (crow_indices are not valid offsets)")
    if nnz and (int(col.min()) < 0 or int(col.max()) >= d):
        raise ValueError(
            f"{name} has column indices outside [0, {d}): "
            f"min {int(col.min())}, max {int(col.max())}"
        )


def _is_canonical(crow: torch.Tensor, col: torch.Tensor) -> bool:
    """Column indices strictly increasing within every row (sorted, no duplicates)."""
    if col.numel() < 2:
        return True
    inc = col[1:] > col[:-1]
    # positions k where entry k+1 starts a new row need no increase
    starts = crow[1:-1]
    starts = starts[(starts > 0) & (starts < col.numel())]
    inc[starts - 1] = True
    return bool(inc.all())


def from_scipy(X, *, dtype: torch.dtype, device: torch.device, name: str = "X") -> SparseDesign:
    """A :class:`SparseDesign` from a SciPy sparse matrix or array (any format).

    CSR input in canonical form with the requested dtype shares its values with the result;
    anything else is converted on a copy (the caller's matrix is never modified): duplicates
    summed, column indices sorted, one index dtype (int32 when every index fits, else int64,
    whatever the input used). Raises ValueError naming the
    first non-finite entry.
    """
    np_dtype = np.float32 if dtype == torch.float32 else np.float64
    owned = False
    if X.format != "csr":
        X = X.tocsr()
        owned = True
    if X.dtype != np_dtype:
        if X.dtype.kind == "c":
            raise ValueError("Complex data not supported; X is a complex sparse matrix")
        X = X.astype(np_dtype)
        owned = True
    if not X.has_canonical_format:
        if not owned:
            X = X.copy()
        X.sum_duplicates()  # sorts the indices and sums duplicates, in place on our copy
    n, d = X.shape
    idx = np.int32 if _index_dtype(n, d, X.nnz) == torch.int32 else np.int64
    crow = torch.from_numpy(np.asarray(X.indptr).astype(idx, copy=False))
    col = torch.from_numpy(np.asarray(X.indices).astype(idx, copy=False))
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
        values = torch.from_numpy(np.asarray(X.data))
    _first_nonfinite(values, crow, col, name)
    return SparseDesign(crow.to(device), col.to(device), values.to(device), (n, d))


def from_torch_sparse(
    X: torch.Tensor, *, dtype: torch.dtype, device: torch.device, name: str = "X"
) -> SparseDesign:
    """A :class:`SparseDesign` from a 2-D torch sparse tensor (COO, CSR, CSC, BSR, BSC).

    COO is coalesced (duplicates summed); CSR whose column indices are unsorted or repeated
    within a row goes through COO to be made canonical; indices become int32 when they fit,
    else int64. The input tensor is only read.
    """
    X = X.detach()
    if X.is_complex():
        raise ValueError("Complex data not supported; X is a complex sparse tensor")
    if X.ndim != 2 or X.dense_dim() != 0:
        raise ValueError(
            f"Expected a 2-D sparse tensor without dense dimensions, got shape "
            f"{tuple(X.shape)} with {X.dense_dim()} dense dimension(s)"
        )
    if X.layout == torch.sparse_csr:
        crow, col, values = X.crow_indices(), X.col_indices(), X.values()
        crow, col = crow.to(torch.int64), col.to(torch.int64)
        _check_structure(crow, col, X.shape, name)
        if not _is_canonical(crow, col):
            crow, col, values = _coo_to_csr_components(X.to_sparse_coo())
    else:
        coo = X if X.layout == torch.sparse_coo else X.to_sparse_coo()
        crow, col, values = _coo_to_csr_components(coo)
    if values.dtype == torch.bool or not values.is_floating_point():
        values = values.to(dtype)
    _check_structure(crow, col, X.shape, name)
    _first_nonfinite(values, crow, col, name)
    idx = _index_dtype(X.shape[0], X.shape[1], values.shape[0])
    return SparseDesign(
        crow.to(device=device, dtype=idx),
        col.to(device=device, dtype=idx),
        values.to(device=device, dtype=dtype),
        tuple(X.shape),
    )


def _coo_to_csr_components(coo: torch.Tensor):
    """``(crow, col, values)`` of a COO tensor, duplicates summed, row-major sorted."""
    coo = coo.coalesce()
    idx = coo.indices()
    n = coo.shape[0]
    row, col = idx[0].to(torch.int64), idx[1].to(torch.int64)
    counts = torch.bincount(row, minlength=n)
    crow = torch.zeros(n + 1, dtype=torch.int64, device=row.device)
    torch.cumsum(counts, dim=0, out=crow[1:])
    return crow, col, coo.values()

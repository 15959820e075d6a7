"""Sparse design matrices: the products the objective needs, on CSR, never dense.

A :class:`SparseDesign` holds ``X`` (``n x d``) in CSR form on the compute device: index
arrays ``crow`` / ``col`` (int32 when every index fits, else int64), column indices sorted and
unique within each row, finite ``values``. Every product the linear objective needs is one
sparse-dense product:

- ``X @ W.T``             CSR of ``X`` times a dense ``(d, m)``: ``O(nnz m)``;
- ``X.T @ G``             ``O(nnz m)``. With torch's kernels (CUDA) through CSR of ``X.T``,
  built once on first use: a second copy of the indices and values that turns the scatter
  of ``X.T @ G`` into the same row-parallel kernel as ``X @ W.T``. With SciPy's
  (single-threaded) kernels the CSC view ``X.T`` is as fast (measured on B4's data: 5.1 vs
  5.6 ms for one column, 11 vs 16 ms for three), so no copy is made;
- ``X.T diag(c) X``       sparse-sparse products into the dense ``(d, d)`` result:
  ``O(sum_i nnz_i^2)`` work. Affordable when ``d`` is small (a Newton solver); solvers for
  wide data use Hessian-vector products, or Grams of a working set of columns
  (:meth:`SparseDesign.column_weighted_grams`: SciPy's kernels, in row parts on threads, the
  densest columns as a dense block, :func:`~._sparse_kernels.csr_weighted_grams`).

Kernels: on CUDA (and on CPU with ``kernels="torch"``) torch's sparse CSR kernels (cuSPARSE /
MKL). On CPU the default is SciPy's single-threaded CSR kernels run on the *same* memory
(no copy): measured on the 2-core benchmark machine they are 1.5-5x faster than torch's
multi-threaded CSR products, whose OpenMP threads degrade badly when the cores are shared.

Nothing here ever materialises the dense ``(n, d)`` matrix or a dense slice of it.
Explicit zeros stored in the input are kept: they add nothing to any product.
"""

from __future__ import annotations

import warnings

import numpy as np
import torch

from ._sparse_kernels import column_grams, parallel_product

__all__ = ["SparseDesign", "is_sparse_design"]

_SPARSE_LAYOUTS = (
    torch.sparse_coo,
    torch.sparse_csr,
    torch.sparse_csc,
    torch.sparse_bsr,
    torch.sparse_bsc,
)
_INT32_MAX = 2**31 - 1

#: CPU kernels used by default: ``"scipy"`` or ``"torch"`` (CUDA always uses torch).
CPU_KERNELS = "scipy"


def _index_dtype(n: int, d: int, nnz: int) -> torch.dtype:
    """int32 when every index and offset fits (half the index memory), else int64."""
    return torch.int32 if max(n, d, nnz) < _INT32_MAX else torch.int64


def _csr_tensor(crow, col, values, shape) -> torch.Tensor:
    """A torch CSR tensor from trusted components (invariants established by the caller)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")
        warnings.filterwarnings("ignore", message="Sparse invariant checks")
        return torch.sparse_csr_tensor(crow, col, values, size=tuple(shape), check_invariants=False)


def _scipy_csr(crow, col, values, shape):
    """A SciPy CSR matrix sharing the memory of CPU tensors (index dtypes already equal)."""
    import scipy.sparse as sp

    A = sp.csr_matrix((values.numpy(), col.numpy(), crow.numpy()), shape=tuple(shape), copy=False)
    # SciPy may pick a narrower index type (a copy); put the shared arrays back.
    A.indices, A.indptr = col.numpy(), crow.numpy()
    return A


def _transpose_components(crow, col, values, shape, *, use_scipy: bool):
    """``(crow_t, col_t, values_t)``: CSR of ``X.T`` (``d x n``), row indices sorted.

    ``use_scipy`` (CPU only): SciPy's ``csr_tocsc``, a linear-time counting sort; otherwise
    (CUDA, or the torch kernels on CPU) a stable sort of the column indices on the device.
    """
    n, d = shape
    idx = crow.dtype
    if use_scipy:
        At = _scipy_csr(crow, col, values, shape).tocsc()  # CSC of X == CSR of X.T
        as_idx = lambda a: torch.from_numpy(np.asarray(a)).to(idx)  # noqa: E731
        return as_idx(At.indptr), as_idx(At.indices), torch.from_numpy(At.data)
    row = _row_ids(crow, n)
    order = torch.argsort(col, stable=True)
    counts = torch.bincount(col.long(), minlength=d)
    crow_t = torch.zeros(d + 1, dtype=torch.int64, device=col.device)
    torch.cumsum(counts, dim=0, out=crow_t[1:])
    return crow_t.to(idx), row[order].to(idx), values[order]


def _gather_rows(crow, col, values, rows: torch.Tensor):
    """CSR components of the rows ``rows`` (any order, repeats allowed) of a CSR matrix."""
    rows = rows.to(device=crow.device, dtype=torch.int64)
    starts = crow[rows].long()
    counts = crow[rows + 1].long() - starts
    new_crow = torch.zeros(rows.numel() + 1, dtype=torch.int64, device=crow.device)
    torch.cumsum(counts, dim=0, out=new_crow[1:])
    total = int(new_crow[-1])
    src = torch.arange(total, device=crow.device) + torch.repeat_interleave(
        starts - new_crow[:-1], counts, output_size=total
    )
    return new_crow.to(crow.dtype), col[src], values[src]


def _row_ids(crow: torch.Tensor, n: int) -> torch.Tensor:
    """The row index of every stored entry, ``(nnz,)`` int64."""
    return torch.repeat_interleave(torch.arange(n, device=crow.device), crow.diff().long())


class SparseDesign:
    """A sparse ``(n, d)`` design matrix on the compute device (CSR, plus CSR of ``X.T``).

    Construct it with :func:`from_scipy` or :func:`from_torch_sparse`, which establish the
    invariants (sorted unique column indices per row, finite values, one index dtype). It
    supports what :mod:`torchlogit.data._design` and the estimators use: ``shape``,
    ``dtype``, ``device``, row slices ``X[a:b]``, ``X @ B`` and ``c @ X``.

    Parameters
    ----------
    crow, col, values : tensors on one device
        CSR components: ``crow`` ``(n + 1,)``, ``col`` and ``values`` ``(nnz,)``.
    shape : (n, d)
    kernels : {"scipy", "torch"} or None
        CPU kernels (default :data:`CPU_KERNELS`); ignored on CUDA, which uses torch's.

    Shape:
        - ``X @ B``: ``(d, m)`` or ``(d,)`` dense -> ``(n, m)`` or ``(n,)``
        - ``c @ X``: ``(n,)`` -> ``(d,)``
        - :meth:`rmatmul`: ``(n, m)`` -> ``(d, m)`` (``X.T @ G``)
    """

    ndim = 2

    def __init__(self, crow, col, values, shape, *, kernels: str | None = None):
        if crow.dtype != col.dtype:
            raise ValueError(f"crow ({crow.dtype}) and col ({col.dtype}) must share a dtype")
        self.crow = crow
        self.col = col
        self.values = values
        self.shape = torch.Size(shape)
        kernels = kernels or CPU_KERNELS
        if kernels not in ("scipy", "torch"):
            raise ValueError(f"kernels must be 'scipy' or 'torch', got {kernels!r}")
        self.kernels = kernels if values.device.type == "cpu" else "torch"
        self._transpose = None  # (crow_t, col_t, values_t) until first use
        self._sp = None  # SciPy view (CPU kernels)
        self._row = None
        self._col_counts = None  # stored values per column (SciPy's Grams)
        self._slices: dict[tuple, SparseDesign] = {}

    # ------------------------------------------------------------------ tensor-like surface
    @property
    def dtype(self) -> torch.dtype:
        return self.values.dtype

    @property
    def device(self) -> torch.device:
        return self.values.device

    @property
    def nnz(self) -> int:
        return int(self.values.shape[0])

    @property
    def layout(self):
        return torch.sparse_csr

    def __len__(self) -> int:
        return self.shape[0]

    def __repr__(self) -> str:
        return (
            f"SparseDesign(shape={tuple(self.shape)}, nnz={self.nnz}, dtype={self.dtype}, "
            f"device={self.device}, kernels={self.kernels!r})"
        )

    def to(self, *args, device=None, dtype=None) -> SparseDesign:
        """The same matrix on ``device`` with values in ``dtype`` (self when nothing changes).

        Positional arguments as for ``torch.Tensor.to``: a ``torch.dtype`` and / or a device.
        """
        for a in args:
            if isinstance(a, torch.dtype):
                dtype = a
            else:
                device = a
        device = torch.device(device) if device is not None else self.device
        dtype = dtype or self.dtype
        if device == self.device and dtype == self.dtype:
            return self
        return SparseDesign(
            self.crow.to(device),
            self.col.to(device),
            self.values.to(device=device, dtype=dtype),
            self.shape,
            kernels=self.kernels,
        )

    def detach(self) -> SparseDesign:
        """Self: the values never require grad (the constructors detach them)."""
        return self

    def to_torch(self) -> torch.Tensor:
        """``X`` as a torch sparse CSR tensor (shares memory)."""
        return _csr_tensor(self.crow, self.col, self.values, self.shape)

    # ------------------------------------------------------------------ structure
    def _transposed(self):
        if self._transpose is None:
            self._transpose = _transpose_components(
                self.crow, self.col, self.values, self.shape, use_scipy=self.kernels == "scipy"
            )
        return self._transpose

    @property
    def transpose_csr(self) -> torch.Tensor:
        """``X.T`` as a ``(d, n)`` torch CSR tensor (built on first use, then kept)."""
        ct, it, vt = self._transposed()
        return _csr_tensor(ct, it, vt, (self.shape[1], self.shape[0]))

    def _scipy(self):
        if self._sp is None:
            self._sp = _scipy_csr(self.crow, self.col, self.values, self.shape)
        return self._sp

    def _scipy_t(self):
        """``X.T`` for SciPy's kernels: the CSC view of the shared CSR (no copy)."""
        return self._scipy().T

    @property
    def row_ids(self) -> torch.Tensor:
        """Row index of every stored entry (built on first use, then kept)."""
        if self._row is None:
            self._row = _row_ids(self.crow, self.shape[0])
        return self._row

    def index_select(self, dim: int, index: torch.Tensor) -> SparseDesign:
        """Rows (``dim=0``) or columns (``dim=1``) ``index`` of ``X``, as a new SparseDesign.

        Columns are gathered as rows of ``X.T``: ``O(nnz of the selected columns)``, never a
        dense slice. (What a working-set solver needs for ``X[:, cols].T diag(c) X[:, cols]``.)
        """
        if dim == 0:
            if self.kernels == "scipy":  # SciPy's row gather (B4: X[::4] in 1.4, not 35 ms)
                return self._from_scipy(self._scipy()[index.cpu().numpy()])
            c, i, v = _gather_rows(self.crow, self.col, self.values, index)
            return SparseDesign(c, i, v, (index.numel(), self.shape[1]), kernels=self.kernels)
        if dim != 1:
            raise ValueError(f"dim must be 0 or 1, got {dim}")
        if self.kernels == "scipy":  # SciPy's column gather, straight to CSR
            sub = self._scipy()[:, index.cpu().numpy()]
            sub.sort_indices()
            return self._from_scipy(sub)
        ct, it, vt = _gather_rows(*self._transposed(), index)
        shape_t = (index.numel(), self.shape[0])
        c, i, v = _transpose_components(ct, it, vt, shape_t, use_scipy=self.kernels == "scipy")
        out = SparseDesign(c, i, v, (self.shape[0], index.numel()), kernels=self.kernels)
        out._transpose = (ct, it, vt)
        return out

    def _from_scipy(self, A) -> SparseDesign:
        """A SciPy CSR matrix (canonical: a gather of this one's rows or columns) as a
        SparseDesign with this one's index dtype and kernels."""
        idx = self.crow.dtype
        return SparseDesign(
            torch.from_numpy(A.indptr).to(idx),
            torch.from_numpy(A.indices).to(idx),
            torch.from_numpy(A.data),
            A.shape,
            kernels=self.kernels,
        )

    def __getitem__(self, key):
        """Row slices ``X[a:b]`` (a view of the same storage, kept for reuse), ``X[a:b:k]``
        (rows gathered, kept) and ``X[index]`` for a 1-D integer index (rows gathered)."""
        if isinstance(key, (torch.Tensor, np.ndarray, list)):
            index = torch.as_tensor(key, device=self.device)
            if index.ndim == 1 and not index.is_floating_point() and index.dtype != torch.bool:
                return self.index_select(0, index)
        if not isinstance(key, slice):
            raise TypeError("a SparseDesign supports row slices X[a:b], X[a:b:k] and X[index] only")
        if key.step not in (None, 1):
            start, stop, step = key.indices(self.shape[0])
            cached = self._slices.get((start, stop, step))
            if cached is None:
                rows = torch.arange(start, stop, step, device=self.device)
                cached = self._slices[(start, stop, step)] = self.index_select(0, rows)
            return cached
        start, stop, _ = key.indices(self.shape[0])
        stop = max(stop, start)
        if (start, stop) == (0, self.shape[0]):
            return self
        cached = self._slices.get((start, stop))
        if cached is None:
            lo, hi = int(self.crow[start]), int(self.crow[stop])
            cached = SparseDesign(
                self.crow[start : stop + 1] - lo,
                self.col[lo:hi],
                self.values[lo:hi],
                (stop - start, self.shape[1]),
                kernels=self.kernels,
            )
            self._slices[(start, stop)] = cached
        return cached

    # ------------------------------------------------------------------ products
    def _product(self, which: str, B: torch.Tensor) -> torch.Tensor:
        """``A @ B`` with ``A`` = ``X`` (``which="x"``) or ``X.T`` (``"t"``), B 1-D or 2-D."""
        B = B.detach()
        vec = B.ndim == 1 or B.shape[1] == 1
        b = B.reshape(-1) if vec else B
        if self.kernels == "scipy":  # in row parts on torch's threads (SciPy's loops)
            out = torch.from_numpy(
                parallel_product(self._scipy(), np.ascontiguousarray(b.numpy()), which == "t")
            )
        else:
            A = self.to_torch() if which == "x" else self.transpose_csr
            out = torch.mv(A, b.contiguous()) if vec else A @ b.contiguous()
        return out.unsqueeze(1) if vec and B.ndim == 2 else out

    def matmul(self, B: torch.Tensor) -> torch.Tensor:
        """``X @ B`` for dense ``B`` of shape ``(d, m)`` or ``(d,)``."""
        return self._product("x", B)

    def rmatmul(self, G: torch.Tensor) -> torch.Tensor:
        """``X.T @ G`` for dense ``G`` of shape ``(n, m)`` or ``(n,)``."""
        return self._product("t", G)

    def __matmul__(self, B):
        if not isinstance(B, torch.Tensor):
            return NotImplemented
        return self.matmul(B)

    def __rmatmul__(self, c):
        """``c @ X`` for a dense ``(n,)`` vector (or ``(k, n)`` matrix): ``(X.T @ c.T).T``."""
        if not isinstance(c, torch.Tensor):
            return NotImplemented
        if c.ndim == 1:
            return self.rmatmul(c)
        return self.rmatmul(c.T).T

    def row_square_norms(self) -> torch.Tensor:
        """``||x_i||^2`` for every row, ``(n,)``."""
        sq = self.values * self.values
        out = torch.zeros(self.shape[0], dtype=self.dtype, device=self.device)
        return out.index_add_(0, self.row_ids, sq)

    def weighted_square_sums(self, C: torch.Tensor) -> torch.Tensor:
        """``(X * X).T @ C`` for dense ``C`` ``(n, m)``: ``(d, m)`` (Hessian diagonals)."""
        sq = SparseDesign(self.crow, self.col, self.values * self.values, self.shape)
        sq.kernels = self.kernels
        if self._transpose is not None:  # reuse the transposed structure
            ct, it, vt = self._transpose
            sq._transpose = (ct, it, vt * vt)
        return sq.rmatmul(C)

    def weighted_gram(self, c: torch.Tensor) -> torch.Tensor:
        """``X.T diag(c) X``, dense ``(d, d)``, symmetrised, ``c`` of any sign: work
        ``O(sum_i nnz_i^2)``, memory ``O(d^2 + nnz)`` (:meth:`column_weighted_grams`)."""
        return self.column_weighted_grams(None, c.reshape(-1, 1))[0][0]

    def column_weighted_grams(self, cols: torch.Tensor | None, C: torch.Tensor):
        """``(grams, sums)``: ``X_W^T diag(C[:, s]) X_W`` (``(r, k, k)``, dense, symmetrised)
        and ``C^T X_W`` (``(r, k)``) for ``X_W = X[:, cols]`` (``cols=None``: every column)
        and ``C`` ``(n, r)`` of any sign, in ``C``'s dtype (float32 values with a float64 ``C``:
        exact products, float64 sums). What a working-set Hessian needs, in one call.

        SciPy kernels: the rows in parts of about equal stored values, one per torch thread
        (:func:`~._sparse_kernels.row_parts`), each part's columns gathered (the densest first) and
        its Grams formed on a thread of its own (:func:`~._sparse_kernels.csr_weighted_grams`;
        SciPy's loops release the GIL), then summed. On B4's working set (100,000 x 418):
        101 ms on one thread, 61 on two, against 150 ms for a gather and SciPy's product.
        torch kernels: the columns gathered, one sparse-sparse product
        ``CSR(X_W.T) @ CSR(diag(c) X_W)`` a Gram.
        """
        C = C.detach()
        if self.kernels == "scipy":
            grams, sums = self._scipy_column_grams(cols, C)
        else:
            X = (self if cols is None else self.index_select(1, cols)).to(C.dtype)
            grams = torch.stack([X._torch_gram(C[:, s]) for s in range(C.shape[1])])
            sums = X.rmatmul(C).T
        return 0.5 * (grams + grams.transpose(1, 2)), sums

    def _scipy_column_grams(self, cols: torch.Tensor | None, C: torch.Tensor):
        """:meth:`column_weighted_grams` with SciPy's kernels (unsymmetrised)."""
        if self._col_counts is None:  # the structure never changes: counted once (torch's
            # bincount reads the int32 indices as they are: B4's X in 2.1 ms, NumPy's add.at
            # 4.4, its bincount 5.2 with an int64 copy of the indices)
            self._col_counts = torch.bincount(self.col, minlength=self.shape[1]).numpy()
        index = None if cols is None else cols.cpu().numpy()
        workers = torch.get_num_threads()
        grams, sums = column_grams(self._scipy(), index, C.numpy(), self._col_counts, workers)
        return torch.from_numpy(grams), torch.from_numpy(sums)

    def _torch_gram(self, c: torch.Tensor) -> torch.Tensor:
        """``X.T diag(c) X`` with torch's kernels: one sparse-sparse product, densified."""
        scaled = _csr_tensor(self.crow, self.col, self.values * c[self.row_ids], self.shape)
        return (self.transpose_csr @ scaled).to_dense()


def is_sparse_design(X) -> bool:
    return isinstance(X, SparseDesign)

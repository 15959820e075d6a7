"""Sparse design matrices: products against dense references, input formats, validation.

Every product of :class:`SparseDesign` is checked against the same product on the dense
matrix, for both CPU kernel families (SciPy's and torch's, the latter being what CUDA runs),
both dtypes, one and several outputs, and row slices.
"""

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from torchlogit import LogisticRegression
from torchlogit.data import _design
from torchlogit.data._sparse import SparseDesign
from torchlogit.data._sparse_input import from_scipy, from_torch_sparse

CPU = torch.device("cpu")
KERNELS = ["scipy", "torch"]


def random_csr(n=60, d=25, density=0.15, seed=0, empty_rows=(3, 7), empty_cols=(0, 11)):
    """A random CSR matrix with some empty rows and columns."""
    rng = np.random.default_rng(seed)
    A = sp.random(n, d, density=density, format="lil", random_state=seed)
    A = A.tocsr()
    A.data = rng.normal(size=A.data.shape) * 2
    A = A.tolil()
    for i in empty_rows:
        A[i, :] = 0
    for j in empty_cols:
        A[:, j] = 0
    A = A.tocsr()
    A.eliminate_zeros()
    return A


def design(A, dtype=torch.float64, kernels="scipy"):
    X = from_scipy(A, dtype=dtype, device=CPU)
    X.kernels = kernels
    return X


@pytest.mark.parametrize("kernels", KERNELS)
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("m", [1, 3])
def test_products_match_dense(kernels, dtype, m):
    A = random_csr()
    X = design(A, dtype, kernels)
    D = torch.from_numpy(A.toarray()).to(dtype)
    g = torch.Generator().manual_seed(0)
    W = torch.randn(m, A.shape[1], generator=g, dtype=torch.float64).to(dtype)
    G = torch.randn(A.shape[0], m, generator=g, dtype=torch.float64).to(dtype)
    c = torch.randn(A.shape[0], generator=g, dtype=torch.float64).to(dtype)
    tol = dict(rtol=1e-12, atol=1e-12) if dtype == torch.float64 else dict(rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(_design.linear_predict(X, W), D @ W.T, **tol)
    torch.testing.assert_close(_design.transpose_matmul(X, G), G.T @ D, **tol)
    a = c.abs()
    torch.testing.assert_close(_design.weighted_gram(X, a), D.T @ (D * a[:, None]), **tol)
    torch.testing.assert_close(_design.weighted_cross_gram(X, c), D.T @ (D * c[:, None]), **tol)
    torch.testing.assert_close(_design.weighted_square_sums(X, G), (D * D).T @ G, **tol)
    torch.testing.assert_close(c @ X, c @ D, **tol)  # the intercept row of the Hessian
    torch.testing.assert_close(X @ W[0], D @ W[0], **tol)
    assert _design.linear_predict(X, W).dtype == dtype


@pytest.mark.parametrize("kernels", KERNELS)
def test_row_slices_are_views_with_the_same_products(kernels):
    A = random_csr()
    X = design(A, kernels=kernels)
    D = torch.from_numpy(A.toarray())
    w = torch.arange(A.shape[1], dtype=torch.float64).unsqueeze(1)
    for a, b in [(0, 10), (5, 6), (7, 60), (3, 3)]:
        Xs = X[a:b]
        assert Xs.shape == (b - a, A.shape[1])
        assert Xs is X[a:b]  # cached: its transpose is built once
        torch.testing.assert_close(Xs @ w, D[a:b] @ w)
        G = torch.ones(b - a, 1, dtype=torch.float64)
        torch.testing.assert_close(Xs.rmatmul(G), D[a:b].T @ G)
    assert X[:] is X
    torch.testing.assert_close(X[1:50:3] @ w, D[1:50:3] @ w)
    assert X[1:50:3] is X[1:50:3]  # a solver's row sample is gathered once
    with pytest.raises(TypeError, match="row slices"):
        X[1]


@pytest.mark.parametrize("kernels", KERNELS)
def test_index_select_rows_and_columns(kernels):
    """Working-set products: X[:, cols].T diag(c) X[:, cols] without a dense slice."""
    A = random_csr()
    X = design(A, kernels=kernels)
    D = torch.from_numpy(A.toarray())
    cols = torch.tensor([11, 2, 7, 0, 24])  # unsorted, with empty column 0 and 11
    rows = torch.tensor([5, 5, 0, 59, 3])  # repeats and an empty row
    c = torch.rand(A.shape[0], dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    Xc = X.index_select(1, cols)
    Dc = D[:, cols]
    assert Xc.shape == (A.shape[0], 5)
    torch.testing.assert_close(Xc.weighted_gram(c), Dc.T @ (Dc * c[:, None]))
    torch.testing.assert_close(c @ Xc, c @ Dc)
    torch.testing.assert_close(Xc @ torch.ones(5, dtype=torch.float64), Dc.sum(dim=1))
    Xr = X.index_select(0, rows)
    torch.testing.assert_close(Xr.rmatmul(c[:5]), D[rows].T @ c[:5])
    torch.testing.assert_close(Xr @ torch.ones(A.shape[1], dtype=torch.float64), D[rows].sum(1))


def test_generic_design_functions_on_dense_dense_weighted_square_sums():
    """The dense branch of the new ``weighted_square_sums`` (blocked over rows)."""
    g = torch.Generator().manual_seed(1)
    D = torch.randn(50, 7, generator=g, dtype=torch.float64)
    C = torch.rand(50, 2, generator=g, dtype=torch.float64)
    torch.testing.assert_close(_design.weighted_square_sums(D, C), (D * D).T @ C)


def test_iter_row_blocks_on_sparse_batch():
    A = random_csr()
    X = design(A)
    y = torch.zeros(A.shape[0], dtype=torch.int64)
    sw = torch.ones(A.shape[0], dtype=torch.float64)
    batch = _design.Batch(X, y, sw)
    blocks = list(_design.iter_row_blocks(batch, 16))
    assert [b.n_samples for b in blocks] == [16, 16, 16, 12]
    w = torch.ones(1, A.shape[1], dtype=torch.float64)
    stacked = torch.cat([_design.linear_predict(b.X, w) for b in blocks])
    torch.testing.assert_close(stacked, torch.from_numpy(A.toarray()) @ w.T)


# ---------------------------------------------------------------------- conversion
def _dense(X: SparseDesign) -> np.ndarray:
    """Dense copy of a small SparseDesign (tests only) through an identity product."""
    eye = torch.eye(X.shape[1], dtype=X.dtype)
    return (X @ eye).numpy()


def test_scipy_formats_agree_and_canonical():
    A = random_csr()
    ref = A.toarray()
    for M in [A, A.tocsc(), A.tocoo(), sp.csr_array(A), sp.coo_array(A), A.tolil(), A.todok()]:
        X = from_scipy(M, dtype=torch.float64, device=CPU)
        np.testing.assert_array_equal(_dense(X), ref)


def test_duplicates_unsorted_explicit_zeros_int64():
    rows = np.array([0, 0, 0, 2, 2, 1], dtype=np.int64)
    cols = np.array([3, 1, 3, 0, 2, 4], dtype=np.int64)
    vals = np.array([1.0, 2.0, 5.0, 0.0, -1.0, 7.0])
    # CSR with unsorted, duplicated column indices and an explicit zero, int64 indices
    order = np.argsort(rows, kind="stable")
    indptr = np.array([0, 3, 4, 6], dtype=np.int64)
    A = sp.csr_matrix((vals[order], cols[order], indptr), shape=(3, 5))
    A.indices = cols[order].astype(np.int64)  # keep int64 (scipy may narrow)
    A.indptr = indptr
    assert not A.has_canonical_format
    before = (A.data.copy(), A.indices.copy(), A.indptr.copy())
    X = from_scipy(A, dtype=torch.float64, device=CPU)
    expected = np.zeros((3, 5))
    for r, c, v in zip(rows, cols, vals, strict=True):
        expected[r, c] += v
    np.testing.assert_array_equal(_dense(X), expected)
    # the caller's matrix is untouched
    for a, b in zip(before, (A.data, A.indices, A.indptr), strict=True):
        np.testing.assert_array_equal(a, b)
    assert X.nnz == 5  # duplicates summed, explicit zero kept (harmless)


def test_torch_layouts_agree():
    A = random_csr()
    ref = A.toarray()
    D = torch.from_numpy(ref)
    inputs = [D.to_sparse(), D.to_sparse_csr(), D.to_sparse_csc(), D.to_sparse_bsr((2, 5))]
    for T in inputs:
        X = from_torch_sparse(T, dtype=torch.float64, device=CPU)
        np.testing.assert_array_equal(_dense(X), ref)


def test_torch_coo_uncoalesced_and_unsorted_csr():
    idx = torch.tensor([[1, 0, 1, 0], [2, 1, 2, 0]])
    T = torch.sparse_coo_tensor(
        idx, torch.tensor([1.0, 2.0, 3.0, 4.0]), (2, 3), check_invariants=False
    )
    X = from_torch_sparse(T, dtype=torch.float64, device=CPU)
    np.testing.assert_array_equal(_dense(X), [[4.0, 2.0, 0.0], [0.0, 0.0, 4.0]])
    # CSR with unsorted and repeated columns in row 0 (built without invariant checks)
    crow = torch.tensor([0, 3, 4])
    col = torch.tensor([2, 0, 2, 1])
    C = torch.sparse_csr_tensor(
        crow, col, torch.tensor([1.0, 2.0, 3.0, 4.0]), (2, 3), check_invariants=False
    )
    X = from_torch_sparse(C, dtype=torch.float64, device=CPU)
    np.testing.assert_array_equal(_dense(X), [[2.0, 0.0, 4.0], [0.0, 4.0, 0.0]])


def test_to_like_a_tensor():
    A = random_csr()
    X = design(A)
    assert X.to(torch.float64) is X
    X32 = X.to(torch.float32)
    assert X32.dtype == torch.float32 and X32.kernels == X.kernels
    assert X.to("cpu", dtype=torch.float32).dtype == torch.float32
    w = torch.ones(A.shape[1], dtype=torch.float32)
    torch.testing.assert_close(X32 @ w, torch.from_numpy(A.toarray()).float() @ w)


def test_integer_and_bool_values_become_float():
    A = sp.csr_matrix(np.array([[0, 2], [1, 0]], dtype=np.int64))
    X = from_scipy(A.astype(np.float64), dtype=torch.float32, device=CPU)
    assert X.dtype == torch.float32
    T = torch.tensor([[True, False], [False, True]]).to_sparse()
    Xt = from_torch_sparse(T, dtype=torch.float64, device=CPU)
    np.testing.assert_array_equal(_dense(Xt), np.eye(2))


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_nonfinite_values_are_named(bad):
    A = random_csr().tolil()
    A[12, 5] = bad
    A = A.tocsr()
    kind = "NaN" if np.isnan(bad) else "infinity"
    with pytest.raises(ValueError, match=f"{kind} \\(first at row 12, column 5\\)"):
        LogisticRegression().fit(A, np.arange(A.shape[0]) % 2)
    T = torch.from_numpy(A.toarray()).to_sparse_csr()
    with pytest.raises(ValueError, match="row 12, column 5"):
        LogisticRegression().fit(T, torch.arange(A.shape[0]) % 2)


def test_malformed_torch_csr_is_rejected():
    crow = torch.tensor([0, 2, 3])
    col = torch.tensor([0, 5, 1])  # column 5 outside a 3-column matrix
    C = torch.sparse_csr_tensor(crow, col, torch.ones(3), (2, 3), check_invariants=False)
    with pytest.raises(ValueError, match="column indices outside"):
        from_torch_sparse(C, dtype=torch.float64, device=CPU)


def test_n_features_checked_at_predict_time():
    A = random_csr()
    y = np.arange(A.shape[0]) % 2
    clf = LogisticRegression().fit(A, y)
    with pytest.raises(ValueError, match="features"):
        clf.predict(A[:, :10])
    with pytest.raises(ValueError, match="features"):
        clf.predict(torch.from_numpy(A[:, :10].toarray()).to_sparse())


def test_tags_say_sparse():
    assert LogisticRegression().__sklearn_tags__().input_tags.sparse is True


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("m", [1, 3])
def test_products_on_cuda(m):
    A = random_csr()
    X = from_scipy(A, dtype=torch.float64, device=torch.device("cuda"))
    assert X.kernels == "torch"
    D = torch.from_numpy(A.toarray()).cuda()
    W = torch.randn(m, A.shape[1], dtype=torch.float64, device="cuda")
    G = torch.randn(A.shape[0], m, dtype=torch.float64, device="cuda")
    c = torch.rand(A.shape[0], dtype=torch.float64, device="cuda")
    torch.testing.assert_close(_design.linear_predict(X, W), D @ W.T)
    torch.testing.assert_close(_design.transpose_matmul(X, G), G.T @ D)
    torch.testing.assert_close(_design.weighted_gram(X, c), D.T @ (D * c[:, None]))
    torch.testing.assert_close(_design.weighted_square_sums(X, G), (D * D).T @ G)
    T = torch.from_numpy(A.toarray()).cuda().to_sparse()
    Xt = from_torch_sparse(T, dtype=torch.float64, device=T.device)
    torch.testing.assert_close(_design.linear_predict(Xt, W), D @ W.T)

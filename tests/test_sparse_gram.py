"""Sparse weighted Grams (the working-set Hessians of ``solver="cd"`` on sparse data).

:func:`~torchlogit.data._sparse_kernels.csr_weighted_grams` (row panels, a dense block of the
densest columns, SciPy's product into a dense result) and
:meth:`SparseDesign.column_weighted_grams`
(columns gathered in row parts on threads, the densest first) against NumPy's
``X^T diag(c) X`` on the dense matrix: empty rows and columns, weights of both signs, float32
values with float64 weights (float64 products and sums), several panels and row parts.
"""

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from torchlogit.data import _sparse_kernels as _kernels
from torchlogit.data._sparse_input import from_scipy

CPU = torch.device("cpu")


def random_csr(n=300, d=40, seed=0, dtype=np.float64):
    """Zipf-like column densities (a few dense columns, many rare ones), empty rows and
    columns, values of both signs."""
    rng = np.random.default_rng(seed)
    density = np.clip(0.9 / np.arange(1, d + 1) ** 1.1, 0.0, 1.0)[rng.permutation(d)]
    mask = rng.uniform(size=(n, d)) < density
    mask[[4, 17, 99], :] = False  # empty rows
    mask[:, [2, 25]] = False  # empty columns
    dense = np.where(mask, rng.normal(size=(n, d)) * 3, 0.0)
    return sp.csr_matrix(dense.astype(dtype)), dense


def reference(dense, C, cols=None):
    """NumPy, float64: ``X_W^T diag(c) X_W`` and ``c @ X_W`` for every column ``c`` of ``C``."""
    Xw = dense if cols is None else dense[:, cols]
    Xw = Xw.astype(np.float64)
    grams = np.stack([Xw.T @ (C[:, s, None] * Xw) for s in range(C.shape[1])])
    return grams, C.T @ Xw


def weights(n, r=2, seed=1):
    rng = np.random.default_rng(seed)
    C = rng.uniform(0.0, 0.25, size=(n, r))
    C[:, 1:] -= 0.1  # cross-class blocks of a multinomial Hessian: either sign
    return C


@pytest.mark.parametrize("dense_cols", [0, 1, 5, 40])
@pytest.mark.parametrize("panel_nnz", [1 << 17, 200])
def test_csr_weighted_grams_match_dense(dense_cols, panel_nnz, monkeypatch):
    monkeypatch.setattr(_kernels, "GRAM_PANEL_NNZ", panel_nnz)  # 200: many row panels
    A, dense = random_csr()
    C = weights(A.shape[0])
    grams, sums = _kernels.csr_weighted_grams(A, C, dense_cols)
    ref_grams, ref_sums = reference(dense, C)
    np.testing.assert_allclose(grams, ref_grams, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(sums, ref_sums, rtol=1e-12, atol=1e-12)


def test_float32_values_accumulate_in_float64():
    """float32 values with float64 weights: the products of float32 numbers are exact in
    float64, so the Gram matches the float64 reference to float64's rounding."""
    A, dense = random_csr(dtype=np.float32)
    dense32 = dense.astype(np.float32)
    C = weights(A.shape[0])
    grams, sums = _kernels.csr_weighted_grams(A, C, 3)
    assert grams.dtype == np.float64 and sums.dtype == np.float64
    ref_grams, ref_sums = reference(dense32, C)
    np.testing.assert_allclose(grams, ref_grams, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(sums, ref_sums, rtol=1e-12, atol=1e-12)


def test_empty_matrix_and_empty_working_set():
    A = sp.csr_matrix((5, 4))
    grams, sums = _kernels.csr_weighted_grams(A, np.ones((5, 1)), 2)
    assert grams.shape == (1, 4, 4) and not grams.any() and not sums.any()


@pytest.mark.parametrize("kernels", ["scipy", "torch"])
@pytest.mark.parametrize("threads", [1, 2])
def test_column_weighted_grams_match_dense(kernels, threads, monkeypatch):
    """Working-set columns in any order, rows in several parts on threads."""
    monkeypatch.setattr(_kernels, "MIN_PART_NNZ", 50)  # several row parts on this small X
    A, dense = random_csr(seed=3, dtype=np.float32)
    X = from_scipy(A, dtype=torch.float32, device=CPU)
    X.kernels = kernels
    cols = np.array([7, 0, 25, 3, 31, 12, 1, 39, 2])  # unsorted, with empty columns
    C = weights(A.shape[0], r=3)
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        grams, sums = X.column_weighted_grams(torch.from_numpy(cols), torch.from_numpy(C))
        full = X.weighted_gram(torch.from_numpy(C[:, 0]))
    finally:
        torch.set_num_threads(before)
    ref_grams, ref_sums = reference(dense.astype(np.float32), C, cols)
    np.testing.assert_allclose(grams.numpy(), ref_grams, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(sums.numpy(), ref_sums, rtol=1e-12, atol=1e-12)
    assert torch.equal(grams, grams.transpose(1, 2))
    np.testing.assert_allclose(full.numpy(), reference(dense.astype(np.float32), C)[0][0],
                               rtol=1e-12, atol=1e-12)  # fmt: skip


def test_dense_column_count_follows_the_costs():
    assert _kernels.dense_column_count(np.full(50, 1e-3)) == 0  # uniformly sparse: none
    assert _kernels.dense_column_count(np.ones(10)) == 10  # dense data: all
    zipf = np.sort(0.9 / np.arange(1, 401) ** 1.1)[::-1]
    assert 0 < _kernels.dense_column_count(zipf) < 60  # text: a few dozen


@pytest.mark.parametrize("transpose", [False, True])
@pytest.mark.parametrize("shape", [(300,), (300, 3)])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_parallel_product_matches_dense(transpose, shape, dtype, monkeypatch):
    """``X @ B`` and ``X^T B`` in row parts on two threads (float32 values: float64 B)."""
    monkeypatch.setattr(_kernels, "MIN_PART_NNZ", 50)
    A, dense = random_csr(seed=5, dtype=dtype)
    rng = np.random.default_rng(0)
    B = rng.normal(size=(A.shape[1 - int(transpose)],) + shape[1:])
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        out = _kernels.parallel_product(A, B, transpose)
    finally:
        torch.set_num_threads(before)
    ref = (dense.astype(dtype).T if transpose else dense.astype(dtype)) @ B
    assert out.dtype == np.float64 and out.shape == ref.shape
    np.testing.assert_allclose(out, ref, rtol=1e-12, atol=1e-12)
    empty = _kernels.parallel_product(sp.csr_matrix((0, 4)), np.ones((0, 2)), True)
    assert empty.shape == (4, 2) and not empty.any()


def test_thread_pool_works_in_a_forked_child():
    """A child forked after the pool started gets a pool of its own (the parent's threads do
    not exist there: reusing its pool would wait forever)."""
    import multiprocessing

    _kernels.map_threads(abs, [-1, -2], 2)  # the parent's pool
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(1) as pool:
        assert pool.apply_async(_kernels.map_threads, (abs, [-1, -2], 2)).get(timeout=60) == [1, 2]


@pytest.mark.parametrize("n_classes", [2, 3])
def test_cd_fit_on_parts_and_panels_equals_dense(n_classes, monkeypatch):
    """``solver="cd"`` on sparse data whose Grams and products run in many row parts (two
    threads) and panels, with a dense block: the dense fit's coefficients."""
    from torchlogit import LogisticRegression

    monkeypatch.setattr(_kernels, "MIN_PART_NNZ", 100)
    monkeypatch.setattr(_kernels, "GRAM_PANEL_NNZ", 300)
    A, dense = random_csr(n=600, seed=7)
    rng = np.random.default_rng(2)
    y = rng.integers(0, n_classes, size=A.shape[0])
    y[dense[:, np.argmax((dense != 0).sum(0))] > 0] = 0  # a signal in the densest column
    kw = dict(l1_ratio=1.0, C=0.5, solver="cd", tol=1e-10, max_iter=1000)
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        a = LogisticRegression(**kw).fit(A, y)
        b = LogisticRegression(**kw).fit(dense, y)
    finally:
        torch.set_num_threads(before)
    np.testing.assert_allclose(a.coef_, b.coef_, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(a.intercept_, b.intercept_, rtol=1e-6, atol=1e-8)

"""The inference pass's Grams (``data.weighted_grams``) against NumPy, and the Newton switch
to the exact Hessian against the optimality conditions and the sampled-only path.

``weighted_grams(X, C, fit_intercept)[k]`` must equal ``A^T diag(C[:, k]) A`` with
``A = [X, 1]`` (or ``X``), for weights of any sign, dense float64 / float32 (the float32
numbers' exact products, float64 sums) and sparse rows, including the column groups taken
for wide rows and a last panel shorter than the others.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from torchlogit.data import _kernels, weighted_grams
from torchlogit.data._sparse_input import from_scipy


def _reference(X: np.ndarray, C: np.ndarray, fit_intercept: bool) -> np.ndarray:
    A = np.c_[X, np.ones(len(X))] if fit_intercept else X
    A = A.astype(np.float64)
    return np.stack([A.T @ (A * C[:, [k]]) for k in range(C.shape[1])])


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_dense_grams_match_numpy(fit_intercept, dtype):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(20_011, 7)) * rng.uniform(0.1, 30, size=7)  # short last panel
    C = rng.normal(size=(20_011, 3))  # any sign: score products
    Xt = torch.as_tensor(X, dtype=dtype)
    ref = _reference(Xt.double().numpy(), C, fit_intercept)
    got = weighted_grams(Xt, torch.as_tensor(C), fit_intercept)
    assert got.dtype == torch.float64
    assert got.shape == ref.shape
    np.testing.assert_allclose(got.numpy(), ref, rtol=1e-12, atol=1e-9 * np.abs(ref).max())
    assert torch.equal(got, got.transpose(1, 2))  # symmetric by construction


def test_column_groups_for_wide_rows(monkeypatch):
    """Fewer bytes per panel than one panel of all columns needs: the columns of C in groups
    (one read of X each), the same Grams."""
    monkeypatch.setattr(_kernels, "GRAMS_PANEL_BYTES", 8 * _kernels.GRAMS_MIN_ROWS * 12 * 3)
    rng = np.random.default_rng(1)
    X, C = rng.normal(size=(3000, 11)), rng.uniform(size=(3000, 5))
    got = weighted_grams(torch.as_tensor(X), torch.as_tensor(C), True)
    ref = _reference(X, C, True)
    np.testing.assert_allclose(got.numpy(), ref, rtol=1e-12, atol=1e-10 * np.abs(ref).max())


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_sparse_grams_match_numpy(fit_intercept):
    A = sp.random(500, 9, density=0.2, format="csr", random_state=2)
    C = np.random.default_rng(2).normal(size=(500, 2))
    X = from_scipy(A, dtype=torch.float64, device=torch.device("cpu"))
    got = weighted_grams(X, torch.as_tensor(C), fit_intercept)
    ref = _reference(A.toarray(), C, fit_intercept)
    np.testing.assert_allclose(got.numpy(), ref, rtol=1e-12, atol=1e-12)

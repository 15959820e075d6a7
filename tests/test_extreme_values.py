"""Values too large for the working dtype end in one clear error (#13 item 16, data part).

``C=1e-320`` was reported as "penalty strengths must be >= 0" (1 / (C S) overflowed); features
scaled by 1e154 or class weights of 1e308 raised a raw ``_LinAlgError`` from ``eigh`` with
Newton, and L-BFGS silently returned the all-zero model.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from torchlogit import LogisticRegression
from torchlogit.data import ArraySource


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((200, 3))
    return X, (X[:, 0] + 0.3 * rng.logistic(size=200) > 0).astype(int)


def test_tiny_C_names_C(data):
    X, y = data
    with pytest.raises(ValueError, match=r"C=1e-320 is too small: .* overflows torch.float64"):
        LogisticRegression(C=1e-320).fit(X, y)
    with pytest.raises(ValueError, match=r"C=1e-300 is too small: .* overflows torch.float32"):
        LogisticRegression(C=1e-300, dtype=torch.float32).fit(X, y)
    LogisticRegression(C=1e-300).fit(X, y)  # float64: a strength of 5e297 is a number


@pytest.mark.parametrize("solver", ["auto", "lbfgs", "newton"])
def test_features_too_large(data, solver):
    X, y = data
    with pytest.raises(ValueError, match=r"Input X has values up to 3.\d+e\+154 .*Scale"):
        LogisticRegression(solver=solver).fit(X * 1e154, y)
    with pytest.raises(ValueError, match=r"Input X has values up to .*too large"):
        LogisticRegression(solver=solver).fit(sp.csr_matrix(X * 1e154), y)
    with pytest.raises(ValueError, match=r"ArraySource.* has values up to .*too large"):
        LogisticRegression(solver=solver).fit(ArraySource(X * 1e154, y, chunk_rows=50))


@pytest.mark.parametrize("solver", ["auto", "lbfgs"])
def test_class_weights_too_large(data, solver):
    X, y = data
    with pytest.raises(ValueError, match=r"sample weights \(after class_weight\) sum to inf"):
        LogisticRegression(solver=solver, class_weight={0: 1e308, 1: 1.0}).fit(X, y)
    with pytest.raises(ValueError, match=r"sample weights \(after class_weight\) sum to inf"):
        LogisticRegression(solver=solver, class_weight={0: 1e308, 1: 1.0}).fit(
            ArraySource(X, y, chunk_rows=50)
        )


def test_linalg_failure_is_reported_at_the_engine(data, monkeypatch):
    from torchlogit.solvers import NewtonSolver

    def broken(self, objective, coef0, resume=None):
        raise torch.linalg.LinAlgError("linalg.eigh: The algorithm failed to converge")

    monkeypatch.setattr(NewtonSolver, "solve", broken)
    X, y = data
    with pytest.raises(ValueError, match=r"'newton' failed in its linear algebra .*too large"):
        LogisticRegression(solver="newton").fit(X, y)

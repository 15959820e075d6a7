"""Strong-rule screening on L1 / elastic-net paths: the same path as without it (to the
solver's tolerance, the same zeros), with fewer columns fitted, and a discarded column that
violates its KKT condition brought back by the refit."""

import dataclasses

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from torchlogit import LogisticRegression, fitting, l1_min_c
from torchlogit.data import prepare

D = 60


def _problem(n_classes, sparse, n=300, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, D)) * (rng.uniform(size=(n, D)) < 0.3)
    W = np.zeros((n_classes, D))
    W[:, :6] = rng.standard_normal((n_classes, 6)) * 1.5
    y = np.argmax(X @ W.T + rng.gumbel(size=(n, n_classes)), axis=1)
    sw = rng.uniform(0.5, 2.0, n)
    return (sp.csr_matrix(X) if sparse else X), y, sw


def _training(X, y, sw):
    return prepare(X, y, sw, validator=LogisticRegression())


def _paths(spec, training, Cs):
    cols = []
    screened = fitting.fit_path(spec, training, Cs, screening=True, columns=cols)
    full = fitting.fit_path(spec, training, Cs, screening=False)
    return screened, full, cols


@pytest.mark.parametrize(
    "n_classes, sparse, ratio", [(2, False, None), (2, True, None), (3, True, 0.7)]
)
def test_screened_path_equals_unscreened(n_classes, sparse, ratio):
    X, y, sw = _problem(n_classes, sparse)
    factor = np.ones(D)
    factor[7] = 0.0  # an unpenalised feature is always fitted
    factor[8] = 2.5
    spec = fitting.FitSpec(
        penalty="l1" if ratio is None else "elasticnet",
        l1_ratio=ratio,
        penalty_factor=factor,
        tol=1e-10,
        max_iter=2000,
    )
    c0 = l1_min_c(X, y, sample_weight=sw, penalty_factor=factor, l1_ratio=ratio or 1.0)
    Cs = np.logspace(np.log10(c0), np.log10(c0) + 1.5, 12)  # steps of x1.37
    training = _training(X, y, sw)
    screened, full, cols = _paths(spec, training, Cs)
    for a, b in zip(screened, full, strict=True):
        np.testing.assert_allclose(a.coef.numpy(), b.coef.numpy(), rtol=0, atol=1e-8)
        assert torch.equal(a.coef[:, :D] == 0, b.coef[:, :D] == 0)
    assert any((r.coef[:, :D] != 0).sum() > 3 for r in full)  # a path with a support
    assert cols[0] == D  # the first point: no previous solution to screen with
    assert sum(c < D / 2 for c in cols) >= 4  # the strong-penalty steps fit few columns
    support = [int((r.coef[:, :D] != 0).any(dim=0).sum()) for r in full]
    assert all(c >= s for c, s in zip(cols, support, strict=True))


def test_a_violated_kkt_condition_is_refitted():
    # A "previous point" whose gradient and thresholds are zero makes the strong rule discard
    # every column outside the (tiny) previous support: the KKT check must find the ones that
    # belong in the model at the new C and refit with them.
    X, y, sw = _problem(2, False)
    training = _training(X, y, sw)
    spec = fitting.FitSpec(penalty="l1", tol=1e-10, max_iter=2000)
    c0 = l1_min_c(X, y, sample_weight=sw)
    first = fitting.fit(dataclasses.replace(spec, C=c0 * 1.5), training)
    fake = fitting.fit_screened(dataclasses.replace(spec, C=c0 * 1.5), training, None)
    zero = torch.zeros_like(fake.gradient)
    fake = dataclasses.replace(fake, gradient=zero, thresholds=zero)
    later = dataclasses.replace(spec, C=c0 * 30)
    got = fitting.fit_screened(later, training, fake)
    want = fitting.fit(later, training, warm_start=(first.coef, first.classes))
    start = int((first.coef[0, :D] != 0).sum())
    n_support = int((want.coef[0, :D] != 0).sum())
    assert n_support > start  # columns had to come back
    assert got.n_columns >= n_support
    np.testing.assert_allclose(got.result.coef.numpy(), want.coef.numpy(), rtol=0, atol=1e-8)
    assert torch.equal(got.result.coef == 0, want.coef == 0)

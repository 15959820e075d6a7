"""float32 data, float64 Hessian (issue #17 item 3).

With collinear columns only the L2 penalty ``1 / (C S)`` makes the Hessian definite; a Gram
assembled in float32 carries rounding as large, so Newton's Cholesky failed and it fell back
to damped eigensteps (more iterations). The Hessian is now accumulated in float64 from the
float32 numbers. Checked here against NumPy float64 (the exact Hessian of the same float32
numbers), and on fits: float32 Newton takes float64's iterations, never falls back to the
eigendecomposition, and reaches float64's objective (evaluated in NumPy float64).
"""

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from sklearn.datasets import make_classification

from torchlogit import LogisticRegression
from torchlogit.data import InMemoryData
from torchlogit.data._sparse_input import from_scipy
from torchlogit.objective import ElasticNetPenalty, LinearObjective, Point, make_loss
from torchlogit.solvers._prox_newton import working_set_hessian

CPU = torch.device("cpu")


def _b1_like(n=20000, seed=0):
    """B1's recipe (25 of 100 columns exactly redundant) at a small size."""
    return make_classification(
        n, 40, n_informative=20, n_redundant=10, flip_y=0.05, class_sep=0.8, random_state=seed
    )


def _objective(X, y, sw, n_classes, l2, dtype, sparse=False):
    Xt = (
        from_scipy(sp.csr_matrix(X), dtype=dtype, device=CPU)
        if sparse
        else torch.as_tensor(X, dtype=dtype)
    )
    # S summed in float64 (InMemoryData would sum float32 weights in float32)
    S = float(np.asarray(sw, dtype=np.float64).sum())
    data = InMemoryData(Xt, torch.as_tensor(y), torch.as_tensor(sw, dtype=dtype), weight_sum=S)
    d = X.shape[1]
    return LinearObjective(
        make_loss(n_classes), data, ElasticNetPenalty(0.0, l2, d), fit_intercept=True, n_features=d
    )


def _numpy_hessian(X, sw, raw, l2):
    """``X_a^T diag(s h) X_a / S + l2 diag(1, ..., 1, 0)`` in NumPy float64 (block per class
    pair, ``h_kl = p_k (delta_kl - p_l)``; binary ``p (1 - p)``)."""
    Xa = np.hstack([X, np.ones((X.shape[0], 1))])
    n, p = Xa.shape
    if raw.shape[1] == 1:
        q = 1.0 / (1.0 + np.exp(-raw[:, 0]))
        H = (Xa * (sw * q * (1 - q))[:, None]).T @ Xa
    else:
        P = np.exp(raw - raw.max(axis=1, keepdims=True))
        P /= P.sum(axis=1, keepdims=True)
        m = P.shape[1]
        H = np.zeros((m * p, m * p))
        for k in range(m):
            for j in range(m):
                h = P[:, k] * ((k == j) - P[:, j])
                H[k * p : (k + 1) * p, j * p : (j + 1) * p] = (Xa * (sw * h)[:, None]).T @ Xa
    H /= sw.sum()
    pen = np.tile(np.r_[np.full(p - 1, l2), 0.0], H.shape[0] // p)
    return H + np.diag(pen)


def _rel(A, B):
    return float(np.abs(A - B).max() / np.abs(B).max())


@pytest.mark.parametrize("n_classes", [2, 3])
@pytest.mark.parametrize("sparse", [False, True])
def test_float32_hessian_is_the_float64_hessian_of_its_numbers(n_classes, sparse):
    X, y = make_classification(
        3000, 12, n_informative=6, n_redundant=3, n_classes=n_classes, random_state=1
    )
    if sparse:
        X[np.abs(X) < 0.8] = 0.0
    sw = np.random.default_rng(0).uniform(0.5, 2.0, size=X.shape[0])
    X32, sw32 = X.astype(np.float32), sw.astype(np.float32)
    l2 = 1e-5
    obj = _objective(X32, y, sw32, n_classes, l2, torch.float32, sparse)
    coef = 0.3 * torch.randn(*obj.coef_shape, generator=torch.Generator().manual_seed(2))
    coef = coef.to(torch.float32)
    pt = obj.point(coef)
    raw = pt.raw[0].double().numpy()
    ref = _numpy_hessian(X32.astype(np.float64), sw32.astype(np.float64), raw, l2)
    H = obj.hessian(pt)
    assert H.dtype == torch.float64
    assert _rel(H.numpy(), ref) < 1e-12
    H2 = obj.value_gradient_hessian(coef)[2]
    assert H2.dtype == torch.float64
    assert _rel(H2.numpy(), ref) < 1e-12
    # cd's working-set Hessian, every column (intercept last)
    Hw = working_set_hessian(obj, coef, torch.arange(X.shape[1]))
    assert Hw.dtype == torch.float64
    assert _rel(Hw.numpy(), ref) < 1e-12


@pytest.mark.parametrize("n_classes", [2, 3])
def test_float32_sampled_hessian_matches_float64_on_the_same_numbers(n_classes):
    """The row-sampled Hessian (Newton's default on large data) from float32 rows equals the
    float64 objective's on the same rows, raw predictions and sample."""
    X, y = make_classification(4000, 10, n_informative=5, n_classes=n_classes, random_state=3)
    X32 = X.astype(np.float32)
    sw = np.ones(X.shape[0], dtype=np.float32)
    obj32 = _objective(X32, y, sw, n_classes, 1e-5, torch.float32)
    obj64 = _objective(X32.astype(np.float64), y, sw, n_classes, 1e-5, torch.float64)
    coef = (0.2 * torch.randn(*obj32.coef_shape, generator=torch.Generator().manual_seed(4))).to(
        torch.float32
    )
    pt32 = obj32.point(coef)
    pt64 = Point(coef.double(), pt32.value.double(), pt32.gradient.double(), [pt32.raw[0].double()])
    H32 = obj32.hessian(pt32, row_fraction=0.3, seed=5)
    H64 = obj64.hessian(pt64, row_fraction=0.3, seed=5)
    assert H32.dtype == torch.float64
    assert _rel(H32.numpy(), H64.numpy()) < 1e-12


def _sk_objective(X, y, coef, intercept, C):
    """scikit-learn's binary objective ``C sum logloss + ||w||^2 / 2`` in NumPy float64."""
    z = X @ coef.astype(np.float64).ravel() + float(intercept[0])
    s = 2.0 * y - 1.0
    return C * np.logaddexp(0.0, -s * z).sum() + 0.5 * float(np.sum(coef.astype(np.float64) ** 2))


def test_float32_newton_takes_float64_iterations_without_eigensteps(monkeypatch):
    """C = 100 on 20,000 rows: a penalty ``1 / (C S) = 5e-7`` on the collinear columns, as
    small as B1's at 200,000 rows; a float32 Gram failed Cholesky here (3 eigensteps)."""
    C = 100.0
    X, y = _b1_like()
    calls = {"eigh": 0}
    eigh = torch.linalg.eigh

    def spy(*args, **kwargs):
        calls["eigh"] += 1
        return eigh(*args, **kwargs)

    monkeypatch.setattr(torch.linalg, "eigh", spy)
    fits = {}
    for dt in (np.float64, np.float32):
        calls["eigh"] = 0
        m = LogisticRegression(solver="newton", C=C, tol=1e-6).fit(X.astype(dt), y)
        f = _sk_objective(X, y, m.coef_, m.intercept_, C)
        fits[dt] = (int(m.n_iter_[0]), calls["eigh"], f)
    it64, _, f64 = fits[np.float64]
    it32, eig32, f32 = fits[np.float32]
    assert eig32 == 0
    assert abs(it32 - it64) <= 1
    assert (f32 - f64) / abs(f64) < 1e-6


def test_float32_cd_reaches_float64_objective():
    """``cd`` (proximal Newton, L2 here) on float32 data: float64's objective to 1e-6."""
    X, y = _b1_like(6000)
    objs = {}
    for dt in (np.float64, np.float32):
        m = LogisticRegression(solver="cd", C=100.0, tol=1e-6).fit(X.astype(dt), y)
        objs[dt] = _sk_objective(X, y, m.coef_, m.intercept_, 100.0)
    assert (objs[np.float32] - objs[np.float64]) / abs(objs[np.float64]) < 1e-6


def test_float32_unpenalised_collinear_newton_matches_float64():
    """No penalty, collinear columns: float32 rounding makes the redundant columns only
    nearly collinear (eigenvalues ~ u^2 lambda_max, which a float64 Hessian resolves) while
    the float32 gradient along them is noise; Newton must not follow it (it did, to
    coefficients of 1e6, before the noise-resolved test of the direction)."""
    X, y = make_classification(
        5000, 20, n_informative=10, n_redundant=5, flip_y=0.1, random_state=0
    )
    objs, norms = {}, {}
    for dt in (np.float64, np.float32):
        m = LogisticRegression(solver="newton", C=np.inf, tol=1e-6).fit(X.astype(dt), y)
        z = X @ m.coef_.astype(np.float64).ravel() + float(m.intercept_[0])
        objs[dt] = np.logaddexp(0.0, -(2.0 * y - 1.0) * z).sum()
        norms[dt] = float(np.abs(m.coef_).max())
    assert (objs[np.float32] - objs[np.float64]) / abs(objs[np.float64]) < 1e-6
    assert norms[np.float32] < 2 * norms[np.float64]


def test_the_weight_sum_of_float32_weights_is_summed_in_float64():
    """``S`` divides the objective: summed in float32, 20M weights of 0.1 lose 5.6e-7 of it
    (1999999.0 against 2000000.13), which rescales the penalty and the stopping test."""
    n = 20_000_001
    sw = torch.full((n,), 0.1, dtype=torch.float32)
    data = InMemoryData(torch.zeros(n, 1), torch.zeros(n, dtype=torch.long), sw)
    exact = float(sw.double().sum())
    assert abs(float(sw.sum()) - exact) > 1e-7 * exact  # float32 summation would be off
    assert data.weight_sum == pytest.approx(exact, rel=1e-12)

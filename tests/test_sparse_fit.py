"""Fitting on sparse input: the same model as on the dense matrix, scikit-learn's optimum,
exact objective derivatives, the Newton-CG solver, and no densification of X anywhere.
"""

import os
import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from sklearn.linear_model import LogisticRegression as SkLogisticRegression

import torchlogit
from _penalty_api import penalty_params
from torchlogit import LogisticRegression
from torchlogit.data import InMemoryData
from torchlogit.data._sparse_input import from_scipy
from torchlogit.objective import ElasticNetPenalty, LinearObjective, make_loss
from torchlogit.solvers import SOLVERS, choose_solver
from torchlogit.solvers._newton_cg import conjugate_gradient

CPU = torch.device("cpu")


def make_problem(n=300, d=30, n_classes=2, density=0.2, seed=0):
    """Sparse X with empty rows/columns and labels from a logistic model (not separable)."""
    rng = np.random.default_rng(seed)
    X = sp.random(n, d, density=density, format="csr", random_state=seed)
    X.data = rng.normal(size=X.data.shape)
    X = X.tolil()
    X[5, :] = 0
    X[:, 3] = 0
    X = X.tocsr()
    X.eliminate_zeros()
    W = rng.normal(size=(n_classes, d))
    logits = X @ W.T + rng.gumbel(size=(n, n_classes))
    y = logits.argmax(axis=1)
    return X, y


def sklearn_objective(coef, intercept, X, y, C, sample_weight=None, penalty="l2", l1_ratio=0):
    """scikit-learn's primal objective, computed in NumPy (independent of torchlogit)."""
    sw = np.ones(X.shape[0]) if sample_weight is None else sample_weight
    Z = X @ coef.T + intercept
    if coef.shape[0] == 1:
        z = Z[:, 0]
        loss = np.logaddexp(0, z) - (y == 1) * z
    else:
        loss = np.logaddexp.reduce(Z, axis=1) - Z[np.arange(len(y)), y]
    r = 0.0
    if penalty == "l2":
        r = 0.5 * np.sum(coef**2)
    elif penalty == "l1":
        r = np.sum(np.abs(coef))
    elif penalty == "elasticnet":
        r = l1_ratio * np.sum(np.abs(coef)) + (1 - l1_ratio) / 2 * np.sum(coef**2)
    return C * np.sum(sw * loss) + r


def _penalty_cases():
    """(penalty, l1_ratio, solver) for every registered solver and the penalties it takes."""
    cases = []
    for name, cls in sorted(SOLVERS.items()):
        pens = [("l2", None), (None, None)]
        if cls.capabilities.proximal:
            pens += [("l1", None), ("elasticnet", 0.5)]
        for pen, ratio in pens:
            cases.append(pytest.param(pen, ratio, name, id=f"{name}-{pen}"))
    return cases


@pytest.mark.parametrize("n_classes", [2, 3])
@pytest.mark.parametrize(("penalty", "l1_ratio", "solver"), _penalty_cases())
def test_sparse_equals_dense(penalty, l1_ratio, solver, n_classes):
    X, y = make_problem(n_classes=n_classes, seed=n_classes)
    rng = np.random.default_rng(1)
    sw = rng.uniform(0.5, 2.0, size=X.shape[0])
    kw = dict(
        solver=solver,
        C=0.5,
        tol=1e-10,
        max_iter=5000,
        class_weight={0: 1.0, 1: 2.0},
    )
    kw.update(penalty_params(penalty, l1_ratio))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # C=np.inf may be near-separable
        a = LogisticRegression(**kw).fit(X, y, sample_weight=sw)
        b = LogisticRegression(**kw).fit(X.toarray(), y, sample_weight=sw)
    np.testing.assert_allclose(a.coef_, b.coef_, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(a.intercept_, b.intercept_, rtol=1e-6, atol=1e-8)
    # the two fits agree to the solvers' tolerance; one model predicts the same on both inputs
    np.testing.assert_allclose(a.predict_proba(X), b.predict_proba(X.toarray()), atol=1e-7)
    Xd = X.toarray()
    np.testing.assert_allclose(
        a.decision_function(X), a.decision_function(Xd), rtol=1e-12, atol=1e-12
    )
    np.testing.assert_allclose(a.predict_proba(X), a.predict_proba(Xd), rtol=1e-12, atol=1e-15)
    np.testing.assert_array_equal(a.predict(X), a.predict(Xd))


@pytest.mark.parametrize("n_classes", [2, 4])
@pytest.mark.parametrize("solver", ["auto", "lbfgs", "newton", "newton-cg"])
def test_sparse_matches_sklearn_objective(solver, n_classes):
    """torchlogit's optimum is scikit-learn's: objective equal to 1e-9 relative, KKT."""
    X, y = make_problem(n=400, d=40, n_classes=n_classes, seed=7)
    C = 2.0
    ours = LogisticRegression(C=C, solver=solver, tol=1e-10, max_iter=1000).fit(X, y)
    ref = SkLogisticRegression(C=C, tol=1e-12, max_iter=10000).fit(X, y)
    f_ours = sklearn_objective(ours.coef_, ours.intercept_, X, y, C)
    f_ref = sklearn_objective(ref.coef_, ref.intercept_, X, y, C)
    assert f_ours <= f_ref * (1 + 1e-9)
    np.testing.assert_allclose(ours.coef_, ref.coef_, rtol=1e-4, atol=1e-5)
    # first-order optimality on scikit-learn's objective (binary: one column of logits)
    P = ours.predict_proba(X)
    Y = np.eye(n_classes)[y]
    if n_classes == 2:
        grad_w = C * (X.T @ (P[:, 1] - y)) + ours.coef_[0]
        grad_b = C * np.sum(P[:, 1] - y)
    else:
        grad_w = C * (X.T @ (P - Y)).T + ours.coef_
        grad_b = C * np.sum(P - Y, axis=0)
    assert np.abs(grad_w).max() < 1e-6 * X.shape[0] * C
    assert np.abs(grad_b).max() < 1e-6 * X.shape[0] * C


# Exact solvers for L1: the stochastic ones (driven by mini-batches) stop in a neighbourhood of
# the optimum by design; their sparse path is covered by test_sparse_equals_dense.
_NONSMOOTH = sorted(
    name
    for name, cls in SOLVERS.items()
    if cls.capabilities.proximal and not cls.capabilities.minibatch
)


@pytest.mark.skipif(not _NONSMOOTH, reason="no L1 solver registered")
@pytest.mark.parametrize("solver", _NONSMOOTH or ["none"])
@pytest.mark.parametrize("penalty", ["l1", "elasticnet"])
def test_sparse_l1_matches_sklearn(solver, penalty):
    """L1 / elastic-net on sparse X: scikit-learn's optimum (liblinear for L1 without
    intercept, which then solves the same problem; saga for elastic-net), and the KKT
    conditions of scikit-learn's objective."""
    X, y = make_problem(n=300, d=40, seed=21)
    C, ratio = 0.3, (0.5 if penalty == "elasticnet" else None)
    ours = LogisticRegression(
        **penalty_params(penalty, ratio), C=C, fit_intercept=False, solver=solver, tol=1e-10
    ).fit(X, y)
    # scikit-learn >= 1.8 spelling: l1_ratio=1 is L1 (penalty= is deprecated)
    solver_ref = "liblinear" if penalty == "l1" else "saga"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # liblinear stalls short of 1e-10; KKT is checked below
        ref = SkLogisticRegression(
            l1_ratio=1.0 if penalty == "l1" else 0.5,
            C=C,
            solver=solver_ref,
            fit_intercept=False,
            tol=1e-10,
            max_iter=10_000,
        ).fit(X, y)
    kw = dict(penalty=penalty, l1_ratio=ratio or 0)
    f_ours = sklearn_objective(ours.coef_, 0.0, X, y, C, **kw)
    f_ref = sklearn_objective(ref.coef_, 0.0, X, y, C, **kw)
    assert f_ours <= f_ref * (1 + 1e-9)
    np.testing.assert_allclose(ours.coef_, ref.coef_, atol=1e-4)
    # KKT: |grad_j| <= l1 where w_j = 0, grad_j = -l1 sign(w_j) elsewhere
    l1 = 1.0 if penalty == "l1" else 0.5
    w = ours.coef_[0]
    grad = C * (X.T @ (ours.predict_proba(X)[:, 1] - y)) + (1 - l1) * w
    zero = w == 0
    assert np.all(np.abs(grad[zero]) <= l1 + 1e-7)
    np.testing.assert_allclose(grad[~zero], -l1 * np.sign(w[~zero]), atol=1e-7)
    assert zero.any() and (~zero).any()


def test_sparse_float32_close_to_float64():
    X, y = make_problem(seed=11)
    a = LogisticRegression(tol=1e-5).fit(X.astype(np.float32), y)
    b = LogisticRegression(tol=1e-10).fit(X, y)
    assert a.coef_.dtype == np.float32
    np.testing.assert_allclose(a.coef_, b.coef_, rtol=1e-3, atol=1e-4)
    assert a.predict_proba(X.astype(np.float32)).dtype == np.float32


def test_torch_sparse_in_tensor_out():
    X, y = make_problem(n_classes=3, seed=4)
    D = torch.from_numpy(X.toarray())
    yt = torch.from_numpy(y)
    ref = LogisticRegression(tol=1e-10).fit(X, y)
    for T in [D.to_sparse(), D.to_sparse_csr(), D.to_sparse_csc()]:
        clf = LogisticRegression(tol=1e-10).fit(T, yt)
        np.testing.assert_allclose(clf.coef_, ref.coef_, rtol=1e-6, atol=1e-10)
        proba = clf.predict_proba(T)
        assert isinstance(proba, torch.Tensor)
        np.testing.assert_allclose(proba.numpy(), ref.predict_proba(X), atol=1e-10)
        assert torch.equal(clf.predict(T), torch.from_numpy(ref.predict(X)))


def test_sample_weight_two_equals_repeated_row_sparse():
    X, y = make_problem(seed=5)
    sw = np.ones(X.shape[0])
    sw[:20] = 2.0
    a = LogisticRegression(tol=1e-10).fit(X, y, sample_weight=sw)
    Xr = sp.vstack([X, X[:20]]).tocsr()
    yr = np.concatenate([y, y[:20]])
    b = LogisticRegression(tol=1e-10).fit(Xr, yr)
    np.testing.assert_allclose(a.coef_, b.coef_, rtol=1e-7, atol=1e-10)


def test_dense_predict_after_sparse_fit_and_back():
    X, y = make_problem(seed=6)
    clf = LogisticRegression().fit(X, y)
    np.testing.assert_allclose(clf.decision_function(X.toarray()), clf.decision_function(X))
    np.testing.assert_allclose(clf.decision_function(X.tocsc()), clf.decision_function(X))


# ---------------------------------------------------------------------- objective on sparse X
def _objectives(n_classes, fit_intercept=True):
    X, y = make_problem(n=80, d=12, n_classes=n_classes, seed=9)
    sw = torch.from_numpy(np.random.default_rng(0).uniform(0.5, 2, X.shape[0]))
    yt = torch.from_numpy(y)
    Xs = from_scipy(X, dtype=torch.float64, device=CPU)
    Xd = torch.from_numpy(X.toarray())
    out = []
    for Xm in (Xs, Xd):
        data = InMemoryData(Xm, yt, sw)
        pen = ElasticNetPenalty(0.0, 0.3, X.shape[1])
        out.append(
            LinearObjective(
                make_loss(n_classes), data, pen, fit_intercept=fit_intercept, n_features=12
            )
        )
    return out


@pytest.mark.parametrize("n_classes", [2, 3])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_objective_sparse_equals_dense(n_classes, fit_intercept):
    sparse, dense = _objectives(n_classes, fit_intercept)
    g = torch.Generator().manual_seed(0)
    coef = torch.randn(*sparse.coef_shape, generator=g, dtype=torch.float64) * 0.3
    v = torch.randn(*sparse.coef_shape, generator=g, dtype=torch.float64)
    fs, gs, Hs = sparse.value_gradient_hessian(coef)
    fd, gd, Hd = dense.value_gradient_hessian(coef)
    torch.testing.assert_close(fs, fd)
    torch.testing.assert_close(gs, gd)
    torch.testing.assert_close(Hs, Hd)
    torch.testing.assert_close(sparse.hessian_product(coef, v), dense.hessian_product(coef, v))
    torch.testing.assert_close(sparse.hessian_operator(coef)(v), dense.hessian_product(coef, v))
    torch.testing.assert_close(
        (Hd @ v.reshape(-1)).reshape(v.shape), dense.hessian_product(coef, v)
    )
    # the Hessian diagonal (Newton-CG's preconditioner) is the diagonal of H, dense and sparse
    torch.testing.assert_close(sparse.hessian_diagonal(coef).reshape(-1), Hd.diagonal())
    torch.testing.assert_close(dense.hessian_diagonal(coef).reshape(-1), Hd.diagonal())


def test_gradient_matches_finite_differences_sparse():
    sparse, _ = _objectives(3)
    coef = torch.full(sparse.coef_shape, 0.1, dtype=torch.float64)
    _, g = sparse.value_gradient(coef)
    eps = 1e-6
    for idx in [(0, 0), (1, 5), (2, 12)]:
        e = torch.zeros_like(coef)
        e[idx] = eps
        fd = (sparse.value(coef + e) - sparse.value(coef - e)) / (2 * eps)
        assert abs(float(fd) - float(g[idx])) < 1e-8


# ---------------------------------------------------------------------- solver choice, CG
def test_choose_solver_sparse():
    pen = ElasticNetPenalty(0.0, 1.0, 10)
    assert choose_solver(n_samples=100, n_parameters=11, penalty=pen, sparse=True) == "newton"
    assert (
        choose_solver(n_samples=100, n_parameters=50_001, penalty=pen, sparse=True) == "newton-cg"
    )
    assert choose_solver(n_samples=100, n_parameters=500, penalty=pen, sparse=False) == "newton"
    X, y = make_problem(d=400, density=0.02)
    assert LogisticRegression(max_iter=5).fit(X, y).solver_ == "newton-cg"
    assert LogisticRegression(max_iter=5).fit(X.toarray(), y).solver_ == "newton"


def test_conjugate_gradient_solves_spd_system():
    g = torch.Generator().manual_seed(3)
    A = torch.randn(20, 20, generator=g, dtype=torch.float64)
    H = A @ A.T + torch.diag(torch.logspace(-1, 3, 20, dtype=torch.float64))
    b = torch.randn(20, generator=g, dtype=torch.float64)
    exact = -torch.linalg.solve(H, b)
    for pre in (None, H.diagonal()):
        d, k = conjugate_gradient(lambda v: H @ v, b, rtol=1e-12, max_iter=200, precond=pre)
        torch.testing.assert_close(d, exact, rtol=1e-8, atol=1e-10)
        assert k <= 200
    # non-positive curvature on the first direction: a descent direction is still returned
    d, k = conjugate_gradient(lambda v: -v, b, rtol=1e-6, max_iter=10)
    assert k == 1 and float(d @ b) < 0


def test_newton_cg_on_dense_equals_newton():
    X, y = make_problem(n_classes=3, seed=12)
    Xd = X.toarray()
    a = LogisticRegression(solver="newton-cg", tol=1e-10).fit(Xd, y)
    b = LogisticRegression(solver="newton", tol=1e-10).fit(Xd, y)
    np.testing.assert_allclose(a.coef_, b.coef_, rtol=1e-7, atol=1e-10)
    assert a.converged_


# ---------------------------------------------------------------------- never densified
_HUGE = """
import resource, warnings
import numpy as np, scipy.sparse as sp
from torchlogit import LogisticRegression

n, d, k = 1_000_000, 2_000_000, 20  # dense float64 would be 16 TB
rng = np.random.default_rng(0)
cols = np.cumsum(rng.integers(1, d // k, size=(n, k), dtype=np.int32), axis=1, dtype=np.int32)
X = sp.csr_matrix(
    (rng.random(n * k), cols.reshape(-1), np.arange(0, n * k + 1, k, dtype=np.int64)),
    shape=(n, d),
)
del cols
z = X @ rng.normal(size=d)
y = (z > np.median(z)).astype(np.int64)
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    clf = LogisticRegression(solver="lbfgs", tol=0.0, max_iter=2).fit(X, y)
assert clf.coef_.shape == (1, d) and clf.n_iter_[0] == 2, clf.n_iter_
assert np.count_nonzero(clf.coef_) > d // 2
assert clf.predict_proba(X[:1000]).shape == (1000, 2)
assert clf.predict(X).shape == (n,)
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)  # KiB on Linux
"""


@pytest.mark.slow
def test_huge_sparse_fit_never_densifies():
    """1e6 x 2e6 with 20 non-zeros a row: 2e7 stored values (~0.4 GB as CSR) while the dense
    matrix would need 16 TB. Fit two L-BFGS iterations and predict in a fresh process and
    bound its peak resident memory: any dense copy of X (or of a slice of rows or columns of
    useful size) would fail to allocate or blow the bound."""
    src = os.path.dirname(os.path.dirname(torchlogit.__file__))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([src, os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(_HUGE)],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    peak_gib = int(proc.stdout.strip().splitlines()[-1]) / 2**20
    assert peak_gib < 2.5, f"peak RSS {peak_gib:.2f} GiB"


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("n_classes", [2, 3])
def test_cuda_sparse_fit_equals_cpu(n_classes):
    X, y = make_problem(n_classes=n_classes, seed=13)
    ref = LogisticRegression(tol=1e-10, solver="newton-cg").fit(X, y)
    T = torch.from_numpy(X.toarray()).cuda().to_sparse_csr()
    for solver in ["newton", "newton-cg", "lbfgs"]:
        clf = LogisticRegression(tol=1e-10, solver=solver).fit(T, torch.from_numpy(y).cuda())
        np.testing.assert_allclose(clf.coef_, ref.coef_, rtol=1e-6, atol=1e-9)
        assert clf.predict_proba(T).device.type == "cuda"
    clf = LogisticRegression(tol=1e-10, device="cuda").fit(X, y)
    np.testing.assert_allclose(clf.coef_, ref.coef_, rtol=1e-6, atol=1e-9)


def test_partial_fit_sparse_equals_dense():
    X, y = make_problem(n=400, d=30, seed=17)
    a, b = LogisticRegression(), LogisticRegression()
    for start in range(0, 400, 100):
        a.partial_fit(X[start : start + 100], y[start : start + 100], classes=[0, 1])
        b.partial_fit(X[start : start + 100].toarray(), y[start : start + 100], classes=[0, 1])
    np.testing.assert_allclose(a.coef_, b.coef_, rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(a.intercept_, b.intercept_, rtol=1e-10, atol=1e-14)
    assert np.abs(a.coef_).max() > 0

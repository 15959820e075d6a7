"""L1 / elastic-net fits of the proximal solvers ("cd": proximal Newton, "fista") against
scikit-learn's saga at a tight tolerance, an independent L-BFGS-B reference on the split
``W = P - N``, and the KKT conditions computed in NumPy."""

import warnings

import numpy as np
import pytest
import torch
from sklearn.datasets import load_breast_cancer, make_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression as SkLogisticRegression
from sklearn.preprocessing import StandardScaler

from _l1_reference import kkt_violation, objective, reference_fit
from _penalty_api import penalty_params
from torchlogit import LogisticRegression
from torchlogit.objective import ElasticNetPenalty
from torchlogit.solvers import choose_solver

SOLVERS = ["cd", "fista"]
MAX_ITER = {"cd": 100, "fista": 100_000}


def _data(n_classes=2, n=300, d=12, seed=0):
    X, y = make_classification(
        n, d, n_informative=5, n_redundant=2, n_classes=n_classes, random_state=seed
    )
    return StandardScaler().fit_transform(X), y


def _fit(solver, **kw):
    kw.setdefault("tol", 1e-10)
    return LogisticRegression(solver=solver, max_iter=MAX_ITER[solver], **kw)


def _centered(m):
    """Coefficients and intercepts with the intercepts centred (softmax shift invariance)."""
    b = m.intercept_ - (m.intercept_.mean() if m.intercept_.shape[0] > 1 else 0.0)
    return m.coef_, b


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("n_classes", [2, 3])
@pytest.mark.parametrize(
    ("penalty", "l1_ratio", "C"), [("l1", None, 0.05), ("elasticnet", 0.5, 0.1)]
)
def test_matches_sklearn_saga(solver, n_classes, penalty, l1_ratio, C):
    X, y = _data(n_classes)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        sk = SkLogisticRegression(
            l1_ratio=1.0 if l1_ratio is None else l1_ratio,
            C=C,
            solver="saga",
            tol=1e-12,
            max_iter=100_000,
        ).fit(X, y)
    ours = _fit(solver, **penalty_params(penalty, l1_ratio), C=C).fit(X, y)
    assert ours.converged_
    yy = y if n_classes > 2 else y.astype(float)
    ratio = 1.0 if l1_ratio is None else l1_ratio
    f_ours = objective(X, yy, ours.coef_, ours.intercept_, C=C, l1_ratio=ratio)
    f_sk = objective(X, yy, sk.coef_, sk.intercept_, C=C, l1_ratio=ratio)
    assert f_ours <= f_sk * (1 + 1e-8)
    np.testing.assert_array_equal(ours.coef_ != 0, sk.coef_ != 0)
    W, b = _centered(ours)
    W_sk, b_sk = _centered(sk)
    np.testing.assert_allclose(W, W_sk, rtol=1e-4, atol=1e-8)
    np.testing.assert_allclose(b, b_sk, rtol=1e-4, atol=1e-8)


@pytest.mark.parametrize("solver", SOLVERS)
def test_matches_sklearn_on_breast_cancer(solver):
    X, y = load_breast_cancer(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        sk = SkLogisticRegression(
            l1_ratio=1.0, C=0.5, solver="saga", tol=1e-12, max_iter=100_000
        ).fit(X, y)
    ours = _fit(solver, l1_ratio=1.0, C=0.5).fit(X, y)
    f_ours = objective(X, y.astype(float), ours.coef_, ours.intercept_, C=0.5, l1_ratio=1.0)
    f_sk = objective(X, y.astype(float), sk.coef_, sk.intercept_, C=0.5, l1_ratio=1.0)
    assert f_ours <= f_sk * (1 + 1e-8)
    np.testing.assert_array_equal(ours.coef_ != 0, sk.coef_ != 0)
    np.testing.assert_allclose(ours.coef_, sk.coef_, rtol=1e-4, atol=1e-8)


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("n_classes", [2, 3])
def test_kkt_and_reference_with_weights_and_factors(solver, n_classes):
    """Sample weights, class weights and penalty factors (some 0): the KKT conditions in NumPy
    hold within tol, and the objective is no worse than an independent L-BFGS-B fit."""
    X, y = _data(n_classes, n=250, d=8, seed=3)
    rng = np.random.default_rng(0)
    sw = rng.uniform(0.2, 3.0, size=len(y))
    cw = {0: 2.0, 1: 0.5}
    factor = np.array([1.0, 0.0, 2.0, 0.5, 1.0, 3.0, 0.0, 1.0])
    C, l1_ratio, tol = 0.05, 0.7, 1e-9
    m = _fit(
        solver,
        l1_ratio=l1_ratio,
        C=C,
        tol=tol,
        class_weight=cw,
        penalty_factor=factor,
    ).fit(X, y, sample_weight=sw)
    s = sw * np.where(y == 0, 2.0, np.where(y == 1, 0.5, 1.0))
    yy = y if n_classes > 2 else y.astype(float)
    kw = dict(C=C, l1_ratio=l1_ratio, s=s, factor=factor)
    assert m.history_["gradient_norm"][-1] <= tol
    assert kkt_violation(X, yy, m.coef_, m.intercept_, **kw) <= tol * 1.01 + 1e-14
    W_ref, b_ref = reference_fit(X, yy, m.coef_.shape[0], **kw)
    f_ours = objective(X, yy, m.coef_, m.intercept_, **kw)
    f_ref = objective(X, yy, W_ref, b_ref, **kw)
    assert f_ours <= f_ref * (1 + 1e-8)
    if n_classes > 2:  # unpenalised columns are defined up to a shift common to the classes
        W_ref[:, factor == 0] -= W_ref[:, factor == 0].mean(axis=0)
    np.testing.assert_allclose(m.coef_, W_ref, rtol=1e-4, atol=1e-5)
    # unpenalised features are not shrunk to zero; some penalised ones are exactly zero
    assert np.all(m.coef_[:, factor == 0] != 0)
    assert np.any(m.coef_[:, factor > 0] == 0)


@pytest.mark.parametrize("solver", SOLVERS)
def test_without_intercept(solver):
    X, y = _data(2, seed=5)
    m = _fit(solver, l1_ratio=1.0, C=0.05, fit_intercept=False).fit(X, y)
    assert np.all(m.intercept_ == 0)
    kkt = kkt_violation(
        X, y.astype(float), m.coef_, np.zeros(1), C=0.05, l1_ratio=1.0, fit_intercept=False
    )
    assert kkt <= 1e-10 * 1.01 + 1e-14
    W_ref, _ = reference_fit(X, y.astype(float), 1, C=0.05, l1_ratio=1.0, fit_intercept=False)
    np.testing.assert_allclose(m.coef_, W_ref, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("n_classes", [2, 3])
def test_huge_penalty_leaves_only_the_intercept(solver, n_classes):
    X, y = _data(n_classes, seed=1)
    sw = np.random.default_rng(1).uniform(0.5, 2.0, size=len(y))
    # |intercept error| <= violation / curvature (>= 0.2 here): 1e-12 tol gives ~5e-12
    m = _fit(solver, l1_ratio=1.0, C=1e-6, tol=1e-12).fit(X, y, sample_weight=sw)
    assert np.all(m.coef_ == 0)
    share = np.bincount(y, weights=sw) / sw.sum()
    if n_classes == 2:
        np.testing.assert_allclose(m.intercept_, [np.log(share[1] / share[0])], rtol=1e-8)
    else:
        expected = np.log(share) - np.log(share).mean()
        np.testing.assert_allclose(m.intercept_, expected, rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("solver", SOLVERS)
def test_elasticnet_limits_equal_l2_and_l1(solver):
    X, y = _data(3, seed=2)
    l2 = LogisticRegression(C=0.3, solver="newton", tol=1e-10).fit(X, y)
    en0 = _fit(solver, l1_ratio=0.0, C=0.3).fit(X, y)
    np.testing.assert_allclose(en0.coef_, l2.coef_, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(en0.intercept_, l2.intercept_, rtol=1e-6, atol=1e-9)
    other = "fista" if solver == "cd" else "cd"
    l1 = _fit(other, l1_ratio=1.0, C=0.05).fit(X, y)
    en1 = _fit(solver, l1_ratio=1.0, C=0.05).fit(X, y)
    np.testing.assert_array_equal(en1.coef_ != 0, l1.coef_ != 0)
    np.testing.assert_allclose(en1.coef_, l1.coef_, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("solver", SOLVERS)
def test_uniform_penalty_factor_rescales_C(solver):
    """``penalty_factor = c`` everywhere (L1) is the same problem as ``C / c``."""
    X, y = _data(2, seed=4)
    a = _fit(solver, l1_ratio=1.0, C=0.2, penalty_factor=np.full(X.shape[1], 4.0)).fit(X, y)
    b = _fit(solver, l1_ratio=1.0, C=0.05).fit(X, y)
    np.testing.assert_array_equal(a.coef_ != 0, b.coef_ != 0)
    np.testing.assert_allclose(a.coef_, b.coef_, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("solver", SOLVERS)
def test_float32_agrees_with_float64(solver):
    X, y = _data(2, seed=6)
    m64 = _fit(solver, l1_ratio=0.5, C=0.1).fit(X, y)
    m32 = _fit(solver, l1_ratio=0.5, C=0.1, tol=1e-5).fit(X.astype(np.float32), y)
    assert m32.coef_.dtype == np.float32
    f64 = objective(X, y.astype(float), m64.coef_, m64.intercept_, C=0.1, l1_ratio=0.5)
    f32 = objective(
        X,
        y.astype(float),
        m32.coef_.astype(float),
        m32.intercept_.astype(float),
        C=0.1,
        l1_ratio=0.5,
    )
    assert f32 <= f64 * (1 + 1e-6)
    np.testing.assert_allclose(m32.coef_, m64.coef_, atol=1e-3)


def test_cd_converges_in_few_outer_iterations():
    """Proximal Newton: a handful of outer iterations to a tight KKT tolerance."""
    X, y = _data(3, n=2000, d=40, seed=7)
    m = _fit("cd", l1_ratio=0.5, C=0.05, tol=1e-10).fit(X, y)
    assert m.converged_ and m.n_iter_[0] <= 15
    gn = m.history_["gradient_norm"]
    assert gn[-1] <= 1e-10 and gn[0] > 1e-3


def test_auto_picks_cd_on_cpu_and_fista_on_cuda():
    pen = ElasticNetPenalty(0.1, 0.0, 5)
    assert choose_solver(n_samples=100, n_parameters=6, penalty=pen) == "cd"
    assert choose_solver(n_samples=100, n_parameters=6, penalty=pen, device="cpu") == "cd"
    assert choose_solver(n_samples=100, n_parameters=6, penalty=pen, device="cuda") == "fista"
    smooth = ElasticNetPenalty(0.0, 0.1, 5)
    assert choose_solver(n_samples=100, n_parameters=6, penalty=smooth, device="cuda") == "newton"
    X, y = _data(2)
    assert LogisticRegression(l1_ratio=1.0, C=0.1).fit(X, y).solver_ == "cd"


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_cuda_matches_cpu(solver, dtype):
    X, y = _data(3, seed=8)
    tol = 1e-5 if dtype == "float32" else 1e-10
    kw = dict(l1_ratio=0.5, C=0.1, tol=tol, dtype=dtype)
    cpu = _fit(solver, **kw).fit(X, y)
    gpu = _fit(solver, device="cuda", **kw).fit(X, y)
    assert gpu.converged_
    np.testing.assert_allclose(gpu.coef_, cpu.coef_, atol=1e-3 if dtype == "float32" else 1e-7)
    if dtype == "float64":
        np.testing.assert_array_equal(gpu.coef_ != 0, cpu.coef_ != 0)


def _sampled_problem(n_classes, C=0.01, seed=9):
    from torchlogit.data import InMemoryData
    from torchlogit.objective import LinearObjective, make_loss

    X, y = _data(n_classes, n=8_000, d=10, seed=seed)
    data = InMemoryData(torch.tensor(X), torch.tensor(y), torch.ones(len(y), dtype=torch.float64))
    l1_ratio, scale = 0.6, 1.0 / (C * len(y))
    pen = ElasticNetPenalty(l1_ratio * scale, (1 - l1_ratio) * scale, 10)
    return LinearObjective(make_loss(n_classes), data, pen, fit_intercept=True, n_features=10)


def _same_minimiser(a, b, n_classes):
    assert a.converged and b.converged
    torch.testing.assert_close(a.coef != 0, b.coef != 0)
    for res in (a, b):  # the intercepts of a softmax are defined up to a common shift
        res.coef[:, -1] -= res.coef[:, -1].mean() if n_classes > 2 else 0.0
    torch.testing.assert_close(a.coef, b.coef, rtol=1e-7, atol=1e-9)


def _spy_strides(monkeypatch):
    from torchlogit.solvers import _prox_newton

    strides = []
    build = _prox_newton.working_set_hessian

    def spy(objective, coef, cols, *, stride=1):
        strides.append(stride)
        return build(objective, coef, cols, stride=stride)

    monkeypatch.setattr(_prox_newton, "working_set_hessian", spy)
    return strides


@pytest.mark.parametrize("n_classes", [2, 3])
def test_row_sampled_hessian_phase_reaches_the_same_minimiser(n_classes, monkeypatch):
    """The early iterations' Hessian from every 4th row (n >= 200 q) changes the path, not the
    minimiser: same coefficients as with the exact Hessian throughout, same support. On small
    data (iterations, not Grams, are the cost) the sampled phase ends with the global one."""
    from torchlogit.solvers import ProxNewtonCDSolver

    obj = _sampled_problem(n_classes)
    coef0 = torch.zeros(obj.coef_shape, dtype=torch.float64)
    sampled = ProxNewtonCDSolver(tol=1e-11, hessian_stride=4)
    strides = _spy_strides(monkeypatch)
    a = sampled.solve(obj, coef0)
    viol = a.history.gradient_norm
    assert len(strides) == a.n_iter  # no sampled step failed and was retried
    assert strides[0] == 4 and 1 in strides
    for i, stride in enumerate(strides):  # sampled exactly while above 1e-2 of the first
        assert stride == (4 if viol[i] > 1e-2 * viol[0] else 1)
    b = ProxNewtonCDSolver(tol=1e-11, hessian_stride=1).solve(obj, coef0)
    _same_minimiser(a, b, n_classes)


@pytest.mark.parametrize("n_classes", [2, 3])
def test_costly_gram_keeps_the_sampled_hessian_while_it_works(n_classes, monkeypatch):
    """Where the exact Gram dwarfs an iteration's passes (here: newton's thresholds set to 0),
    the sampled Hessian is kept past the global phase exactly while its full steps shrink the
    violation by SAMPLED_RATE_LIMIT (here 0.1, so that the switch happens on this problem:
    its sampled steps shrink it 4-20x), never taken again once one does not; same minimiser."""
    from torchlogit.solvers import ProxNewtonCDSolver, _prox_newton

    monkeypatch.setattr(_prox_newton, "REUSE_MIN_SIZE", 0)
    monkeypatch.setattr(_prox_newton, "REUSE_MIN_GRAM_COST", 0)
    rate = 0.1
    monkeypatch.setattr(_prox_newton, "SAMPLED_RATE_LIMIT", rate)
    obj = _sampled_problem(n_classes, C=1.0)
    coef0 = torch.zeros(obj.coef_shape, dtype=torch.float64)
    strides = _spy_strides(monkeypatch)
    a = ProxNewtonCDSolver(tol=1e-11, hessian_stride=4).solve(obj, coef0)
    viol, steps = a.history.gradient_norm, a.history.step_size
    assert len(strides) == a.n_iter
    assert strides == sorted(strides, reverse=True)  # 4, ..., 4, 1, ...
    past_global = [i for i in range(a.n_iter) if strides[i] == 4 and viol[i] <= 1e-2 * viol[0]]
    assert past_global and 1 in strides  # both branches taken
    for i, stride in enumerate(strides[:-1]):
        if stride == 4:  # iteration i: violation viol[i] -> viol[i + 1], step steps[i + 1]
            works = viol[i] > 1e-2 * viol[0] or steps[i + 1] < 1 or viol[i + 1] <= rate * viol[i]
            assert strides[i + 1] == (4 if works else 1)
    b = ProxNewtonCDSolver(tol=1e-11, hessian_stride=1).solve(obj, coef0)
    _same_minimiser(a, b, n_classes)


@pytest.mark.parametrize("solver", SOLVERS)
def test_resume_from_checkpoint(solver, tmp_path):
    """A fit stopped by max_iter and resumed from its checkpoint ends where an uninterrupted
    one ends (bit for bit for "cd", whose state is the iterate; FISTA restarts its momentum)."""
    X, y = _data(3, n=400, d=10, seed=11)
    kw = dict(l1_ratio=0.7, C=0.05, tol=1e-10)
    full = _fit(solver, **kw).fit(X, y)
    ckpt = tmp_path / "ckpt"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        LogisticRegression(solver=solver, max_iter=2, checkpoint_dir=ckpt, **kw).fit(X, y)
    resumed = _fit(solver, checkpoint_dir=ckpt, **kw).fit(X, y)
    assert resumed.converged_
    if solver == "cd":
        np.testing.assert_array_equal(resumed.coef_, full.coef_)
        assert resumed.n_iter_[0] == full.n_iter_[0]
    else:
        np.testing.assert_array_equal(resumed.coef_ != 0, full.coef_ != 0)
        np.testing.assert_allclose(resumed.coef_, full.coef_, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("solver", SOLVERS)
def test_streamed_parquet_matches_in_memory(solver, tmp_path):
    """The proximal solvers only use the objective's passes: row groups streamed from Parquet
    give the in-memory fit."""
    from _streaming_helpers import write_parquet
    from torchlogit.data import ParquetSource

    X, y = _data(3, n=1500, d=8, seed=12)
    write_parquet(tmp_path / "pq", X, y, row_group_size=256)
    kw = dict(l1_ratio=1.0, C=0.05, tol=1e-10)
    source = ParquetSource(tmp_path / "pq", target="label", chunk_rows=400)
    streamed = _fit(solver, **kw).fit(source)
    in_memory = _fit(solver, **kw).fit(X, y)
    np.testing.assert_array_equal(streamed.coef_ != 0, in_memory.coef_ != 0)
    np.testing.assert_allclose(streamed.coef_, in_memory.coef_, rtol=1e-7, atol=1e-10)

"""A fit on a streaming source equals the in-memory fit (float64, rtol 1e-8)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.datasets import make_classification

from _streaming_helpers import write_csv, write_npy, write_parquet
from torchlogit import LogisticRegression
from torchlogit.data import ArraySource, CSVSource, NumpySource, ParquetSource
from torchlogit.solvers import SOLVERS

TOL = 1e-10


@pytest.fixture(autouse=True)
def _one_thread():
    """Mini-batch steps are tiny matmuls: on a loaded 2-core box OpenMP threads spin."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def _data(n_classes, seed=0, n=600, d=5, labels=None):
    X, y = make_classification(
        n, d, n_informative=4, n_redundant=1, n_classes=n_classes, random_state=seed
    )
    w = np.random.default_rng(seed).uniform(0.2, 3.0, n)
    if labels is not None:
        y = np.asarray(labels)[y]
    return X, y, w


def _source(kind, tmp_path, X, y, w, chunk_rows=211, **kw):
    wcol = None if w is None else "w"
    if kind == "array":
        return ArraySource(X, y, weight=w, chunk_rows=chunk_rows, **kw)
    if kind == "numpy":
        px, py, pw = write_npy(tmp_path / "npy", X, y, w)
        return NumpySource(px, py, weight=pw, chunk_rows=chunk_rows, **kw)
    if kind == "parquet":
        write_parquet(tmp_path / "pq", X, y, w)
        return ParquetSource(
            tmp_path / "pq", target="label", weight=wcol, chunk_rows=chunk_rows, **kw
        )
    write_csv(tmp_path / "csv", X, y, w)
    pattern = str(tmp_path / "csv" / "*.csv")
    return CSVSource(pattern, target="label", weight=wcol, chunk_rows=chunk_rows, **kw)


def _assert_same(a, b):
    np.testing.assert_array_equal(a.classes_, b.classes_)
    np.testing.assert_allclose(b.coef_, a.coef_, rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(b.intercept_, a.intercept_, rtol=1e-8, atol=1e-12)


KINDS = ["array", "numpy", "parquet", "csv"]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("n_classes", [2, 3])
def test_streaming_equals_in_memory(kind, n_classes, tmp_path):
    labels = ["cat", "dog", "eel"][:n_classes] if kind in ("parquet", "csv") else None
    X, y, w = _data(n_classes, labels=labels)
    src = _source(kind, tmp_path, X, y, w)
    ref = LogisticRegression(C=0.5, tol=TOL).fit(X, y, sample_weight=w)
    got = LogisticRegression(C=0.5, tol=TOL).fit(src)
    _assert_same(ref, got)
    assert got.n_rows_ == len(y)
    assert all(p["rows"] == len(y) for p in got.passes_)
    assert got.n_features_in_ == X.shape[1]
    if kind in ("parquet", "csv"):
        assert list(got.feature_names_in_) == [f"x{j}" for j in range(X.shape[1])]
        frame = pd.DataFrame(X, columns=[f"x{j}" for j in range(X.shape[1])])
        np.testing.assert_array_equal(got.predict(frame), ref.predict(X))


@pytest.mark.parametrize(
    "params",
    [
        {"C": np.inf},
        {"solver": "lbfgs", "C": 0.3},
        {"class_weight": "balanced", "C": 2.0},
        {"class_weight": {0: 3.0, 1: 0.5}, "fit_intercept": False},
    ],
    ids=["none", "lbfgs", "balanced", "dict-noint"],
)
@pytest.mark.parametrize("n_classes", [2, 3])
def test_penalties_and_options(params, n_classes, tmp_path):
    X, y, w = _data(n_classes, seed=1, n=500)
    if np.isinf(params.get("C", 1.0)):  # keep the unpenalised problem bounded
        X = X + np.random.default_rng(3).normal(scale=2.0, size=X.shape)
    src = _source("parquet", tmp_path, X, y, w, chunk_rows=90)
    ref = LogisticRegression(tol=TOL, max_iter=500, **params).fit(X, y, sample_weight=w)
    got = LogisticRegression(tol=TOL, max_iter=500, **params).fit(src)
    _assert_same(ref, got)


def test_float32_files_compute_in_float32(tmp_path):
    X, y, _ = _data(2, n=600)
    X32 = X.astype(np.float32)
    src = _source("parquet", tmp_path, X32, y, None, chunk_rows=100)
    got = LogisticRegression(tol=1e-5).fit(src)
    assert got.coef_.dtype == np.float32
    ref = LogisticRegression(tol=1e-5).fit(X32, y)
    np.testing.assert_allclose(got.coef_, ref.coef_, rtol=1e-4, atol=1e-5)
    as64 = LogisticRegression(tol=TOL, dtype="float64").fit(src)
    ref64 = LogisticRegression(tol=TOL).fit(X32.astype(np.float64), y)
    _assert_same(ref64, as64)


@pytest.mark.parametrize("weighted", [True, False])
def test_chunk_cache_serves_later_passes(tmp_path, weighted):
    X, y, w = _data(3, n=700)
    w = w if weighted else None
    write_parquet(tmp_path / "pq", X, y, w)
    cache = tmp_path / "cache"
    wcol = "w" if weighted else None
    src = ParquetSource(
        tmp_path / "pq", target="label", weight=wcol, chunk_rows=128, cache_dir=cache
    )
    got = LogisticRegression(tol=TOL).fit(src)
    flags = [p["from_cache"] for p in got.passes_]
    assert flags[0] is False and all(flags[1:]) and len(flags) > 2
    assert list(cache.rglob("manifest.json"))
    # a second fit (new source object on the same files) reads only the cache
    src2 = ParquetSource(
        tmp_path / "pq", target="label", weight=wcol, chunk_rows=128, cache_dir=cache
    )
    again = LogisticRegression(tol=TOL).fit(src2)
    assert all(p["from_cache"] for p in again.passes_)
    _assert_same(LogisticRegression(tol=TOL).fit(X, y, sample_weight=w), again)


def test_progress_bar_only_when_verbose(tmp_path, capsys):
    X, y, _ = _data(2, n=400)
    src = ArraySource(X, y, chunk_rows=100)
    LogisticRegression().fit(src)
    assert capsys.readouterr().err == ""
    LogisticRegression(verbose=1).fit(src)
    err = capsys.readouterr().err
    assert "pass 1" in err and "iteration 1 of at most 100" in err and "rows/s" in err


def test_fit_source_rejects_y_and_weights():
    X, y, _ = _data(2, n=100)
    with pytest.raises(ValueError, match="labels and weights come from the source"):
        LogisticRegression().fit(ArraySource(X, y), y)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.filterwarnings("ignore:X does not have valid feature names")
@pytest.mark.parametrize("solver", ["sgd", "adam"])
def test_stochastic_solvers_approach_the_optimum(solver, tmp_path):
    X, y, w = _data(3, n=1200)
    ref = LogisticRegression(C=0.1, tol=TOL).fit(X, y, sample_weight=w)
    f_opt = ref.history_["objective"][-1]
    got = LogisticRegression(C=0.1, solver=solver, max_iter=60, tol=1e-6).fit(
        _source("parquet", tmp_path, X, y, w, chunk_rows=300)
    )
    f = _objective(got, X, y, w, C=0.1)
    assert f_opt <= f + 1e-12  # the exact fit is the optimum
    assert f - f_opt < 5e-3 * abs(f_opt)
    assert got.solver_ == solver


def _objective(est, X, y, w, C):
    """Averaged objective ``(1/S) sum s_i logloss_i + ||W||^2 / (2 C S)`` from predictions."""
    P = est.predict_proba(X)
    idx = np.searchsorted(est.classes_, y)
    S = w.sum()
    return float(
        -(w * np.log(P[np.arange(len(y)), idx])).sum() / S + (est.coef_**2).sum() / (2 * C * S)
    )


# 30 epochs: what is tested is the prox step's exact zeros, not convergence to tol.
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_sgd_l1_prox_gives_exact_zeros():
    X, y, _ = _data(2, n=800, d=10)
    X = np.hstack([X, np.random.default_rng(0).normal(size=(800, 10)) * 0.01])
    got = LogisticRegression(l1_ratio=1.0, C=0.01, solver="sgd", max_iter=30).fit(X, y)
    assert np.sum(got.coef_ == 0.0) >= 10


def test_partial_fit_online(tmp_path):
    X, y, w = _data(3, n=2000, labels=["a", "b", "c"])
    ref = LogisticRegression(C=1.0, tol=TOL).fit(X, y)
    f_opt = ref.history_["objective"][-1]
    clf = LogisticRegression(C=1.0, solver="sgd")
    with pytest.raises(ValueError, match="classes must be given"):
        clf.partial_fit(X[:10], y[:10])
    for _epoch in range(15):
        for start in range(0, 2000, 250):
            clf.partial_fit(X[start : start + 250], y[start : start + 250], classes=["a", "b", "c"])
    np.testing.assert_array_equal(clf.classes_, ["a", "b", "c"])
    f = _objective(clf, X, y, np.ones(len(y)), C=1.0)
    assert f_opt <= f + 1e-12 and f - f_opt < 1e-2 * abs(f_opt)
    assert (clf.predict(X) == ref.predict(X)).mean() > 0.97
    with pytest.raises(ValueError, match="not in classes"):
        clf.partial_fit(X[:3], np.array(["a", "b", "z"]))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.gpu
def test_streaming_on_cuda(tmp_path):
    X, y, w = _data(3)
    ref = LogisticRegression(tol=TOL).fit(X, y, sample_weight=w)
    got = LogisticRegression(tol=TOL, device="cuda").fit(_source("parquet", tmp_path, X, y, w))
    _assert_same(ref, got)


_PROX = sorted(
    n for n, c in SOLVERS.items() if c.capabilities.proximal and not c.capabilities.minibatch
)


@pytest.mark.skipif(not _PROX, reason="no full-batch solver for L1 / elastic-net registered yet")
@pytest.mark.parametrize("solver", _PROX or ["none"])
@pytest.mark.parametrize("params", [{"l1_ratio": 1.0, "C": 0.2}, {"l1_ratio": 0.5, "C": 0.2}])
@pytest.mark.parametrize("n_classes", [2, 3])
def test_l1_and_elasticnet_streaming(solver, params, n_classes, tmp_path):
    X, y, w = _data(n_classes, seed=4, n=500)
    est = lambda: LogisticRegression(solver=solver, tol=TOL, max_iter=1000, **params)  # noqa: E731
    ref = est().fit(X, y, sample_weight=w)
    got = est().fit(_source("parquet", tmp_path, X, y, w, chunk_rows=90))
    # Chunked sums round differently, so a first-order method (fista) takes another path to
    # the optimum (82 vs 76 iterations here): both stop at KKT <= tol, which bounds each one's
    # error by about tol / l2 = 3e-8 in absolute terms, not per entry. Compare relative to the
    # largest coefficient (measured: 9e-10 for fista, 4e-16 for cd), as the bound allows.
    np.testing.assert_array_equal(ref.classes_, got.classes_)
    scale = np.abs(np.c_[ref.coef_, ref.intercept_]).max()
    np.testing.assert_allclose(got.coef_, ref.coef_, rtol=0, atol=1e-8 * scale)
    np.testing.assert_allclose(got.intercept_, ref.intercept_, rtol=0, atol=1e-8 * scale)
    np.testing.assert_array_equal(got.coef_ == 0, ref.coef_ == 0)


def test_partial_fit_continues_a_fit_whatever_the_solver():
    X, y, _ = _data(2, n=400)
    ones = np.ones(len(y))
    clf = LogisticRegression(solver="lbfgs", tol=TOL).fit(X, y)
    f_opt = _objective(clf, X, y, ones, C=1.0)
    clf.partial_fit(X, y)  # no classes needed after fit; runs "sgd" from the fitted model
    assert clf.solver_ == "sgd"
    f_cont = _objective(clf, X, y, ones, C=1.0)
    fresh = LogisticRegression().partial_fit(X, y, classes=[0, 1])
    f_fresh = _objective(fresh, X, y, ones, C=1.0)
    assert f_opt <= f_cont < f_fresh
    assert f_cont - f_opt < 0.1 * (f_fresh - f_opt)
    with pytest.raises(ValueError, match="differs from the classes seen before"):
        clf.partial_fit(X, y, classes=[0, 1, 2])

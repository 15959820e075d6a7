"""One code path for every kind of data: sparse, streamed (arrays in chunks, Parquet with the
groups as a column) and distributed (gloo, 2 ranks) tables equal the in-memory dense table,
which itself matches statsmodels (tests/test_inference.py); here, to 1e-10 relative."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import statsmodels.api as sm
import torch

from _streaming_helpers import count_source_reads
from torchlogit import LogisticRegression
from torchlogit.data import ArraySource, ParquetSource

COV_TYPES = ["nonrobust", "HC0", "HC1", "cluster"]


def _problem(n_classes, n=240, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 4))
    X[rng.random(X.shape) < 0.5] = 0.0  # half zeros: a real sparse matrix
    W = rng.standard_normal((n_classes, 4))
    y = np.argmax(X @ W.T + rng.gumbel(size=(n, n_classes)), axis=1)
    w = rng.integers(1, 4, n).astype(float)
    groups = rng.integers(0, 25, n)
    return X, y, w, groups


def _fit(X, y=None, w=None, **params):
    kw = {"penalty": None, "tol": 1e-11, "max_iter": 200, **params}
    return LogisticRegression(**kw).fit(X, y, sample_weight=w)


def _assert_same(a: pd.DataFrame, b: pd.DataFrame, rtol=1e-10):
    assert list(a.index) == list(b.index)
    np.testing.assert_allclose(a.to_numpy(), b.to_numpy(), rtol=rtol, atol=0)


@pytest.mark.parametrize("n_classes", [2, 3])
def test_sparse_equals_dense(n_classes):
    X, y, w, groups = _problem(n_classes)
    dense = _fit(X, y, w)
    sparse = _fit(sp.csr_matrix(X), y, w)
    for cov_type in COV_TYPES:
        g = groups if cov_type == "cluster" else None
        _assert_same(
            sparse.coef_table(sp.csr_matrix(X), y, w, cov_type=cov_type, groups=g),
            dense.coef_table(X, y, w, cov_type=cov_type, groups=g),
            rtol=1e-8,  # two fits, each to tol 1e-11 on the averaged gradient
        )
        # the same model on both kinds of data: the same sums to rounding
        _assert_same(
            dense.coef_table(sp.csr_matrix(X), y, w, cov_type=cov_type, groups=g),
            dense.coef_table(X, y, w, cov_type=cov_type, groups=g),
        )


@pytest.mark.parametrize("n_classes", [2, 3])
def test_streamed_equals_in_memory(n_classes):
    X, y, w, groups = _problem(n_classes)
    clf = _fit(X, y, w)
    source = ArraySource(X, y, weight=w, chunk_rows=37)
    for cov_type in COV_TYPES:
        g = groups if cov_type == "cluster" else None
        _assert_same(
            clf.coef_table(source, cov_type=cov_type, groups=g),
            clf.coef_table(X, y, w, cov_type=cov_type, groups=g),
        )
    streamed = _fit(source)
    _assert_same(streamed.coef_table(source), clf.coef_table(X, y, w), rtol=1e-8)


def test_parquet_groups_column(tmp_path):
    X, y, w, groups = _problem(2)
    df = pd.DataFrame(X, columns=["a", "b", "c", "d"]).assign(y=y, w=w, g=groups)
    paths = [tmp_path / "0.parquet", tmp_path / "1.parquet"]
    df.iloc[:100].to_parquet(paths[0], row_group_size=30)
    df.iloc[100:].to_parquet(paths[1], row_group_size=30)
    source = ParquetSource(paths, target="y", weight="w", features=list("abcd"), chunk_rows=16)
    clf = _fit(source)
    table = clf.coef_table(source, cov_type="cluster", groups="g")
    rep = np.repeat(np.arange(len(y)), w.astype(int))
    res = sm.Logit(y[rep], sm.add_constant(X[rep])).fit(
        disp=0, method="newton", tol=1e-14, cov_type="cluster", cov_kwds={"groups": groups[rep]}
    )
    np.testing.assert_allclose(table["std_err"].to_numpy(), res.bse, rtol=1e-6)
    assert list(table.index) == ["intercept", "a", "b", "c", "d"]
    with pytest.raises(ValueError, match="column 'nope' is missing"):
        clf.coef_table(source, cov_type="cluster", groups="nope")


def _rank_rows(n, rank):
    """Uneven shards: rank 0 holds the first 50 rows, rank 1 the rest."""
    return np.arange(50) if rank == 0 else np.arange(50, n)


def _inference_worker(rank, world_size, store, out_dir):
    import torch.distributed as dist

    os.environ["GLOO_SOCKET_IFNAME"] = "lo"
    dist.init_process_group("gloo", init_method=f"file://{store}", rank=rank, world_size=world_size)
    torch.set_num_threads(1)
    try:
        for n_classes in (2, 3):
            X, y, w, groups = _problem(n_classes)
            rows = _rank_rows(len(y), rank)
            clf = _fit(X[rows], y[rows], w[rows])
            for cov_type in COV_TYPES:
                g = groups[rows] if cov_type == "cluster" else None
                t = clf.coef_table(X[rows], y[rows], w[rows], cov_type=cov_type, groups=g)
                t.to_pickle(os.path.join(out_dir, f"{n_classes}-{cov_type}-{rank}.pkl"))
            result = clf.inference(X[rows], y[rows], w[rows], groups=groups[rows])  # one pass
            for cov_type in COV_TYPES:
                t = result.coef_table(cov_type)
                t.to_pickle(os.path.join(out_dir, f"{n_classes}-result-{cov_type}-{rank}.pkl"))
            source = ArraySource(X[rows], y[rows], weight=w[rows], chunk_rows=20)
            t = clf.coef_table(source, cov_type="cluster", groups=groups[rows])
            t.to_pickle(os.path.join(out_dir, f"{n_classes}-source-{rank}.pkl"))
    finally:
        dist.destroy_process_group()


@pytest.mark.distributed
def test_two_ranks_equal_one_process(tmp_path):
    import torch.multiprocessing as mp

    mp.spawn(
        _inference_worker, args=(2, str(tmp_path / "store"), str(tmp_path)), nprocs=2, join=True
    )
    for n_classes in (2, 3):
        X, y, w, groups = _problem(n_classes)
        clf = _fit(X, y, w, distributed=False)
        for cov_type in COV_TYPES:
            g = groups if cov_type == "cluster" else None
            want = clf.coef_table(X, y, w, cov_type=cov_type, groups=g)
            for rank in (0, 1):
                got = pd.read_pickle(tmp_path / f"{n_classes}-{cov_type}-{rank}.pkl")
                _assert_same(got, want, rtol=1e-8)
                got = pd.read_pickle(tmp_path / f"{n_classes}-result-{cov_type}-{rank}.pkl")
                _assert_same(got, want, rtol=1e-8)
        want = clf.coef_table(X, y, w, cov_type="cluster", groups=groups)
        for rank in (0, 1):
            _assert_same(pd.read_pickle(tmp_path / f"{n_classes}-source-{rank}.pkl"), want, 1e-8)


def test_float32_sums_in_float64():
    """A float32 model's table is summed in float64: it equals the float64 path's table at
    the same (float32) coefficients on the same (float32-representable) rows."""
    X, y, w, groups = _problem(3)
    X32 = X.astype(np.float32)
    clf32 = _fit(X32, y, w, tol=1e-5, dtype="float32")
    clf64 = _fit(X32.astype(np.float64), y, w)
    clf64.set_coefficients(clf32.coef_tensor_.double())
    for cov_type in ("nonrobust", "HC0", "cluster"):
        g = groups if cov_type == "cluster" else None
        _assert_same(
            clf32.coef_table(X32, y, w, cov_type=cov_type, groups=g),
            clf64.coef_table(X32.astype(np.float64), y, w, cov_type=cov_type, groups=g),
        )


def test_parquet_table_is_one_pass_beyond_the_fit(tmp_path, monkeypatch):
    """I2's budget: the HC0 table of a fitted Parquet source reads the files once (the
    validation pass is not repeated: the files did not change)."""
    X, y, w, _ = _problem(2)
    df = pd.DataFrame(X, columns=["a", "b", "c", "d"]).assign(y=y)
    df.to_parquet(tmp_path / "d.parquet", row_group_size=50)
    source = ParquetSource(tmp_path / "d.parquet", target="y", chunk_rows=32)
    clf = _fit(source)
    reads = count_source_reads(monkeypatch, ParquetSource)
    table = clf.coef_table(source, cov_type="HC0")
    assert len(reads) == 1
    Xdf = df[["a", "b", "c", "d"]]
    _assert_same(table, _fit(Xdf, y).coef_table(Xdf, y, cov_type="HC0"), rtol=1e-8)

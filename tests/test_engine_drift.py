"""The fit paths that used to drift apart now agree (issue #11, the three drift cases).

1. A distributed in-memory fit runs the same solver, the same iterations and the same number
   of passes over the data as one process on all the rows (it used to lose the raw-prediction
   line search and the row-sampled Hessian: its data failed the solvers' in-memory gate).
2. ``solver="auto"`` on sparse X picks the same solver on three ranks as on one (the
   distributed fit used to pass ``sparse=False``).
3. ``cd`` on a stream makes no pass just to count rows (the row count of the validation pass
   is known to the solver).

Ranks are gloo processes on the loopback interface, as in ``test_distributed.py``.
"""

from __future__ import annotations

import json
import os
import sys

import numpy as np
import pytest
import scipy.sparse as sp

from torchlogit import LogisticRegression
from torchlogit.data import ArraySource, StreamingData

WORLD = 3


def _dense(n=150, d=4, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    X[:, 1] *= 3.0
    y = (X @ rng.standard_normal(d) + rng.logistic(size=n) > 0).astype(int)
    return X, y


def _sparse(n=240, d=300, seed=1):
    """Binary, 301 parameters: above the sparse Newton limit, below the dense one."""
    rng = np.random.default_rng(seed)
    X = sp.random(n, d, density=0.05, random_state=seed, format="csr")
    y = (X @ rng.standard_normal(d) + 0.3 * rng.logistic(size=n) > 0).astype(int)
    return X, y


def _rows(n, rank, world):
    return np.array_split(np.arange(n), world)[rank]


def _summary(clf) -> dict:
    return {
        "solver": clf.solver_,
        "n_iter": int(clf.n_iter_[0]),
        "n_passes": int(clf.n_passes_),
        "coef": clf.coef_.tolist(),
    }


def _worker(rank, world, store, out):
    import torch.distributed as dist

    os.environ["GLOO_SOCKET_IFNAME"] = "lo"
    dist.init_process_group("gloo", init_method=f"file://{store}", rank=rank, world_size=world)
    try:
        X, y = _dense()
        rows = _rows(len(y), rank, world)
        dense = LogisticRegression(tol=1e-8).fit(X[rows], y[rows])
        Xs, ys = _sparse()
        rows = _rows(len(ys), rank, world)
        sparse = LogisticRegression(tol=1e-6, max_iter=300).fit(Xs[rows], ys[rows])
        with open(os.path.join(out, f"r{rank}.json"), "w") as fh:
            json.dump({"dense": _summary(dense), "sparse": _summary(sparse)}, fh)
    finally:
        dist.destroy_process_group()


@pytest.fixture(scope="module")
def three_ranks(tmp_path_factory):
    import torch.multiprocessing as mp

    out = tmp_path_factory.mktemp("drift")
    mp.spawn(_worker, args=(WORLD, str(out / "store"), str(out)), nprocs=WORLD, join=True)
    return [json.loads((out / f"r{r}.json").read_text()) for r in range(WORLD)]


@pytest.mark.distributed
def test_distributed_in_memory_fit_takes_the_one_process_path(three_ranks):
    X, y = _dense()
    one = _summary(LogisticRegression(tol=1e-8).fit(X, y))
    assert one["solver"] == "newton"
    for got in three_ranks:
        assert got["dense"]["solver"] == one["solver"]
        assert got["dense"]["n_iter"] == one["n_iter"]
        assert got["dense"]["n_passes"] == one["n_passes"]
        np.testing.assert_allclose(got["dense"]["coef"], one["coef"], rtol=1e-7, atol=1e-9)


@pytest.mark.distributed
def test_sparse_auto_picks_the_same_solver_on_three_ranks_as_on_one(three_ranks):
    Xs, ys = _sparse()
    one = LogisticRegression(tol=1e-6, max_iter=300).fit(Xs, ys)
    # the independent reference: the "auto" rule itself, for a sparse problem of this shape
    assert Xs.shape[1] + 1 > 256
    assert one.solver_ == "newton-cg"
    for got in three_ranks:
        assert got["sparse"]["solver"] == one.solver_
        np.testing.assert_allclose(got["sparse"]["coef"], one.coef_, rtol=1e-4, atol=1e-6)


def test_cd_on_a_stream_makes_no_counting_pass(monkeypatch):
    """Every pass over the stream is one the solver uses; none only counts the rows."""
    callers = []
    batches = StreamingData.batches

    def spy(self):
        callers.append(sys._getframe(1).f_code.co_name)
        return batches(self)

    monkeypatch.setattr(StreamingData, "batches", spy)
    rng = np.random.default_rng(4)
    X = rng.standard_normal((3000, 3))
    y = (X @ np.array([1.5, -2.0, 0.0]) + rng.logistic(size=3000) > 0).astype(int)
    src = ArraySource(X, y, chunk_rows=500)
    got = LogisticRegression(l1_ratio=1.0, C=0.05, solver="cd", tol=1e-8).fit(src)
    assert "_stride" not in callers  # the row-sampled Hessian knew the row count
    ref = LogisticRegression(l1_ratio=1.0, C=0.05, solver="cd", tol=1e-8).fit(X, y)
    np.testing.assert_allclose(got.coef_, ref.coef_, rtol=1e-6, atol=1e-9)

"""LogisticRegressionCV on a streaming source and on two ranks equals the one-process,
in-memory run with the same folds (a hash of the row position, HashFolds)."""

from __future__ import annotations

import os
import warnings

import numpy as np
import pytest

from torchlogit import LogisticRegressionCV
from torchlogit.data import ArraySource, HashFolds

N = 210
CS = [0.02, 0.2, 2.0]


def _problem(n_classes):
    rng = np.random.default_rng(4)
    X = rng.standard_normal((N, 5))
    W = rng.standard_normal((n_classes, 5))
    y = np.argmax(X @ W.T + rng.gumbel(size=(N, n_classes)), axis=1)
    sw = rng.uniform(0.5, 2.0, N)
    return X, y, sw


def _cv(**kw):
    return LogisticRegressionCV(Cs=CS, tol=1e-10, max_iter=1000, **kw)


def _same(a, b, atol):
    assert a.C_ == b.C_
    np.testing.assert_allclose(a.scores_, b.scores_, rtol=0, atol=atol)
    np.testing.assert_allclose(a.coefs_paths_, b.coefs_paths_, rtol=0, atol=atol)
    np.testing.assert_allclose(a.coef_, b.coef_, rtol=0, atol=atol)
    np.testing.assert_allclose(a.intercept_, b.intercept_, rtol=0, atol=atol)


def test_hash_folds_partition_the_rows_and_match_their_index_pairs():
    folds = HashFolds(4)
    f = folds.fold_of(0, N)
    np.testing.assert_array_equal(
        np.concatenate([folds.fold_of(0, 100), folds.fold_of(100, 110)]), f
    )
    sizes = np.bincount(f, minlength=4)
    assert sizes.min() > 0.15 * N  # every fold gets its share
    X, y, sw = _problem(2)
    by_hash = _cv(cv=HashFolds(4)).fit(X, y, sw)
    by_pairs = _cv(cv=HashFolds(4).splits(N)).fit(X, y, sw)
    _same(by_hash, by_pairs, 0.0)


@pytest.mark.parametrize("n_classes, penalty", [(2, "l1"), (3, "l2")])
def test_streamed_equals_in_memory(n_classes, penalty):
    X, y, sw = _problem(n_classes)
    memory = _cv(cv=HashFolds(4), penalty=penalty).fit(X, y, sw)
    source = ArraySource(X, y, weight=sw, chunk_rows=64)
    streamed = _cv(cv=4, penalty=penalty).fit(source)
    _same(streamed, memory, 1e-8)
    assert streamed.n_rows_ == N


def _worker(rank, world_size, store, out_dir, n_classes, penalty):
    import torch
    import torch.distributed as dist

    os.environ["GLOO_SOCKET_IFNAME"] = "lo"
    dist.init_process_group("gloo", init_method=f"file://{store}", rank=rank, world_size=world_size)
    torch.set_num_threads(1)
    X, y, sw = _problem(n_classes)
    rows = np.arange(N)[: N // 3] if rank == 0 else np.arange(N)[N // 3 :]  # uneven, in order
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        clf = _cv(cv=4, penalty=penalty).fit(X[rows], y[rows], sw[rows])
    np.savez(
        os.path.join(out_dir, f"r{rank}.npz"),
        C=clf.C_, scores=clf.scores_, paths=clf.coefs_paths_, coef=clf.coef_,
        intercept=clf.intercept_,
    )  # fmt: skip
    dist.destroy_process_group()


@pytest.mark.distributed
@pytest.mark.parametrize("n_classes, penalty", [(2, "l1"), (3, "l2")])
def test_two_ranks_equal_one_process(tmp_path, n_classes, penalty):
    import torch.multiprocessing as mp

    X, y, sw = _problem(n_classes)
    one = _cv(cv=HashFolds(4), penalty=penalty).fit(X, y, sw)
    args = (2, str(tmp_path / "store"), str(tmp_path), n_classes, penalty)
    mp.spawn(_worker, args=args, nprocs=2, join=True)
    for rank in range(2):
        got = np.load(tmp_path / f"r{rank}.npz")
        assert float(got["C"]) == one.C_
        np.testing.assert_allclose(got["scores"], one.scores_, rtol=0, atol=1e-8)
        np.testing.assert_allclose(got["paths"], one.coefs_paths_, rtol=0, atol=1e-8)
        np.testing.assert_allclose(got["coef"], one.coef_, rtol=0, atol=1e-8)
        np.testing.assert_allclose(got["intercept"], one.intercept_, rtol=0, atol=1e-8)

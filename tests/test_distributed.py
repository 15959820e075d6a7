"""Data-parallel fits (gloo on CPU, several processes on this machine) equal one-process fits.

Each world size is one ``torch.multiprocessing.spawn`` in which every rank runs every case on
its own shard and saves what it got; the parent compares with a one-process fit on all the
rows. Shards are deliberately uneven: one rank holds a single row, another has no row of some
class. Processes rendezvous through a file store and talk over the loopback interface only.
"""

from __future__ import annotations

import json
import os
import warnings

import numpy as np
import pytest
import torch

from torchlogit import LogisticRegression
from torchlogit.distributed import (
    Communicator,
    DistributedError,
    check_same_tensor,
    shard_files,
)

pytestmark = pytest.mark.distributed

N_ROWS = 150


def _problem(n_classes: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((N_ROWS, 4))
    X[:, 1] *= 3.0
    W = rng.standard_normal((n_classes, 4))
    logits = X @ W.T + rng.standard_normal(n_classes)
    if n_classes == 2:
        y = (logits[:, 0] - logits[:, 1] + rng.logistic(size=N_ROWS) > 0).astype(int)
    else:
        y = np.argmax(logits + rng.gumbel(size=logits.shape), axis=1)
    labels = np.array(["ant", "bee", "cat"])[: max(n_classes, 2)]
    return X, labels[y]


def _shard_rows(y: np.ndarray, world_size: int) -> list[np.ndarray]:
    """Uneven shards: rank 0 holds one row; rank 1 holds no row of the last class."""
    idx = np.arange(y.shape[0])
    if world_size == 1:
        return [idx]
    last = np.unique(y)[-1]
    first, rest = idx[:1], idx[1:]
    if world_size == 2:
        return [first, rest]
    without_last = rest[(y[rest] != last)][: len(rest) // 3]
    others = np.setdiff1d(rest, without_last)
    return [first, without_last, others]


# name -> (n_classes, estimator parameters, uses sample weights)
CASES = {
    "l2-binary-newton": (2, dict(solver="newton"), False),
    "l2-binary-lbfgs": (2, dict(solver="lbfgs", tol=1e-12, max_iter=500), False),
    "l2-multinomial-newton": (3, dict(solver="newton", C=0.5), False),
    "l2-multinomial-lbfgs": (3, dict(solver="lbfgs", tol=1e-12, max_iter=500), False),
    "l1-binary-cd": (2, dict(l1_ratio=1.0, C=0.3, solver="cd"), False),
    "elasticnet-multinomial-cd": (
        3,
        dict(l1_ratio=0.5, C=0.3, solver="cd"),
        False,
    ),
    "l1-binary-fista": (2, dict(l1_ratio=1.0, C=0.3, solver="fista", max_iter=5000), False),
    "balanced-weighted-no-intercept": (
        3,
        dict(solver="newton", class_weight="balanced", fit_intercept=False),
        True,
    ),
}


# Streamed shards (world size 3): binary, class-weighted multinomial, elastic-net multinomial.
SOURCE_CASES = ["l2-binary-newton", "balanced-weighted-no-intercept", "elasticnet-multinomial-cd"]


def _make(params):
    kw = dict(tol=1e-12, max_iter=100)
    kw.update(params)
    return LogisticRegression(**kw)


def _weights(n):
    return 0.5 + (np.arange(n) % 4) / 2.0


def _init(rank, world_size, store):
    import torch.distributed as dist

    os.environ["GLOO_SOCKET_IFNAME"] = "lo"
    dist.init_process_group("gloo", init_method=f"file://{store}", rank=rank, world_size=world_size)
    return dist


def _run_cases(rank, world_size, out_dir, communicator=None):
    """This rank's fits of every case on its shard of a ``world_size``-rank split."""
    from torchlogit.distributed import fit_distributed

    for name, (n_classes, params, weighted) in CASES.items():
        X, y = _problem(n_classes)
        rows = _shard_rows(y, world_size)[rank]
        sw = _weights(N_ROWS)[rows] if weighted else None
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # a convergence warning must fail the test
            if communicator is None:  # the estimator's own path: distributed="auto"
                clf = _make(params).fit(X[rows], y[rows], sample_weight=sw)
            else:
                clf = fit_distributed(
                    _make(params), X[rows], y[rows], sw, communicator=communicator
                )
        np.savez(
            os.path.join(out_dir, f"{name}-w{world_size}-r{rank}.npz"),
            coef=clf.coef_,
            intercept=clf.intercept_,
            classes=clf.classes_,
            objective=np.asarray(clf.history_["objective"]),
            n_bytes=clf.distributed_info_["bytes_reduced"],
            n_reductions=clf.distributed_info_["n_reductions"],
            rows=clf.distributed_info_["rows_per_rank"],
            rank_difference=clf.distributed_info_["max_rank_difference"],
        )


def _fit_source_cases(rank, world_size, out_dir, tmp_dir):
    """Each rank streams its shard (arrays in chunks, and Parquet files) instead of arrays."""
    import pandas as pd

    from torchlogit.data import ArraySource, ParquetSource

    for name in SOURCE_CASES:
        n_classes, params, weighted = CASES[name]
        X, y = _problem(n_classes)
        rows = _shard_rows(y, world_size)[rank]
        sw = _weights(N_ROWS)[rows] if weighted else None
        source = ArraySource(X[rows], y[rows], weight=sw, chunk_rows=16)
        clf = _make(params).fit(source)
        np.savez(os.path.join(out_dir, f"{name}-arraysource-r{rank}.npz"), coef=clf.coef_)
        # Parquet: this rank's rows in two files (one file for a single row).
        df = pd.DataFrame(X[rows], columns=[f"x{j}" for j in range(X.shape[1])])
        df["label"] = y[rows]
        if sw is not None:
            df["w"] = sw
        half = max(1, len(rows) // 2)
        paths = []
        for k, part in enumerate([df.iloc[:half], df.iloc[half:]]):
            if len(part):
                paths.append(os.path.join(tmp_dir, f"{name}-r{rank}-{k}.parquet"))
                part.to_parquet(paths[-1])
        source = ParquetSource(
            paths, target="label", weight="w" if weighted else None, chunk_rows=32
        )
        clf = _make(params).fit(source)
        np.savez(
            os.path.join(out_dir, f"{name}-parquet-r{rank}.npz"),
            coef=clf.coef_,
            intercept=clf.intercept_,
            rows=clf.n_rows_,
        )


def _checkpoint_sync_case(rank, out_dir):
    """Rank r's checkpoint holds iteration r + 1 (as after a crash between saves)."""
    from pathlib import Path

    from torchlogit.distributed._checkpoint import rank_directory, synchronise
    from torchlogit.solvers import Checkpoint, History

    base = Path(out_dir) / "ckpt"
    meta = {"problem": "same on every rank"}
    mine = rank_directory(base, rank)
    Checkpoint(mine, meta).save(rank + 1, torch.full((1, 3), float(rank)), History(), {})
    its = synchronise(Communicator(), mine)
    state = Checkpoint(mine, meta).load()
    with open(os.path.join(out_dir, f"sync-{rank}.json"), "w") as fh:
        json.dump({"before": its, "n_iter": state.n_iter, "coef": state.coef.tolist()}, fh)


def _fit_worker(rank, world_size, store, out_dir):
    """World size 3 on the default group, and world size 2 on ranks {0, 1} of it."""
    dist = _init(rank, world_size, store)
    torch.set_num_threads(1)
    pair = dist.new_group([0, 1])
    if rank < 2:
        _run_cases(rank, 2, out_dir, Communicator(pair))
    _run_cases(rank, world_size, out_dir)
    _fit_source_cases(rank, world_size, out_dir, out_dir)
    _checkpoint_sync_case(rank, out_dir)
    # The end-of-fit agreement check, on tensors that differ between ranks.
    comm = Communicator()
    t, diff = check_same_tensor(comm, torch.ones(4, dtype=torch.float64) + rank * 1e-14, "t")
    outcome = {"tiny": [float(t.max()), diff]}
    try:
        check_same_tensor(comm, torch.ones(4, dtype=torch.float64) + rank * 1e-3, "the tensors")
    except DistributedError as exc:
        outcome["large"] = str(exc)
    with open(os.path.join(out_dir, f"agree-{rank}.json"), "w") as fh:
        json.dump(outcome, fh)
    dist.destroy_process_group()


def _spawn(fn, world_size, tmp_path, *args):
    import torch.multiprocessing as mp

    store = tmp_path / f"store-{world_size}"
    mp.spawn(fn, args=(world_size, str(store), *args), nprocs=world_size, join=True)


@pytest.fixture(scope="module")
def distributed_fits(tmp_path_factory):
    """Run every case at world sizes 1 (in this process), 2 and 3 (one spawn of 3 ranks)."""
    import torch.distributed as dist

    out = tmp_path_factory.mktemp("fits")
    os.environ["GLOO_SOCKET_IFNAME"] = "lo"
    dist.init_process_group("gloo", init_method=f"file://{out / 'store-1'}", rank=0, world_size=1)
    try:
        _run_cases(0, 1, str(out))
    finally:
        dist.destroy_process_group()
    _spawn(_fit_worker, 3, out, str(out))
    return out


@pytest.mark.parametrize("name", list(CASES))
@pytest.mark.parametrize("world_size", [1, 2, 3])
def test_distributed_fit_equals_single_process(distributed_fits, world_size, name):
    n_classes, params, weighted = CASES[name]
    X, y = _problem(n_classes)
    ref = _make(params).set_params(distributed=False)
    ref.fit(X, y, sample_weight=_weights(N_ROWS) if weighted else None)
    got = [np.load(distributed_fits / f"{name}-w{world_size}-r{r}.npz") for r in range(world_size)]
    for r, g in enumerate(got):
        np.testing.assert_array_equal(g["classes"], ref.classes_, err_msg=f"rank {r}")
        np.testing.assert_allclose(g["coef"], ref.coef_, rtol=0, atol=1e-10)
        np.testing.assert_allclose(g["intercept"], ref.intercept_, rtol=0, atol=1e-10)
        # Every rank took exactly the same steps and holds exactly the same model.
        assert float(g["rank_difference"]) == 0.0
        np.testing.assert_array_equal(g["coef"], got[0]["coef"])
        np.testing.assert_array_equal(g["objective"], got[0]["objective"])
    # One sum per pass: 1 + m p float64s (value, gradient), plus (m p)^2 with the Hessian.
    m, p = ref.coef_.shape[0], ref.coef_.shape[1] + int(ref.fit_intercept)
    assert list(got[0]["rows"]) == [len(r) for r in _shard_rows(y, world_size)]
    n_red, n_bytes = int(got[0]["n_reductions"]), int(got[0]["n_bytes"])
    assert n_red > 0
    assert 8 * n_red <= n_bytes <= 8 * n_red * (1 + m * p + (m * p) ** 2)


ERROR_CASES = {
    "features": r"disagree on the number of features \(rank 0: 4; rank 1: 3; rank 2: 4\)",
    "names": r"disagree on the feature names",
    "nan": r"Input X contains NaN",
    "one-class": r"\(all ranks together\) contains only one class",
    # Last: rank 2 never calls fit; the others give up after the collective timeout (3 s).
    "absent": r"timed out after 3s",
}


def _error_worker(rank, world_size, store, out_dir):
    """Each bad case in turn: every rank must stop with the error (the group stays usable)."""
    import time

    import pandas as pd

    from torchlogit.distributed import fit_distributed

    dist = _init(rank, world_size, store)
    X, y = _problem(2)
    rows = _shard_rows(y, world_size)[rank]
    for kind in ERROR_CASES:
        Xr, yr = X[rows], y[rows]
        if kind == "features" and rank == 1:
            Xr = Xr[:, :3]
        if kind == "names":
            cols = ["a", "b", "c", "d"] if rank != 2 else ["a", "b", "d", "c"]
            Xr = pd.DataFrame(Xr, columns=cols)
        if kind == "nan" and rank == 2:
            Xr = Xr.copy()
            Xr[0, 0] = np.nan
        if kind == "one-class":
            yr = np.full(yr.shape, "ant")
        if kind == "absent" and rank == 2:
            time.sleep(8)  # alive, but not taking part
            message = "timed out after 3s (rank 2 stayed away on purpose)"
        else:
            comm = Communicator(timeout=3 if kind == "absent" else None)
            try:
                fit_distributed(LogisticRegression(), Xr, yr, communicator=comm)
            except (ValueError, DistributedError) as exc:
                message = f"{type(exc).__name__}: {exc}"
            else:
                message = "no error"
        with open(os.path.join(out_dir, f"{kind}-{rank}.txt"), "w") as fh:
            fh.write(message)
    dist.destroy_process_group()


@pytest.fixture(scope="module")
def distributed_errors(tmp_path_factory):
    import time

    out = tmp_path_factory.mktemp("errors")
    start = time.perf_counter()
    _spawn(_error_worker, 3, out, str(out))
    return out, time.perf_counter() - start


@pytest.mark.parametrize("kind", list(ERROR_CASES))
def test_bad_rank_stops_every_rank_with_a_clear_error(distributed_errors, kind):
    import re

    out, elapsed = distributed_errors
    assert elapsed < 90  # nobody waited for the default (30 min) timeout
    for r in range(3):
        message = (out / f"{kind}-{r}.txt").read_text()
        assert re.search(ERROR_CASES[kind], message), (r, message)


@pytest.mark.parametrize("kind", ["arraysource", "parquet"])
@pytest.mark.parametrize("name", SOURCE_CASES)
def test_streamed_shards_equal_single_process(distributed_fits, name, kind):
    n_classes, params, weighted = CASES[name]
    X, y = _problem(n_classes)
    ref = _make(params).set_params(distributed=False)
    ref.fit(X, y, sample_weight=_weights(N_ROWS) if weighted else None)
    for r in range(3):
        got = np.load(distributed_fits / f"{name}-{kind}-r{r}.npz")
        np.testing.assert_allclose(got["coef"], ref.coef_, rtol=0, atol=1e-10)
        if kind == "parquet":
            assert int(got["rows"]) == N_ROWS


def test_checkpoints_resume_from_the_most_advanced_rank(distributed_fits):
    for r in range(3):
        got = json.loads((distributed_fits / f"sync-{r}.json").read_text())
        assert got["before"] == [1, 2, 3]
        assert got["n_iter"] == 3 and got["coef"] == [[2.0, 2.0, 2.0]]


def test_ranks_adopt_rank_0_on_last_bit_drift_and_fail_on_divergence(distributed_fits):
    for r in range(3):
        outcome = json.loads((distributed_fits / f"agree-{r}.json").read_text())
        value, diff = outcome["tiny"]
        assert value == 1.0 and 1e-14 <= diff <= 3e-14  # rank 0's tensor, drift recorded
        assert "the tensors differ between ranks" in outcome["large"]


def test_shard_files_is_a_partition_in_sorted_order():
    paths = [f"d/part-{i}.parquet" for i in (3, 0, 4, 1, 2)]
    shares = [shard_files(paths, r, 3) for r in range(3)]
    assert shares[0] == ["d/part-0.parquet", "d/part-3.parquet"]
    assert sorted(sum(shares, [])) == sorted(paths)
    assert shard_files(paths, 0, 1) == sorted(paths)
    assert shard_files(paths[:1], 2, 3) == []
    with pytest.raises(ValueError, match="rank"):
        shard_files(paths, 3, 3)


def test_distributed_true_without_a_process_group_is_an_error():
    X, y = _problem(2)
    with pytest.raises(DistributedError, match="not initialised"):
        LogisticRegression(distributed=True).fit(X, y)


@pytest.mark.parametrize("solver", ["sgd", "adam"])
def test_mini_batch_solvers_are_refused_before_any_collective(solver):
    # No process group exists here: the refusal must come before any communication.
    from torchlogit.distributed._fit import fit_distributed

    X, y = _problem(2)
    with pytest.raises(ValueError, match="mini-batch solver"):
        fit_distributed(LogisticRegression(solver=solver), X, y)

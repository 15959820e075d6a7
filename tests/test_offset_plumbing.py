"""Offsets reach the objective's batches, with the right shape and dtype, from every input.

These tests check the plumbing that the data layer and the fitting engine own: validation,
``Batch.offset`` for arrays, sparse X, every streaming source and ``partial_fit``, and the
predictions (which add the offset to the logits: checked against NumPy). That the objective
adds ``batch.offset`` to the raw prediction is tested end to end in ``test_offset.py``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import torch

from torchlogit import LogisticRegression
from torchlogit.data import ArraySource, CSVSource, NumpySource, ParquetSource, prepare
from torchlogit.fitting import _engine, _online


def _data(n=120, d=3, n_classes=2, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    y = rng.integers(0, n_classes, n)
    y[:n_classes] = np.arange(n_classes)
    m = 1 if n_classes == 2 else n_classes
    off = rng.normal(size=(n,) if m == 1 else (n, m))
    return X, y, off


def _offsets(training) -> np.ndarray:
    return np.concatenate([b.offset.cpu().numpy() for b in training.data.batches()])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_binary_offset_becomes_one_column_in_x_dtype(dtype):
    X, y, off = _data()
    training = prepare(X, y, offset=off, validator=LogisticRegression(), dtype=dtype)
    batch = training.data.batch
    assert batch.offset.shape == (len(y), 1)
    assert batch.offset.dtype == batch.X.dtype == getattr(torch, dtype)
    np.testing.assert_allclose(batch.offset[:, 0].numpy(), off, rtol=1e-6)


def test_multinomial_offset_is_n_by_k_and_sparse_x_carries_it():
    X, y, off = _data(n_classes=3)
    training = prepare(sp.csr_matrix(X), y, offset=off, validator=LogisticRegression())
    assert training.sparse
    np.testing.assert_array_equal(training.data.batch.offset.numpy(), off)


@pytest.mark.parametrize(
    "n_classes, bad, message",
    [
        (2, lambda o: o[:-1], r"shape \(120,\)"),
        (3, lambda o: o[:, 0], r"shape \(120, 3\) \(one number per row and class\)"),
        (2, lambda o: np.where(np.arange(120) == 7, np.nan, o), "first at row 7"),
        (3, lambda o: np.where(np.arange(120)[:, None] == 5, np.inf, o), "first at row 5"),
    ],
)
def test_bad_offsets_are_refused_with_a_clear_error(n_classes, bad, message):
    X, y, off = _data(n_classes=n_classes)
    with pytest.raises(ValueError, match=message):
        LogisticRegression().fit(X, y, offset=bad(off))


def _sources(tmp_path, X, y, off):
    cols = [f"x{j}" for j in range(X.shape[1])]
    frame = pd.DataFrame(X, columns=cols)
    frame["y"] = y
    ocols = ["o"] if off.ndim == 1 else [f"o{k}" for k in range(off.shape[1])]
    frame[ocols] = off.reshape(len(y), -1)
    frame.to_parquet(tmp_path / "d.parquet", row_group_size=50)
    frame.to_csv(tmp_path / "d.csv", index=False)
    np.save(tmp_path / "X.npy", X)
    np.save(tmp_path / "off.npy", off)
    name = ocols[0] if off.ndim == 1 else ocols
    return {
        "array": ArraySource(X, y, offset=off, chunk_rows=40),
        "numpy": NumpySource(tmp_path / "X.npy", y, offset=tmp_path / "off.npy", chunk_rows=40),
        "parquet": ParquetSource(tmp_path / "d.parquet", target="y", offset=name, chunk_rows=40),
        "csv": CSVSource(tmp_path / "d.csv", target="y", offset=name, chunk_rows=40),
    }


@pytest.mark.parametrize("n_classes", [2, 3])
@pytest.mark.parametrize("kind", ["array", "numpy", "parquet", "csv"])
def test_every_source_streams_its_offset(tmp_path, kind, n_classes):
    X, y, off = _data(n_classes=n_classes)
    src = _sources(tmp_path, X, y, off)[kind]
    est = LogisticRegression()
    training = prepare(src, validator=est)
    assert training.feature_names in (None, ("x0", "x1", "x2"))  # offsets are not features
    assert est.n_features_in_ == 3
    np.testing.assert_allclose(_offsets(training), off.reshape(len(y), -1), rtol=1e-12)


def test_a_cached_pass_serves_the_same_offsets(tmp_path):
    X, y, off = _data()
    src = ArraySource(X, y, offset=off, chunk_rows=40, cache_dir=tmp_path / "cache")
    training = prepare(src, validator=LogisticRegression())
    first = _offsets(training)
    assert not training.data.passes[-1]["from_cache"]
    second = _offsets(training)
    assert training.data.passes[-1]["from_cache"]
    np.testing.assert_array_equal(first, second)


def test_source_offset_columns_must_match_the_classes(tmp_path):
    X, y, off = _data(n_classes=3)
    with pytest.raises(ValueError, match=r"offset has 1 column\(s\), but 3 classes need 3"):
        prepare(ArraySource(X, y, offset=off[:, 0]), validator=LogisticRegression())
    with pytest.raises(ValueError, match="offsets from its offset= column"):
        LogisticRegression().fit(ArraySource(X, y), offset=off)


def test_a_source_offset_that_is_not_finite_names_its_row(tmp_path):
    X, y, off = _data()
    off[17] = np.nan
    with pytest.raises(ValueError, match=r"rows 0-39, row 17: offset nan is not finite"):
        prepare(ArraySource(X, y, offset=off, chunk_rows=40), validator=LogisticRegression())


def test_fit_and_partial_fit_hand_the_offset_to_the_objective(monkeypatch):
    seen = []
    for module in (_engine, _online):
        build = module.build_objective

        def spy(spec, training, penalty, _build=build):
            seen.append(_offsets(training))
            return _build(spec, training, penalty)

        monkeypatch.setattr(module, "build_objective", spy)
    X, y, off = _data()
    LogisticRegression().fit(X, y, offset=off)
    LogisticRegression(solver="sgd").partial_fit(X, y, classes=[0, 1], offset=off)
    assert len(seen) == 2
    for got in seen:
        np.testing.assert_array_equal(got[:, 0], off)


@pytest.mark.parametrize("n_classes", [2, 3])
def test_predictions_add_the_offset_to_the_logits(n_classes):
    from scipy.special import expit, log_softmax, softmax

    X, y, off = _data(n_classes=n_classes)
    clf = LogisticRegression().fit(X, y)
    raw = X @ clf.coef_.T + clf.intercept_ + off.reshape(len(y), -1)  # NumPy reference
    got = clf.decision_function(X, offset=off)
    if n_classes == 2:
        np.testing.assert_allclose(got, raw[:, 0], rtol=1e-12)
        p1 = expit(raw[:, 0])
        proba = np.column_stack([1 - p1, p1])
        pred = clf.classes_[(raw[:, 0] > 0).astype(int)]
    else:
        np.testing.assert_allclose(got, raw, rtol=1e-12)
        proba = softmax(raw, axis=1)
        np.testing.assert_allclose(
            clf.predict_log_proba(X, offset=off), log_softmax(raw, axis=1), rtol=1e-10
        )
        pred = clf.classes_[raw.argmax(axis=1)]
    np.testing.assert_allclose(clf.predict_proba(X, offset=off), proba, rtol=1e-10, atol=1e-15)
    np.testing.assert_array_equal(clf.predict(X, offset=off), pred)
    assert clf.score(X, y, offset=off) == pytest.approx(np.mean(pred == y))
    with pytest.raises(ValueError, match="offset must have shape"):
        clf.predict(X, offset=np.zeros(len(y) + 1))


def _distributed_worker(rank, world, store, out):
    import json
    import os

    import torch.distributed as dist

    from torchlogit.distributed import DistributedError

    os.environ["GLOO_SOCKET_IFNAME"] = "lo"
    dist.init_process_group("gloo", init_method=f"file://{store}", rank=rank, world_size=world)
    try:
        X, y, off = _data(n_classes=3)
        rows = np.array_split(np.arange(len(y)), world)[rank]
        result = {}
        try:  # an offset on rank 0 only: every rank stops
            LogisticRegression().fit(X[rows], y[rows], offset=off[rows] if rank == 0 else None)
        except (ValueError, DistributedError) as exc:
            result["one-rank"] = str(exc)
        seen = []
        build = _engine.build_objective

        def spy(spec, training, penalty):
            seen.append(_offsets(training).tolist())
            return build(spec, training, penalty)

        _engine.build_objective = spy
        LogisticRegression().fit(X[rows], y[rows], offset=off[rows])
        result["seen"] = seen[0]
        with open(os.path.join(out, f"r{rank}.json"), "w") as fh:
            json.dump(result, fh)
    finally:
        dist.destroy_process_group()


@pytest.mark.distributed
def test_each_rank_hands_its_rows_offsets_to_the_objective(tmp_path):
    import json

    import torch.multiprocessing as mp

    mp.spawn(_distributed_worker, args=(2, str(tmp_path / "store"), str(tmp_path)), nprocs=2)
    X, y, off = _data(n_classes=3)
    for r in range(2):
        got = json.loads((tmp_path / f"r{r}.json").read_text())
        assert "an offset was given on ranks [0] only" in got["one-rank"]
        rows = np.array_split(np.arange(len(y)), 2)[r]
        np.testing.assert_array_equal(np.array(got["seen"]), off[rows])

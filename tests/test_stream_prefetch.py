"""The streaming pipeline: chunk sizes bounded in bytes, page checksums verified once, and
the prefetching thread shut down on errors, early exits and interrupts."""

from __future__ import annotations

import os
import threading

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch

from torchlogit import LogisticRegression
from torchlogit.data import ArraySource, CSVSource, NumpySource, ParquetSource
from torchlogit.data._sources import default_chunk_rows


def _prefetch_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "torchlogit-prefetch" and t.is_alive()]


def _data(n=1000, d=4, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    y = (X[:, 0] + rng.logistic(size=n) > 0).astype(np.int64)
    return X, y


# ---------------------------------------------------------------------- chunk sizes
def test_default_chunk_rows_bounds_the_bytes_of_a_chunk():
    assert default_chunk_rows(100) == 65_536  # S1's width: the former fixed default
    assert default_chunk_rows(128) == 65_536 and default_chunk_rows(129) == 32_768
    assert default_chunk_rows(1) == 262_144  # narrow: capped
    assert default_chunk_rows(10**7) == 256  # very wide: floored
    for d in (1, 7, 100, 129, 1000, 10_000, 123_457):
        rows = default_chunk_rows(d)
        assert rows & (rows - 1) == 0  # a power of two
        if 256 < rows < 262_144:
            assert 2**22 < rows * d <= 2**23  # 4-8 M values: 32-64 MB in float64


def test_sources_size_their_chunks_by_width(tmp_path):
    X, y = _data(n=300, d=200)
    assert ArraySource(X, y).chunk_rows == 32_768
    assert ArraySource(X, y, chunk_rows=50).chunk_rows == 50  # given: kept
    np.save(tmp_path / "X.npy", X)
    np.save(tmp_path / "y.npy", y)
    assert NumpySource(tmp_path / "X.npy", tmp_path / "y.npy").chunk_rows == 32_768
    cols = {f"x{j}": X[:, j] for j in range(200)} | {"label": y}
    pq.write_table(pa.table(cols), tmp_path / "a.parquet")
    assert ParquetSource(tmp_path / "a.parquet", target="label").chunk_rows == 32_768
    assert ParquetSource(tmp_path / "a.parquet", target="label", features=["x0"]).chunk_rows == (
        262_144
    )
    header = ",".join([*(f"x{j}" for j in range(200)), "label"])
    (tmp_path / "a.csv").write_text(header + "\n" + ",".join(["0"] * 200 + ["1"]) + "\n")
    assert CSVSource(tmp_path / "a.csv", target="label").chunk_rows == 32_768


# ---------------------------------------------------------------------- checksums
def _parquet(tmp_path, X, y):
    cols = {f"x{j}": X[:, j] for j in range(X.shape[1])} | {"label": y}
    p = tmp_path / "d.parquet"
    pq.write_table(
        pa.table(cols), p, row_group_size=100, write_page_checksum=True, compression="NONE"
    )
    return p


def test_checksums_verified_by_the_validation_pass_not_again(tmp_path, monkeypatch):
    X, y = _data()
    p = _parquet(tmp_path, X, y)
    src = ParquetSource(p, target="label", chunk_rows=64)
    opened = []
    real = pq.ParquetFile

    def spy(path, **kw):
        opened.append(kw["page_checksum_verification"])
        return real(path, **kw)

    monkeypatch.setattr(pq, "ParquetFile", spy)
    src.scan()
    assert opened and all(opened)
    opened.clear()
    data = src.open(dtype=torch.float64)
    got = torch.cat([b.X for b in data.batches()]).numpy()
    assert opened == [False]
    np.testing.assert_array_equal(got, X)  # the same rows as the validation pass


def test_a_page_damaged_after_validation_is_refused_before_the_pass(tmp_path):
    """Why training passes may skip the CRCs: a changed byte changes the files' sha256,
    checked before every pass (even with the modification time put back)."""
    X, y = _data()
    p = _parquet(tmp_path, X, y)
    data = ParquetSource(p, target="label", chunk_rows=64).open(dtype=torch.float64)
    st = os.stat(p)
    raw = bytearray(p.read_bytes())
    raw[len(raw) // 3] ^= 0x55
    p.write_bytes(bytes(raw))
    os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns))
    with pytest.raises(ValueError, match="changed since they were validated"):
        next(iter(data.batches()))


# ---------------------------------------------------------------------- the prefetch thread
class _Failing(ArraySource):
    """Fails in its third chunk of a training pass (the validation pass reads it whole)."""

    def __init__(self, *a, exc, **kw):
        super().__init__(*a, **kw)
        self.exc = exc

    def training_chunks(self):
        for i, chunk in enumerate(self._chunks()):
            if i == 2:
                raise self.exc
            yield chunk


@pytest.mark.parametrize(
    "exc",
    [
        ValueError("Parquet file 'f.parquet', row group 2, row 17, column 'x3': missing value"),
        KeyboardInterrupt(),
    ],
)
def test_an_error_in_the_producer_reaches_the_consumer_and_ends_the_thread(exc):
    X, y = _data()
    data = _Failing(X, y, chunk_rows=100, exc=exc).open(dtype=torch.float64)
    seen = 0
    with pytest.raises(type(exc)) as info:
        for _ in data.batches():
            seen += 1
    assert info.value is exc  # the same error, message intact
    assert seen <= 2
    assert not _prefetch_threads()
    assert data.passes == []  # an incomplete pass is not recorded


def test_a_fit_stopped_by_a_bad_chunk_raises_its_message_and_leaves_no_thread():
    X, y = _data()
    exc = ValueError("CSV file 'a.csv', line 212, column 'x1': not a number")
    src = _Failing(X, y, chunk_rows=100, exc=exc)
    with pytest.raises(ValueError, match="line 212, column 'x1'"):
        LogisticRegression().fit(src)
    assert not _prefetch_threads()


@pytest.mark.parametrize("stop", ["close", "interrupt"])
def test_leaving_a_pass_early_stops_the_producer(stop):
    """A consumer that stops after one batch (generator closed, or a KeyboardInterrupt in
    the compute) joins the thread; the bounded queue never read more than its depth."""
    X, y = _data(n=5000)
    src = ArraySource(X, y, chunk_rows=100)  # 50 chunks
    served = []
    real = src.training_chunks

    def counting():
        for chunk in real():
            served.append(chunk.first_row)
            yield chunk

    src.training_chunks = counting
    data = src.open(dtype=torch.float64, prefetch=2)
    batches = data.batches()
    next(batches)
    if stop == "close":
        batches.close()
    else:
        with pytest.raises(KeyboardInterrupt):
            batches.throw(KeyboardInterrupt())
    assert not _prefetch_threads()
    # one served, one held for the device copy, two in the queue, one waiting to be put
    assert len(served) <= 6


# ---------------------------------------------------------------------- the validation pass
@pytest.mark.parametrize(
    "bad, kind", [(np.nan, "NaN"), (np.inf, "infinity"), (-np.inf, "infinity")]
)
def test_validation_finds_non_finite_values_and_the_largest_magnitude(bad, kind):
    """The checks by min / max (no temporaries) name the same row and column, and the
    largest |x| equals NumPy's ``abs().max()``."""
    X, y = _data(n=500, d=6)
    X[:, 3] *= -40.0
    assert ArraySource(X, y, chunk_rows=64).scan().max_abs == np.abs(X).max()
    X[301, 4] = bad
    with pytest.raises(ValueError, match=f"rows 256-319, row 301, column 4: {kind} in the"):
        ArraySource(X, y, chunk_rows=64).scan()


# ---------------------------------------------------------------------- hashing beside the pass
def _digest_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "torchlogit-digest" and t.is_alive()]


def test_the_files_hashed_beside_the_validation_pass_are_their_sha256(tmp_path):
    import hashlib

    X, y = _data()
    p = _parquet(tmp_path, X, y)
    summary = ParquetSource(p, target="label", chunk_rows=64).scan()
    expected = hashlib.sha256(f"{p.name}\0{hashlib.sha256(p.read_bytes()).hexdigest()}\0".encode())
    assert summary.content == expected.hexdigest()
    assert not _digest_threads()


def test_a_file_rewritten_during_the_validation_pass_is_seen(tmp_path):
    """Rewritten (here with the same bytes) and its modification time put back: the change
    time differs, and the pass refuses to vouch for rows read across the rewrite."""
    X, y = _data()
    p = _parquet(tmp_path, X, y)

    class Rewriting(ParquetSource):
        def _chunks(self):
            for i, chunk in enumerate(super()._chunks()):
                if i == 3:
                    st = os.stat(p)
                    p.write_bytes(p.read_bytes())
                    os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns))
                yield chunk

    with pytest.raises(ValueError, match="changed during the validation pass"):
        Rewriting(p, target="label", chunk_rows=64).scan()
    assert not _digest_threads()


def test_a_bad_row_stops_the_hashing_and_keeps_its_message(tmp_path):
    X, y = _data()
    cols = {f"x{j}": X[:, j] for j in range(X.shape[1])} | {"label": y}
    t = pa.table(cols)
    x2 = pa.array(np.where(np.arange(len(y)) == 700, np.nan, X[:, 2]), from_pandas=True)
    t = t.set_column(2, "x2", x2)
    p = tmp_path / "bad.parquet"
    pq.write_table(t, p, row_group_size=300)
    with pytest.raises(ValueError, match=r"row group 2, row 100, column 'x2': missing value"):
        ParquetSource(p, target="label", chunk_rows=64).scan()
    assert not _digest_threads()

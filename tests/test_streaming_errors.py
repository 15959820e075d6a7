"""Bad files fail before the model changes, naming the file and where in it."""

from __future__ import annotations

import os
import re

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from _streaming_helpers import make_frame, write_csv, write_npy, write_parquet
from torchlogit import LogisticRegression
from torchlogit.data import ArraySource, CSVSource, NumpySource, ParquetSource


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 4))
    y = (X[:, 0] + rng.normal(size=300) > 0).astype(np.int64)
    return X, y


@pytest.fixture
def fitted(data):
    X, y = data
    return LogisticRegression().fit(X, y)


def _fails_unchanged(est, source_factory, match):
    """Building or fitting the source raises ``match``; ``est`` keeps its coefficients."""
    before = (est.coef_.copy(), est.intercept_.copy(), est.n_features_in_)
    with pytest.raises(ValueError, match=match):
        est.fit(source_factory())
    np.testing.assert_array_equal(est.coef_, before[0])
    np.testing.assert_array_equal(est.intercept_, before[1])
    assert est.n_features_in_ == before[2]


def _q(path) -> str:
    """The path as the messages quote it."""
    return re.escape(repr(str(path)))


def _pq(tmp_path, data, **kw):
    X, y = data
    return write_parquet(tmp_path / "pq", X, y, **kw)


# ---------------------------------------------------------------------- Parquet files
def test_truncated_parquet(tmp_path, data, fitted):
    paths = _pq(tmp_path, data)
    raw = open(paths[1], "rb").read()
    open(paths[1], "wb").write(raw[: len(raw) // 2])
    match = _q(paths[1]) + ".*truncated or corrupt"
    _fails_unchanged(fitted, lambda: ParquetSource(paths, target="label"), match)


def test_empty_parquet(tmp_path, data, fitted):
    paths = _pq(tmp_path, data)
    open(paths[2], "wb").close()
    match = _q(paths[2]) + ".*empty"
    _fails_unchanged(fitted, lambda: ParquetSource(tmp_path / "pq", target="label"), match)


def test_corrupt_page_caught_by_checksum(tmp_path, data, fitted):
    X, y = data
    p = tmp_path / "one.parquet"
    table = pa.Table.from_pandas(make_frame(X, y), preserve_index=False)
    pq.write_table(table, p, row_group_size=100, write_page_checksum=True, compression="NONE")
    meta = pq.ParquetFile(p).metadata
    col = meta.row_group(1).column(2)  # x2 in row group 1
    start = col.data_page_offset
    raw = bytearray(open(p, "rb").read())
    for k in range(start + col.total_compressed_size - 40, start + col.total_compressed_size - 8):
        raw[k] ^= 0xFF  # inside the page's values, not its header
    open(p, "wb").write(bytes(raw))
    match = _q(p) + ", row group 1.*(?i:crc|checksum|corrupt)"
    _fails_unchanged(fitted, lambda: ParquetSource(p, target="label"), match)


def test_schema_missing_column(tmp_path, data, fitted):
    paths = _pq(tmp_path, data)
    t = pq.read_table(paths[3]).drop_columns(["x1"])
    pq.write_table(t, paths[3])
    match = _q(paths[3]) + ".*'x1' is missing"
    _fails_unchanged(fitted, lambda: ParquetSource(paths, target="label"), match)


def test_schema_different_type(tmp_path, data, fitted):
    paths = _pq(tmp_path, data)
    t = pq.read_table(paths[2])
    t = t.set_column(0, "x0", t.column("x0").cast(pa.float32()))
    pq.write_table(t, paths[2])
    match = _q(paths[2]) + ".*'x0' has type float.*but double"
    _fails_unchanged(fitted, lambda: ParquetSource(paths, target="label"), match)


def test_non_numeric_feature(tmp_path, data, fitted):
    X, y = data
    df = make_frame(X, y)
    df["x3"] = df["x3"].astype(str)
    p = tmp_path / "s.parquet"
    df.to_parquet(p)
    match = _q(p) + ".*'x3' has non-numeric type (large_)?string"
    _fails_unchanged(fitted, lambda: ParquetSource(p, target="label"), match)


@pytest.mark.parametrize(
    ("column", "value", "what"),
    [("x2", None, "missing value"), ("x1", np.nan, "NaN"), ("x0", np.inf, "infinity")],
)
def test_missing_and_non_finite_values(tmp_path, data, fitted, column, value, what):
    X, y = data
    X = X.copy()
    j = int(column[1:])
    mask = np.zeros(len(y), bool)
    if value is None:
        mask[250] = True
    else:
        X[250, j] = value
    arrays = [pa.array(X[:, k], mask=mask if k == j else None) for k in range(X.shape[1])]
    t = pa.table(arrays + [pa.array(y)], names=[f"x{k}" for k in range(X.shape[1])] + ["label"])
    p = tmp_path / "v.parquet"
    pq.write_table(t, p, row_group_size=100)
    match = _q(p) + rf", row group 2, row 50, column '{column}': {what}"
    _fails_unchanged(fitted, lambda: ParquetSource(p, target="label"), match)


def test_missing_target_and_bad_weight(tmp_path, data, fitted):
    X, y = data
    df = make_frame(X, y.astype(float), weight=np.ones(len(y)))
    df.loc[7, "label"] = np.nan
    p = tmp_path / "t.parquet"
    df.to_parquet(p)
    _fails_unchanged(fitted, lambda: ParquetSource(p, target="label"), "row 7.*missing target")
    df.loc[7, "label"] = 1.0
    df.loc[11, "w"] = -1.0
    df.to_parquet(p)
    _fails_unchanged(
        fitted, lambda: ParquetSource(p, target="label", weight="w"), "row 11: sample weight -1.0"
    )


def test_single_class_and_missing_target_column(tmp_path, data, fitted):
    X, y = data
    p = tmp_path / "one.parquet"
    make_frame(X, np.zeros_like(y)).to_parquet(p)
    _fails_unchanged(fitted, lambda: ParquetSource(p, target="label"), "only one class")
    _fails_unchanged(fitted, lambda: ParquetSource(p, target="nope"), "target column 'nope'")


# ---------------------------------------------------------------------- CSV files
def _csv(tmp_path, data):
    X, y = data
    return write_csv(tmp_path / "csv", X, y)


def _edit_line(path, lineno, fn):
    lines = open(path).read().splitlines()
    lines[lineno - 1] = fn(lines[lineno - 1])
    open(path, "w").write("\n".join(lines) + "\n")


def test_csv_wrong_number_of_fields(tmp_path, data, fitted):
    paths = _csv(tmp_path, data)
    _edit_line(paths[1], 30, lambda s: s + ",7")
    match = _q(paths[1]) + ", line 30: .*Expected 5 columns, got 6"
    _fails_unchanged(fitted, lambda: CSVSource(paths, target="label"), match)


def test_csv_non_numeric_value(tmp_path, data, fitted):
    paths = _csv(tmp_path, data)
    _edit_line(paths[3], 41, lambda s: "abc," + s.split(",", 1)[1])
    match = _q(paths[3]) + ", line 41, column 'x0': 'abc' is not a number"
    _fails_unchanged(fitted, lambda: CSVSource(paths, target="label"), match)


def test_csv_missing_value(tmp_path, data, fitted):
    paths = _csv(tmp_path, data)
    _edit_line(paths[1], 12, lambda s: ",".join(["", *s.split(",")[1:]]))
    match = _q(paths[1]) + ", line 12, column 'x0': missing value"
    _fails_unchanged(fitted, lambda: CSVSource(paths, target="label"), match)


def test_csv_header_differs_and_empty_file(tmp_path, data, fitted):
    paths = _csv(tmp_path, data)
    _edit_line(paths[2], 1, lambda s: s.replace("x1", "z1"))
    match = _q(paths[2]) + ".*header differs.*missing \\['x1'\\]"
    _fails_unchanged(fitted, lambda: CSVSource(paths, target="label"), match)
    open(paths[2], "w").close()
    match = _q(paths[2]) + " is empty"
    _fails_unchanged(fitted, lambda: CSVSource(paths, target="label"), match)


# ---------------------------------------------------------------------- NumPy files
def test_truncated_npy_and_length_mismatch(tmp_path, data, fitted):
    X, y = data
    px, py = write_npy(tmp_path / "npy", X, y)
    np.save(tmp_path / "short.npy", y[:-1])
    match = "labels have shape \\(299,\\), X has 300 rows"
    _fails_unchanged(fitted, lambda: NumpySource(px, tmp_path / "short.npy"), match)
    raw = open(px, "rb").read()
    open(px, "wb").write(raw[:-100])
    _fails_unchanged(fitted, lambda: NumpySource(px, py), _q(px) + ".*truncated or corrupt")


def test_array_source_nan_names_row_and_column(data, fitted):
    X, y = data
    X = X.copy()
    X[123, 3] = np.nan
    _fails_unchanged(fitted, lambda: ArraySource(X, y, chunk_rows=50), "row 123, column 3: NaN")


# ---------------------------------------------------------------------- between passes
def test_files_changed_after_validation(tmp_path, data):
    paths = _pq(tmp_path, data)
    streamed = ParquetSource(paths, target="label").open()
    assert sum(b.n_samples for b in streamed.batches()) == 300
    t = pq.read_table(paths[0])
    pq.write_table(t.slice(0, 5), paths[0])
    os.utime(paths[0], ns=(1, 1))
    with pytest.raises(ValueError, match="changed since they were validated"):
        list(streamed.batches())


def test_pass_with_missing_rows_is_refused(data):
    X, y = data
    src = ArraySource(X, y, chunk_rows=64)
    streamed = src.open()
    full = src._chunks
    src._chunks = lambda: (c for i, c in enumerate(full()) if i != 2)  # a chunk goes missing
    with pytest.raises(ValueError, match="read 236 rows but the data has 300; refusing"):
        list(streamed.batches())


def test_labels_that_were_not_validated(data):
    X, y = data
    y = y.copy()
    src = ArraySource(X, y, chunk_rows=64)
    streamed = src.open()
    y[77] = 5  # edited in place after validation
    with pytest.raises(ValueError, match="row 77: label 5 was not in the data"):
        list(streamed.batches())


def test_pandas_frame_with_bad_dtype():
    df = pd.DataFrame({"a": ["x", "y"], "b": [1.0, 2.0]})
    with pytest.raises(ValueError, match="not numeric"):
        ArraySource(df, [0, 1])

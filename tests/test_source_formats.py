"""Streamed CSV / Parquet inputs that work in memory work streamed too (#13 item 15).

``.csv.gz`` was read as UTF-8 text, ``.tsv`` with ``","``, a UTF-8 byte-order mark became part
of the first column's name, a row wider than pyarrow's block failed ("straddling object"),
duplicate column names gave a ``KeyError`` traceback and a list-typed Parquet target
"unhashable type". Each now fits like the plain file, or fails with one line naming the file.
"""

from __future__ import annotations

import bz2
import gzip

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from torchlogit import LogisticRegression
from torchlogit.data import CSVSource, ParquetSource


@pytest.fixture
def frame():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((400, 2))
    y = (X @ [1.5, -1.0] + rng.logistic(size=400) > 0).astype(int)
    return pd.DataFrame({"a": X[:, 0], "b": X[:, 1], "label": y})


def _fit(path, **kw):
    return LogisticRegression(solver="lbfgs", tol=1e-10).fit(
        CSVSource(path, target="label", chunk_rows=50, **kw)
    )


def _ref(tmp_path, frame):
    frame.to_csv(tmp_path / "plain.csv", index=False)
    return _fit(tmp_path / "plain.csv")


@pytest.mark.parametrize("ending", [".csv.gz", ".csv.bz2"])
def test_compressed_csv(tmp_path, frame, ending):
    path = tmp_path / f"d{ending}"
    opener = gzip.open if ending.endswith(".gz") else bz2.open
    with opener(path, "wt") as fh:
        frame.to_csv(fh, index=False)
    np.testing.assert_array_equal(_fit(path).coef_, _ref(tmp_path, frame).coef_)
    folder = tmp_path / "folder"  # a folder's compressed files are found too
    folder.mkdir()
    path.rename(folder / path.name)
    np.testing.assert_array_equal(_fit(folder).coef_, _ref(tmp_path, frame).coef_)


def test_tsv_is_read_with_tabs(tmp_path, frame):
    frame.to_csv(tmp_path / "d.tsv", index=False, sep="\t")
    np.testing.assert_array_equal(_fit(tmp_path / "d.tsv").coef_, _ref(tmp_path, frame).coef_)
    frame.to_csv(tmp_path / "e.csv", index=False)
    with pytest.raises(ValueError, match="mixed in one source; pass delimiter="):
        CSVSource([tmp_path / "d.tsv", tmp_path / "e.csv"], target="label")


def test_utf8_byte_order_mark(tmp_path, frame):
    path = tmp_path / "bom.csv"
    path.write_text(frame.to_csv(index=False), encoding="utf-8-sig")
    got = _fit(path)
    assert got.feature_names_in_.tolist() == ["a", "b"]
    np.testing.assert_array_equal(got.coef_, _ref(tmp_path, frame).coef_)


def test_row_wider_than_the_block(tmp_path, frame):
    lines = frame.to_csv(index=False).splitlines()
    wide = lines[:]
    a, _, label = wide[300].split(",")
    wide[300] = ",".join([a, "0." + "0" * 400_000 + "1", label])  # ~0: 400 kB in one field
    lines[300] = ",".join([a, "0", label])
    (tmp_path / "wide.csv").write_text("\n".join(wide) + "\n")
    (tmp_path / "ref.csv").write_text("\n".join(lines) + "\n")
    got, ref = _fit(tmp_path / "wide.csv"), _fit(tmp_path / "ref.csv")
    # other chunk boundaries after the larger block: sums agree to the last bits
    np.testing.assert_allclose(got.coef_, ref.coef_, rtol=1e-12)
    assert got.passes_[0]["rows"] == 400


def test_duplicate_column_names(tmp_path, frame):
    path = tmp_path / "dup.csv"
    path.write_text(frame.to_csv(index=False).replace("a,b,label", "a,a,label", 1))
    with pytest.raises(ValueError, match=r"dup.csv': the column name 'a' appears more than once"):
        CSVSource(path, target="label")
    table = pa.table(
        [pa.array(frame.a), pa.array(frame.b), pa.array(frame.label)], ["a", "a", "label"]
    )
    pq.write_table(table, tmp_path / "dup.parquet")
    with pytest.raises(ValueError, match=r"dup.parquet': the column name 'a' appears more than"):
        ParquetSource(tmp_path / "dup.parquet", target="label")


def test_list_typed_parquet_target(tmp_path, frame):
    labels = pa.array([[int(v)] for v in frame.label])
    pq.write_table(pa.table({"a": frame.a, "b": frame.b, "label": labels}), tmp_path / "l.parquet")
    with pytest.raises(ValueError, match=r"l.parquet': target column 'label' has type list"):
        ParquetSource(tmp_path / "l.parquet", target="label")


@pytest.mark.parametrize("chunk_rows", [37, 100, 1000])
def test_parquet_row_groups_read_whole_or_batch_by_batch_give_the_same_chunks(
    tmp_path, frame, chunk_rows, monkeypatch
):
    """Small row groups are read whole and sliced; past ROW_GROUP_READ_BYTES, batch by
    batch (bounded memory): the same chunks, rows and positions either way."""
    import torchlogit.data._parquet as parquet_module

    p = tmp_path / "d.parquet"
    pq.write_table(pa.Table.from_pandas(frame), p, row_group_size=150)
    src = ParquetSource(p, target="label", chunk_rows=chunk_rows)

    def chunks():
        return [(c.X.copy(), c.y.copy(), c.where, c.first_row) for c in src._chunks()]

    whole = chunks()
    monkeypatch.setattr(parquet_module, "ROW_GROUP_READ_BYTES", 0)
    by_batch = chunks()
    assert [c[2:] for c in whole] == [c[2:] for c in by_batch]
    assert all(len(c[1]) <= chunk_rows for c in whole)
    for a, b in zip(whole, by_batch, strict=True):
        np.testing.assert_array_equal(a[0], b[0])
        np.testing.assert_array_equal(a[1], b[1])
    X = np.concatenate([c[0] for c in whole])
    np.testing.assert_array_equal(X, frame[["a", "b"]].to_numpy())

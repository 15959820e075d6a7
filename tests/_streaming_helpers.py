"""Shared helpers for the streaming tests: write a data set as files of uneven sizes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

SPLITS = (0.07, 0.5, 0.52)  # cut points: files of 7%, 43%, 2% and 48% of the rows


def cuts(n: int) -> list[int]:
    return [0, *(int(f * n) for f in SPLITS), n]


def make_frame(X, y, weight=None) -> pd.DataFrame:
    df = pd.DataFrame({f"x{j}": X[:, j] for j in range(X.shape[1])})
    df["label"] = y
    if weight is not None:
        df["w"] = weight
    return df


def write_parquet(folder, X, y, weight=None, row_group_size=97) -> list[str]:
    """Four Parquet files of uneven sizes, small row groups, page checksums written."""
    folder.mkdir(parents=True, exist_ok=True)
    df = make_frame(X, y, weight)
    c = cuts(len(df))
    paths = []
    for i in range(len(c) - 1):
        table = pa.Table.from_pandas(df.iloc[c[i] : c[i + 1]], preserve_index=False)
        p = folder / f"part{i}.parquet"
        pq.write_table(table, p, row_group_size=row_group_size, write_page_checksum=True)
        paths.append(str(p))
    return paths


def write_csv(folder, X, y, weight=None) -> list[str]:
    folder.mkdir(parents=True, exist_ok=True)
    df = make_frame(X, y, weight)
    c = cuts(len(df))
    paths = []
    for i in range(len(c) - 1):
        p = folder / f"part{i}.csv"
        df.iloc[c[i] : c[i + 1]].to_csv(p, index=False)
        paths.append(str(p))
    return paths


def write_npy(folder, X, y, weight=None):
    folder.mkdir(parents=True, exist_ok=True)
    np.save(folder / "X.npy", X)
    np.save(folder / "y.npy", y)
    out = [str(folder / "X.npy"), str(folder / "y.npy")]
    if weight is not None:
        np.save(folder / "w.npy", weight)
        out.append(str(folder / "w.npy"))
    return out


def count_source_reads(monkeypatch, source_class) -> list:
    """A list that gains one entry each time any ``source_class`` starts a read of its files
    (``_chunks``, one call a pass): ``len(...)`` is the number of passes."""
    reads = []
    original = source_class._chunks

    def counted(self):
        reads.append(1)
        yield from original(self)

    monkeypatch.setattr(source_class, "_chunks", counted)
    return reads

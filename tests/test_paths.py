"""One path expander and one table of file formats, for the sources, the CLI and torchrun."""

from __future__ import annotations

import pytest

from torchlogit.data import FILE_FORMATS, ParquetSource, expand_paths, file_format
from torchlogit.distributed import expand_paths as distributed_expand_paths


def test_a_folder_gives_every_data_file_and_each_has_a_known_format(tmp_path):
    names = ["b.tsv", "a.csv", "c.PQ", "d.parq", "e.parquet", "f.csv.gz", "g.csv.bz2", "h.txt"]
    for name in names:
        (tmp_path / name).write_text("x")
    got = distributed_expand_paths([tmp_path])
    assert [p.rsplit("/", 1)[1] for p in got] == sorted(names[:-1])
    kinds = [file_format(p) for p in got]
    assert kinds == ["csv", "csv", "parquet", "parquet", "parquet", "csv", "csv"]
    assert file_format("notes.txt") is None
    assert set(FILE_FORMATS) == {"csv", "parquet"}


def test_a_missing_file_is_kept_for_the_reader_or_refused_by_a_source(tmp_path):
    missing = str(tmp_path / "nope.parquet")
    assert distributed_expand_paths([missing]) == [missing]  # the CLI reports it when reading
    with pytest.raises(ValueError, match="no such file or folder"):
        expand_paths(missing, must_exist=True)
    with pytest.raises(ValueError, match="no such file or folder"):
        ParquetSource(missing, target="y")
    with pytest.raises(ValueError, match="holds no .parquet/.parq/.pq files"):
        ParquetSource(tmp_path, target="y")

"""``CSVSource``: training data in CSV files, read with pyarrow's streaming reader.

The header of every file must name the same columns. Feature and weight columns are parsed
as float64 (a value that is not a number fails, naming the file, line and column); the
target's type is inferred once from the first block of the first file and then fixed for
every file. Empty fields and the usual null spellings (``NA``, ``NaN``, ...) are missing
values and fail with their line. A row with the wrong number of fields fails with its line.
Lines are counted from 1 (the header is line 1), assuming no quoted field spans lines.
"""

from __future__ import annotations

import csv
import re

import numpy as np

from ._parquet import offset_columns, record_batch_to_chunk, select_columns
from ._paths import expand_paths
from ._sources import StreamingSource, file_fingerprint


def _read_header(path: str, delimiter: str) -> list[str]:
    with open(path, newline="", encoding="utf-8") as fh:
        try:
            row = next(csv.reader(fh, delimiter=delimiter))
        except StopIteration:
            raise ValueError(f"CSV file {path!r} is empty") from None
    return [c.strip() for c in row]


def _locate_bad_value(path: str, column: str, delimiter: str) -> tuple[int, str] | None:
    """``(line, text)`` of the first value of ``column`` that does not parse as a number."""
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh, delimiter=delimiter)
        header = [c.strip() for c in next(reader)]
        j = header.index(column)
        for line, row in enumerate(reader, start=2):
            if j < len(row):
                try:
                    float(row[j])
                except ValueError:
                    return line, row[j]
    return None


class CSVSource(StreamingSource):
    """Rows of CSV files with a header line; same arguments as :class:`ParquetSource`.

    Parameters
    ----------
    paths : str, path, or list of them
        A file, a folder (every ``*.csv`` file in it, sorted), a glob, or a list of those.
    target : str
    features : list of str, optional (default: every column but target and weight)
    weight : str, optional
    offset : str or list of str, optional
        Offset column(s), as for :class:`ParquetSource`.
    chunk_rows : int, default=65536
    cache_dir : str or path, optional
        Keep the decoded chunks here as ``.npy`` files after the first complete pass; later
        passes (and later fits) read them instead of decoding the files again.
        Approximate rows per chunk (the reader works in blocks of bytes; the block size is
        set from the first file's bytes per line).
    delimiter : str, default=","
    """

    def __init__(
        self,
        paths,
        *,
        target: str,
        features=None,
        weight: str | None = None,
        offset=None,
        chunk_rows: int | None = None,
        cache_dir=None,
        delimiter: str = ",",
    ):
        super().__init__(chunk_rows=chunk_rows, cache_dir=cache_dir)
        # one delimiter per source: a folder gives its .csv files (not .tsv / .csv.gz)
        self.paths = expand_paths(paths, suffixes=(".csv",), must_exist=True)
        self.target = target
        self.weight = weight
        self.offset = offset
        self._offset_cols = offset_columns(offset)
        self.delimiter = delimiter
        header = _read_header(self.paths[0], delimiter)
        self.header = header
        where0 = f"CSV file {self.paths[0]!r}"
        self.features = select_columns(header, target, features, weight, where0, self._offset_cols)
        self.feature_names = tuple(self.features)
        for path in self.paths[1:]:
            h = _read_header(path, delimiter)
            if h != header:
                missing = [c for c in header if c not in h]
                detail = f"missing {missing}" if missing else f"{h} instead of {header}"
                raise ValueError(f"CSV file {path!r}: header differs from {where0}: {detail}")
        self._block_size = self._estimate_block_size()
        self._target_type = None

    def describe(self) -> str:
        if len(self.paths) == 1:
            return f"CSV file {self.paths[0]!r}"
        return f"{len(self.paths)} CSV files ({self.paths[0]!r}, ...)"

    def _fingerprint(self) -> tuple:
        return file_fingerprint(self.paths)

    def _content_paths(self) -> list:
        return list(self.paths)

    def _estimate_block_size(self) -> int:
        with open(self.paths[0], "rb") as fh:
            head = fh.read(1 << 16)
        lines = max(head.count(b"\n"), 1)
        per_line = max(len(head) / lines, 8)
        return int(min(max(per_line * self.chunk_rows, 1 << 16), 1 << 30))

    def _reader(self, path: str):
        import pyarrow as pa
        import pyarrow.csv as pacsv

        types = {c: pa.float64() for c in self.features}
        extra = ([self.weight] if self.weight else []) + list(self._offset_cols)
        for c in extra:
            types[c] = pa.float64()
        if self._target_type is not None:
            types[self.target] = self._target_type
        cols = [*self.features, self.target] + extra
        return pacsv.open_csv(
            path,
            read_options=pacsv.ReadOptions(use_threads=False, block_size=self._block_size),
            parse_options=pacsv.ParseOptions(delimiter=self.delimiter),
            convert_options=pacsv.ConvertOptions(
                column_types=types, include_columns=cols, strings_can_be_null=True
            ),
        )

    def _fail(self, path: str, exc: Exception, line0: int):
        msg = str(exc)
        col = re.search(r"CSV column #(\d+)", msg)
        row = re.search(r"Row #(\d+)", msg)
        if col and int(col.group(1)) < len(self.header):
            name = self.header[int(col.group(1))]
            bad = re.search(r"invalid value '(.*)'", msg)
            if row and bad:
                raise ValueError(
                    f"CSV file {path!r}, line {row.group(1)}, column {name!r}: "
                    f"{bad.group(1)!r} is not a number"
                ) from exc
            found = _locate_bad_value(path, name, self.delimiter)
            if found is not None:
                line, text = found
                raise ValueError(
                    f"CSV file {path!r}, line {line}, column {name!r}: {text!r} is not a number"
                ) from exc
            raise ValueError(f"CSV file {path!r}, column {name!r}: {msg}") from exc
        if row:
            raise ValueError(f"CSV file {path!r}, line {row.group(1)}: {msg}") from exc
        raise ValueError(f"CSV file {path!r} (after line {line0}): {msg}") from exc

    def _chunks(self):
        import pyarrow as pa

        for path in self.paths:
            try:
                reader = self._reader(path)
            except pa.ArrowException as exc:
                self._fail(path, exc, 1)
            if self._target_type is None:
                self._target_type = reader.schema.field(self.target).type
            elif reader.schema.field(self.target).type != self._target_type:
                raise ValueError(
                    f"CSV file {path!r}: target column {self.target!r} read as "
                    f"{reader.schema.field(self.target).type}, expected {self._target_type}"
                )
            row = 0
            while True:
                try:
                    batch = reader.read_next_batch()
                except StopIteration:
                    break
                except pa.ArrowException as exc:
                    self._fail(path, exc, row + 1)
                # rows are 0-based after the header; a chunk row r is on line row + r + 2
                chunk = record_batch_to_chunk(
                    batch,
                    self.features,
                    self.target,
                    self.weight,
                    f"CSV file {path!r}",
                    row,
                    row_word="line",
                    row_base=2,
                    offset_cols=self._offset_cols,
                )
                if chunk.X.dtype != np.float64:
                    chunk.X = chunk.X.astype(np.float64)
                row += batch.num_rows
                if batch.num_rows:
                    yield chunk

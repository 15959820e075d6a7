"""``CSVSource``: training data in CSV files, read with pyarrow's streaming reader.

The header of every file must name the same columns, each once. Files may be compressed
(``.gz``, ``.bz2``: decompressed as they are read) and may start with a UTF-8 byte-order
mark. The delimiter is ``","``, or a tab for ``.tsv`` files, unless given. Feature and
weight columns are parsed as float64 (a value that is not a number fails, naming the file,
line and column). Empty fields and the usual null spellings (``NA``, ``NaN``, ``None``,
...) are missing values and fail with their line. A row with the wrong number of fields
fails with its line. Lines are counted from 1 (the header is line 1), assuming no quoted
field spans lines. A row longer than the reader's block makes it read the file again with
a larger block.

The target is read as written (see :mod:`._labels_text`): with
``target_type="auto"`` its values become integers only when every distinct value is an
integer written canonically (``"7"``, not ``"007"``), floats when every one is a canonical
float, else they stay strings, so ``"1"`` and ``"01"`` are two classes.
"""

from __future__ import annotations

import bz2
import csv
import gzip
import re

import numpy as np

from ._labels_text import TARGET_TYPES, cast_labels, label_kind, relabel_summary
from ._parquet import offset_columns, record_batch_to_chunk, select_columns
from ._paths import FILE_FORMATS, expand_paths
from ._sources import StreamingSource, file_fingerprint

#: pyarrow's null spellings plus ``None`` (which pandas, the in-memory reader, also reads
#: as missing)
NULL_VALUES = [
    *("", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND"),
    *("1.#QNAN", "N/A", "NA", "NULL", "NaN", "n/a", "nan", "null", "None"),
]
_MAX_BLOCK = 1 << 31


def _open(path: str, mode: str = "rt"):
    """The file, decompressed by its ending; text without a byte-order mark."""
    name = path.lower()
    opener = gzip.open if name.endswith(".gz") else bz2.open if name.endswith(".bz2") else open
    if "b" in mode:
        return opener(path, mode)
    return opener(path, mode, newline="", encoding="utf-8-sig")


def default_delimiter(path: str) -> str:
    name = path.lower()
    for ending in (".gz", ".bz2"):
        name = name.removesuffix(ending)
    return "\t" if name.endswith(".tsv") else ","


def _read_header(path: str, delimiter: str) -> list[str]:
    try:
        with _open(path) as fh:
            row = next(csv.reader(fh, delimiter=delimiter))
    except StopIteration:
        raise ValueError(f"CSV file {path!r} is empty") from None
    except (OSError, EOFError, UnicodeDecodeError) as exc:
        raise ValueError(f"CSV file {path!r} cannot be read: {exc}") from None
    header = [c.strip() for c in row]
    dupes = sorted({c for c in header if header.count(c) > 1})
    if dupes:
        raise ValueError(f"CSV file {path!r}: the column name {dupes[0]!r} appears more than once")
    return header


def _locate_bad_value(path: str, column: str, delimiter: str) -> tuple[int, str] | None:
    """``(line, text)`` of the first value of ``column`` that does not parse as a number."""
    with _open(path) as fh:
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


class _BlockTooSmall(Exception):
    """A row does not fit in the reader's block: read the file again with a larger one."""


class CSVSource(StreamingSource):
    """Rows of CSV files with a header line; same arguments as :class:`ParquetSource`.

    Parameters
    ----------
    paths : str, path, or list of them
        A file, a folder (every ``*.csv``, ``*.csv.gz``, ``*.csv.bz2``, ``*.tsv`` file in it,
        sorted), a glob, or a list of those.
    target : str
    features : list of str, optional (default: every column but target and weight)
    weight : str, optional
    offset : str or list of str, optional
        Offset column(s), as for :class:`ParquetSource`.
    chunk_rows : int, optional
        Rows a chunk; by default about 8M values (``default_chunk_rows``: 65,536 rows
        for up to 128 columns, fewer for wider data).
        Approximate rows per chunk (the reader works in blocks of bytes; the block size is
        set from the first file's bytes per line).
    cache_dir : str or path, optional
        Keep the decoded chunks here as ``.npy`` files after the first complete pass; later
        passes (and later fits) read them instead of decoding the files again.
    delimiter : str, optional
        Default: a tab for ``.tsv`` files, else ``","``.
    target_type : {"auto", "str", "int", "float"}, default="auto"
        How the target's text becomes labels: ``"auto"`` keeps it as written unless every
        distinct value is a canonical number (see the module docstring); ``"int"`` /
        ``"float"`` parse every value (``"01"`` is 1), failing with the line of one that
        does not parse; ``"str"`` always keeps the text.
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
        delimiter: str | None = None,
        target_type: str = "auto",
    ):
        super().__init__(chunk_rows=chunk_rows, cache_dir=cache_dir)
        if target_type not in TARGET_TYPES:
            raise ValueError(f"target_type must be one of {TARGET_TYPES}, got {target_type!r}")
        self.target_type = target_type
        # one delimiter per source: a folder gives its CSV files (and .tsv when asked)
        self.paths = expand_paths(paths, suffixes=FILE_FORMATS["csv"], must_exist=True)
        if delimiter is None:
            found = {default_delimiter(p) for p in self.paths}
            if len(found) > 1:
                raise ValueError(
                    f"{self.paths[0]!r}, ...: .tsv and comma-separated files mixed in one "
                    "source; pass delimiter= or give them as separate sources"
                )
            delimiter = found.pop()
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
        self._size_chunks(len(self.features))
        self._block_size = self._estimate_block_size()
        self._blocks: dict[str, int] = {}  # files with a row longer than the block: theirs
        self._label_kind = None  # "auto": decided by the validation pass

    def describe(self) -> str:
        if len(self.paths) == 1:
            return f"CSV file {self.paths[0]!r}"
        return f"{len(self.paths)} CSV files ({self.paths[0]!r}, ...)"

    def _fingerprint(self) -> tuple:
        return file_fingerprint(self.paths)

    def _content_paths(self) -> list:
        return list(self.paths)

    def scan(self, *, force: bool = False, shard: bool = False):
        """As :meth:`StreamingSource.scan`; then, for ``target_type="auto"``, the labels'
        type is decided from the distinct values read (strings unless all are canonical)."""
        if self.target_type != "auto":
            return super().scan(force=force, shard=shard)
        before, kind = self._summary, self._label_kind
        self._label_kind = None  # a fresh pass reads the labels as written
        super().scan(force=force, shard=shard)
        if before is not None and self._summary is before:  # reused: relabelled already
            self._label_kind = kind
            return before
        self._label_kind = label_kind(self._summary.classes)
        self._summary = relabel_summary(self._summary, self._label_kind)
        return self._summary

    def _estimate_block_size(self) -> int:
        with _open(self.paths[0], "rb") as fh:
            head = fh.read(1 << 16)
        lines = max(head.count(b"\n"), 1)
        per_line = max(len(head) / lines, 8)
        return int(min(max(per_line * self.chunk_rows, 1 << 16), 1 << 30))

    def _reader(self, path: str, block_size: int):
        import pyarrow as pa
        import pyarrow.csv as pacsv

        types = {c: pa.float64() for c in self.features}
        extra = ([self.weight] if self.weight else []) + list(self._offset_cols)
        for c in extra:
            types[c] = pa.float64()
        parsed = {"int": pa.int64(), "float": pa.float64()}
        types[self.target] = parsed.get(self.target_type, pa.string())
        cols = [*self.features, self.target] + extra
        return pacsv.open_csv(
            path,
            read_options=pacsv.ReadOptions(use_threads=False, block_size=block_size),
            parse_options=pacsv.ParseOptions(delimiter=self.delimiter),
            convert_options=pacsv.ConvertOptions(
                column_types=types,
                include_columns=cols,
                strings_can_be_null=True,
                null_values=NULL_VALUES,
            ),
        )

    def _fail(self, path: str, exc: Exception, line0: int):
        msg = str(exc)
        if "straddling object" in msg or "Empty CSV file or block" in msg:
            raise _BlockTooSmall from exc
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
        for path in self.paths:
            block, done = self._blocks.get(path, self._block_size), [0]
            while True:
                try:
                    yield from self._file_chunks(path, block, done)
                    break
                except _BlockTooSmall:
                    if block >= _MAX_BLOCK:
                        raise ValueError(
                            f"CSV file {path!r} (after line {done[0] + 1}): a row longer "
                            f"than {_MAX_BLOCK} bytes, or a malformed file"
                        ) from None
                    block = min(block * 8, _MAX_BLOCK)  # again, skipping the rows served
                    self._blocks[path] = block  # and from the start in later passes

    def _file_chunks(self, path: str, block_size: int, done: list):
        """The chunks of ``path`` after its first ``done[0]`` rows (which are counted in
        ``done[0]`` as they are served)."""
        import pyarrow as pa

        try:
            reader = self._reader(path, block_size)
        except pa.ArrowException as exc:
            self._fail(path, exc, 1)
        row = 0
        while True:
            try:
                batch = reader.read_next_batch()
            except StopIteration:
                break
            except pa.ArrowException as exc:
                self._fail(path, exc, row + 1)
            skip = min(max(done[0] - row, 0), batch.num_rows)
            row += batch.num_rows
            if skip == batch.num_rows:
                continue
            batch = batch.slice(skip)
            # rows are 0-based after the header; a chunk row r is on line row + r + 2
            chunk = record_batch_to_chunk(
                batch,
                self.features,
                self.target,
                self.weight,
                f"CSV file {path!r}",
                row - batch.num_rows,
                row_word="line",
                row_base=2,
                offset_cols=self._offset_cols,
            )
            if chunk.X.dtype != np.float64:
                chunk.X = chunk.X.astype(np.float64)
            chunk.y = cast_labels(chunk.y, self._label_kind)
            done[0] = row
            yield chunk

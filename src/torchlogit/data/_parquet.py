"""``ParquetSource``: training data in one or many Parquet files, read row group by row group.

Each file is opened with page checksum verification (pages written with a CRC are checked
on read) and its footer is read before any data: a truncated, empty or corrupt file fails
there. Every file must hold the selected columns with the same Arrow types as the first
file. Features must be numeric (integer, floating or boolean); nulls are rejected with the
file, row group, row and column named.
"""

from __future__ import annotations

import os
import threading

import numpy as np

from ._paths import FILE_FORMATS, expand_paths
from ._sources import Chunk, StreamingSource, file_fingerprint

#: Row groups up to this many decoded bytes are read whole (see ParquetSource._row_group_batches).
ROW_GROUP_READ_BYTES = 128 << 20

# ids of the sources whose training pass this thread is reading (see training_chunks)
_TRAINING = threading.local()


def offset_columns(offset) -> list[str]:
    """A source's ``offset=`` as a list of column names (one for two classes, else ``K``)."""
    if offset is None:
        return []
    cols = [offset] if isinstance(offset, str) else list(offset)
    if not cols or not all(isinstance(c, str) for c in cols):
        raise ValueError(f"offset must be a column name or a list of them, got {offset!r}")
    return cols


def select_columns(
    names: list[str], target: str, features, weight, where: str, offset_cols=()
) -> list[str]:
    """The feature column names, checked against ``names`` with the target, weight and
    offset columns (which are never features)."""
    if target not in names:
        raise ValueError(f"{where}: target column {target!r} is missing (columns: {names})")
    if weight is not None and weight not in names:
        raise ValueError(f"{where}: weight column {weight!r} is missing")
    missing = [c for c in offset_cols if c not in names]
    if missing:
        raise ValueError(f"{where}: offset column(s) {missing} missing")
    special = (target, weight, *offset_cols)
    if features is None:
        features = [c for c in names if c not in special]
    else:
        features = list(features)
        missing = [c for c in features if c not in names]
        if missing:
            raise ValueError(f"{where}: feature column(s) {missing} missing")
        for c in special:
            if c is not None and c in features:
                raise ValueError(f"column {c!r} is both a feature and the target / weight / offset")
    if not features:
        raise ValueError(f"{where}: no feature columns")
    return features


def check_numeric(field, where: str) -> None:
    import pyarrow as pa

    t = field.type
    if not (pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_boolean(t)):
        raise ValueError(f"{where}: column {field.name!r} has non-numeric type {t}")


def check_label_type(field, where: str) -> None:
    """Labels are numbers, booleans, text or categories of them: not lists, structs, maps
    (unhashable) nor an all-null column."""
    import pyarrow as pa

    t = field.type
    if pa.types.is_dictionary(t):
        t = t.value_type
    if pa.types.is_nested(t) or pa.types.is_null(t):
        raise ValueError(
            f"{where}: target column {field.name!r} has type {field.type}; labels must be "
            "numbers, booleans or strings"
        )


def record_batch_to_chunk(
    batch,
    features,
    target,
    weight,
    where: str,
    first_row: int,
    *,
    row_word="row",
    row_base=0,
    offset_cols=(),
) -> Chunk:
    """Arrow record batch -> :class:`Chunk`; nulls raise with their row and column."""
    import pyarrow as pa

    chunk = Chunk(None, None, None, where, first_row, row_word, row_base)

    n = batch.num_rows
    cols = [batch.column(c) for c in features]
    dtype = np.float32 if all(pa.types.is_float32(c.type) for c in cols) else np.float64
    X = np.empty((len(cols), n), dtype=dtype).T  # column-major: each column one contiguous copy
    for j, col in enumerate(cols):
        if col.null_count:
            r = int(np.flatnonzero(col.is_null().to_numpy(zero_copy_only=False))[0])
            raise ValueError(
                f"{where}, {chunk.position(r)}, column {features[j]!r}: missing value (null)"
            )
        X[:, j] = col.to_numpy(zero_copy_only=False)
    ycol = batch.column(target)
    if ycol.null_count:
        r = int(np.flatnonzero(ycol.is_null().to_numpy(zero_copy_only=False))[0])
        raise ValueError(f"{where}, {chunk.position(r)}, column {target!r}: missing target")
    y = ycol.to_numpy(zero_copy_only=False)
    w = None
    if weight is not None:
        wcol = batch.column(weight)
        if wcol.null_count:
            r = int(np.flatnonzero(wcol.is_null().to_numpy(zero_copy_only=False))[0])
            raise ValueError(f"{where}, {chunk.position(r)}, column {weight!r}: missing weight")
        w = wcol.to_numpy(zero_copy_only=False).astype(np.float64, copy=False)
    if offset_cols:
        off = np.empty((n, len(offset_cols)))
        for j, name in enumerate(offset_cols):
            col = batch.column(name)
            if col.null_count:
                r = int(np.flatnonzero(col.is_null().to_numpy(zero_copy_only=False))[0])
                raise ValueError(f"{where}, {chunk.position(r)}, column {name!r}: missing offset")
            off[:, j] = col.to_numpy(zero_copy_only=False)
        chunk.offset = off
    chunk.X, chunk.y, chunk.weight = X, y, w
    return chunk


class ParquetSource(StreamingSource):
    """Rows of Parquet files, ``chunk_rows`` at a time (chunks never cross a row group).

    Parameters
    ----------
    paths : str, path, or list of them
        A file, a folder (every ``*.parquet`` / ``*.parq`` file in it, sorted by name), a
        glob pattern, or a list of those. Files are read in that order.
    target : str
        The label column (any type: integers, strings, booleans).
    features : list of str, optional
        Feature columns; ``None`` means every column but the target and the weight.
    weight : str, optional
        A column of non-negative sample weights.
    offset : str or list of str, optional
        The column of a fixed term added to each row's logit (two classes), or ``K``
        columns, one per class (``K > 2``).
    chunk_rows : int, optional
        Rows a chunk; by default about 8M values (``default_chunk_rows``: 65,536 rows
        for up to 128 columns, fewer for wider data).
    cache_dir : str or path, optional
        Keep the decoded chunks here as ``.npy`` files after the first complete pass; later
        passes (and later fits) read them instead of decoding the files again.
    verify_checksums : bool, default=True
        Verify page CRCs where the writer stored them (pyarrow's
        ``page_checksum_verification``) in the validation pass. Training passes read the
        bytes it verified (:meth:`training_chunks`) and skip the check.
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
        verify_checksums: bool = True,
    ):
        super().__init__(chunk_rows=chunk_rows, cache_dir=cache_dir)
        self.paths = expand_paths(paths, suffixes=FILE_FORMATS["parquet"], must_exist=True)
        self.target = target
        self.weight = weight
        self.offset = offset
        self._offset_cols = offset_columns(offset)
        self.verify_checksums = bool(verify_checksums)
        self._requested_features = None if features is None else list(features)
        self.features = None
        self._schema = None
        self._check_schemas()
        self.feature_names = tuple(self.features)
        self._size_chunks(len(self.features))

    def describe(self) -> str:
        if len(self.paths) == 1:
            return f"Parquet file {self.paths[0]!r}"
        return f"{len(self.paths)} Parquet files ({self.paths[0]!r}, ...)"

    def _fingerprint(self) -> tuple:
        return file_fingerprint(self.paths)

    def _content_paths(self) -> list:
        return list(self.paths)

    def _open(self, path: str):
        """The file, its footer read; page CRCs checked if ``verify_checksums``, except in a
        training pass (:meth:`training_chunks`)."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        verify = self.verify_checksums and id(self) not in getattr(_TRAINING, "ids", ())
        if os.path.getsize(path) == 0:
            raise ValueError(f"Parquet file {path!r} is empty (0 bytes)")
        try:
            return pq.ParquetFile(
                path,
                page_checksum_verification=verify,
                memory_map=False,
                pre_buffer=False,
            )
        except (pa.ArrowException, OSError) as exc:
            raise ValueError(
                f"Parquet file {path!r} cannot be read (truncated or corrupt?): {exc}"
            ) from exc

    def _check_schemas(self) -> None:
        """Every file: readable footer, the selected columns, the first file's types."""
        for path in self.paths:
            pf = self._open(path)
            schema = pf.schema_arrow
            names = list(schema.names)
            where = f"Parquet file {path!r}"
            dupes = sorted({n for n in names if names.count(n) > 1})
            if dupes:
                raise ValueError(f"{where}: the column name {dupes[0]!r} appears more than once")
            if self.features is None:
                self.features = select_columns(
                    names,
                    self.target,
                    self._requested_features,
                    self.weight,
                    where,
                    self._offset_cols,
                )
                cols = self._columns()
                self._schema = {c: schema.field(c).type for c in cols}
                for c in cols:
                    if c != self.target:
                        check_numeric(schema.field(c), where)
                check_label_type(schema.field(self.target), where)
                continue
            extra = set(names) - set(self._schema)
            if self._requested_features is None and extra:
                raise ValueError(
                    f"{where}: column(s) {sorted(extra)} are not in {self.paths[0]!r} "
                    "(features=None takes every column of the first file)"
                )
            for c, t in self._schema.items():
                if c not in names:
                    raise ValueError(f"{where}: column {c!r} is missing")
                if schema.field(c).type != t:
                    raise ValueError(
                        f"{where}: column {c!r} has type {schema.field(c).type}, "
                        f"but {t} in {self.paths[0]!r}"
                    )

    def _columns(self) -> list[str]:
        """The columns read: features, target, weight, offset."""
        return (
            [*self.features, self.target]
            + ([self.weight] if self.weight else [])
            + list(self._offset_cols)
        )

    def read_column(self, name: str) -> np.ndarray:
        """Every value of column ``name`` (any column of the files), file by file: the row
        order of the chunks. Nulls are refused."""
        parts = []
        for path in self.paths:
            pf = self._open(path)
            if name not in pf.schema_arrow.names:
                raise ValueError(f"Parquet file {path!r}: column {name!r} is missing")
            col = pf.read(columns=[name]).column(name)
            if col.null_count:
                raise ValueError(f"Parquet file {path!r}, column {name!r}: missing value (null)")
            parts.append(col.to_numpy())
        return np.concatenate(parts)

    def training_chunks(self):
        """The chunks of a training pass, without verifying page checksums again.

        The validation pass verified every page's CRC, and
        :meth:`~torchlogit.data.StreamingData.batches` checks before every pass that the
        files' sha256 is the validated one (``files_content``; a rewrite changes the files'
        ``stat`` and is hashed again), so a training pass reads the bytes already verified.
        The CRCs cost about a fifth of the decoding (0.35 CPU-s of 1.6 per 2M S1 rows).
        The rows are still ``_chunks()``'s, read with the checks off in this thread only.
        """
        ids = _TRAINING.__dict__.setdefault("ids", set())
        mine = id(self) not in ids
        ids.add(id(self))
        try:
            yield from self._chunks()
        finally:
            if mine:
                ids.discard(id(self))

    def _row_group_batches(self, pf, rg: int, cols: list[str]):
        """Row group ``rg`` as record batches of at most ``chunk_rows`` rows.

        A row group of at most :data:`ROW_GROUP_READ_BYTES` decoded bytes is read whole (its
        column chunks decoded in parallel, one read call each) and cut into zero-copy slices:
        on S1's files (row groups of 131,072 rows x 101 columns, 53 MB) that decodes in
        about 60 % of the CPU time of ``iter_batches``, which decodes a row group batch by
        batch. Larger row groups are read batch by batch, so memory stays bounded by the
        chunk size.
        """
        if pf.metadata.row_group(rg).total_byte_size <= ROW_GROUP_READ_BYTES:
            table = pf.read_row_group(rg, columns=cols, use_threads=True)
            yield from table.to_batches(max_chunksize=self.chunk_rows)
            return
        yield from pf.iter_batches(
            batch_size=self.chunk_rows, row_groups=[rg], columns=cols, use_threads=True
        )

    def _chunks(self):
        import pyarrow as pa

        cols = self._columns()
        for path in self.paths:
            pf = self._open(path)
            meta = pf.metadata
            first = 0
            for rg in range(meta.num_row_groups):
                where = f"Parquet file {path!r}, row group {rg}"
                offset = first
                try:
                    for batch in self._row_group_batches(pf, rg, cols):
                        yield record_batch_to_chunk(
                            batch,
                            self.features,
                            self.target,
                            self.weight,
                            where,
                            offset - first,
                            offset_cols=self._offset_cols,
                        )
                        offset += batch.num_rows
                except pa.ArrowException as exc:
                    raise ValueError(f"{where}: cannot be decoded (corrupt?): {exc}") from exc
                except OSError as exc:
                    raise ValueError(f"{where}: read failed (corrupt?): {exc}") from exc
                expected = meta.row_group(rg).num_rows
                if offset - first != expected:
                    raise ValueError(
                        f"{where}: read {offset - first} rows, the footer says {expected}"
                    )
                first = offset

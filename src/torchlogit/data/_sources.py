"""Streaming sources: training data read chunk by chunk, never all at once.

A source turns files (or arrays) into a sequence of host-side :class:`Chunk` objects. Before
anything is trained, :meth:`StreamingSource.scan` reads every chunk once and checks it (finite
numeric features, no missing target, valid weights), discovering the classes, the number of
rows and features and the per-class weight sums; any problem raises a ``ValueError`` that
names the file and, where it applies, the row group / line and column. :meth:`StreamingSource.open`
then gives a :class:`~torchlogit.data.StreamingData`, the object :class:`LinearObjective`
iterates over (``batches()`` and ``weight_sum``), exactly as it iterates over
:class:`~torchlogit.data.InMemoryData`.

Subclasses implement ``_chunks()`` (yield :class:`Chunk`; ``training_chunks()``, the same rows
for a training pass, may skip checks the validation pass made), ``_fingerprint()`` (a cheap
check that the files were not rewritten: names, sizes and modification times) and, for files,
``_content_paths()`` (the files whose bytes are the data: their sha256, see
:mod:`._integrity`, is the summary's ``content`` and keys the chunk cache and checkpoints),
and set ``feature_names``.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass

import numpy as np
from sklearn.utils.multiclass import check_classification_targets

from ._file_hashing import DigestsBeside
from ._integrity import files_digest

DEFAULT_CHUNK_ROWS = 65_536
# chunk_rows=None: about this many values a chunk (64 MB in float64, 32 MB in float32), so
# that a chunk's bytes, not its rows, are bounded whatever the width (see default_chunk_rows)
CHUNK_VALUES = 1 << 23
MIN_CHUNK_ROWS, MAX_CHUNK_ROWS = 256, 1 << 18


def default_chunk_rows(n_columns: int) -> int:
    """Rows of a chunk of ``n_columns`` columns when the user gives no ``chunk_rows``.

    ``2 ** floor(log2(CHUNK_VALUES / n_columns))`` clipped to ``[256, 262144]``: 65,536 rows
    for 65 to 128 columns (the fixed default before), half as many for twice the width.
    Throughput needs chunks big enough that the per-chunk costs (a Python round trip, a
    handful of BLAS calls, a thread hand-over) vanish against the rows' — a few MB — and the
    memory bound needs them small: a pass holds about ``prefetch + 3`` chunks (the queue,
    the one being decoded, the one computed on and its temporaries), so about 0.3 GB in
    float64 whatever the width, where a fixed row count held 5 GB a chunk at 10,000 columns.
    """
    rows = CHUNK_VALUES // max(int(n_columns), 1)
    rows = 1 << max(rows.bit_length() - 1, 0)
    return int(min(max(rows, MIN_CHUNK_ROWS), MAX_CHUNK_ROWS))


@dataclass
class Chunk:
    """Rows of the source on the host, before label encoding.

    Shape:
        - ``X``: ``(n, d)`` float32 or float64 NumPy array (any memory order)
        - ``y``: ``(n,)`` raw labels (any type)
        - ``weight``: ``(n,)`` float64 or None (all ones)
        - ``offset``: ``(n, c)`` float64 or None: the fixed term added to the raw prediction
          (``c = 1`` for two classes, ``K`` for more)

    ``where`` names the place in the source (file, row group, first line) for messages;
    ``first_row`` is the 0-based index of the chunk's first row in that place.
    """

    X: np.ndarray
    y: np.ndarray
    weight: np.ndarray | None
    where: str
    first_row: int = 0
    row_word: str = "row"
    row_base: int = 0
    offset: np.ndarray | None = None

    def position(self, r: int) -> str:
        """``"row 17"`` (or ``"line 19"`` in a CSV file) for the chunk's row ``r``."""
        return f"{self.row_word} {self.row_base + self.first_row + r}"


@dataclass(frozen=True)
class SourceSummary:
    """What the validation pass found."""

    n_rows: int
    n_features: int
    n_chunks: int
    feature_names: tuple[str, ...] | None
    classes: np.ndarray
    class_weight_sums: np.ndarray  # (K,) sum of the sample weights of each class
    dtype: np.dtype  # float32 when every feature is float32, else float64
    fingerprint: tuple
    # sha256 of the rows read (features, labels, weights) for a source held in memory,
    # whose fingerprint (object ids) cannot see an array edited in place; for files, the
    # sha256 of their bytes (a rewrite that keeps size and mtime changes it)
    content: str | None = None
    offset_columns: int = 0  # columns of the offset (0: no offset)
    max_abs: float = 0.0  # the largest |feature| (checked against the compute dtype)


def _locate_nonfinite(X: np.ndarray) -> tuple[int, int, str]:
    bad = ~np.isfinite(X)
    r, c = (int(v[0]) for v in np.nonzero(bad))
    return r, c, "NaN" if np.isnan(X[r, c]) else "infinity"


def _is_missing(y: np.ndarray) -> np.ndarray | None:
    if y.dtype.kind == "f":
        return np.isnan(y)
    if y.dtype.kind == "O":
        return np.array([v is None or (isinstance(v, float) and v != v) for v in y], bool)
    return None


def check_offset_chunk(chunk: Chunk, n: int) -> int:
    """Check a chunk's offset (shape ``(n, c)``, finite); returns ``c``."""
    off = chunk.offset
    if off.ndim != 2 or off.shape[0] != n:
        raise ValueError(f"{chunk.where}: offset and features differ in length")
    bad = ~np.isfinite(off)
    if bad.any():
        r, c = (int(v[0]) for v in np.nonzero(bad))
        raise ValueError(
            f"{chunk.where}, {chunk.position(r)}: offset {float(off[r, c])!r} is not finite"
        )
    return int(off.shape[1])


def as_offset_array(offset, n: int, where: str) -> np.ndarray | None:
    """An array offset of a source as float64 ``(n, c)`` (``(n,)`` becomes one column)."""
    if offset is None:
        return None
    if hasattr(offset, "detach"):
        offset = offset.detach().cpu().numpy()
    off = np.array(offset, dtype=np.float64)  # a copy: small, and never a read-only view
    if off.ndim == 1:
        off = off.reshape(-1, 1)
    if off.ndim != 2 or off.shape[0] != n:
        raise ValueError(
            f"{where}: offset has shape {np.shape(offset)}, expected ({n},) or ({n}, K)"
        )
    return off


def _check_whole(summary: SourceSummary, name: str) -> SourceSummary:
    """What must hold for the whole training data (not for one rank's share of it)."""
    if len(summary.classes) < 2:
        raise ValueError(
            "This solver needs samples of at least 2 classes in the data, but the data "
            f"contains only one class: {summary.classes[0]!r}"
        )
    if not summary.class_weight_sums.sum() > 0:
        raise ValueError(f"{name}: sample weight is zero for every row")
    return summary


class StreamingSource:
    """Base class of the sources; see the module docstring for the contract."""

    feature_names: tuple[str, ...] | None = None

    def __init__(self, *, chunk_rows: int | None = None, cache_dir=None):
        self.cache_dir = cache_dir
        self._chunk_rows_given = chunk_rows is not None
        chunk_rows = DEFAULT_CHUNK_ROWS if chunk_rows is None else chunk_rows
        if not isinstance(chunk_rows, (int, np.integer)) or chunk_rows < 1:
            raise ValueError(f"chunk_rows must be a positive integer, got {chunk_rows!r}")
        self.chunk_rows = int(chunk_rows)
        self._summary: SourceSummary | None = None

    def _size_chunks(self, n_columns: int) -> None:
        """Once the width is known: ``chunk_rows = default_chunk_rows(n_columns)`` unless the
        user gave ``chunk_rows``."""
        if not self._chunk_rows_given:
            self.chunk_rows = default_chunk_rows(n_columns)

    # ------------------------------------------------------------------ subclass API
    def _chunks(self):  # pragma: no cover - abstract
        raise NotImplementedError

    def _fingerprint(self) -> tuple:  # pragma: no cover - abstract
        raise NotImplementedError

    def training_chunks(self):
        """The chunks of a training pass (after the validation pass, whose content check
        :class:`~torchlogit.data.StreamingData` repeats before every pass): ``_chunks()``
        unless a source can skip a check the validation pass already made."""
        return self._chunks()

    def _content_paths(self) -> list:
        """The files whose bytes are the data (none for arrays in memory)."""
        return []

    def files_content(self) -> str | None:
        """sha256 over the content of :meth:`_content_paths` (None: the data are in memory)."""
        return None if self._in_memory() else files_digest(self._content_paths())

    def describe(self) -> str:
        return type(self).__name__

    def _in_memory(self) -> bool:
        """True when the data lives in memory arrays: no file stat sees them change, so they
        are validated (and their content hashed) again at every fit."""
        return False

    def selection(self) -> dict:
        """The columns read and the reading options: what changes the decoded rows of the
        same files (``target=``, ``features=``, ``weight=``, ``delimiter``, header).

        Part of the chunk cache's key and of a checkpoint's problem description.
        """
        out: dict = {}
        names = ("target", "features", "weight", "offset", "delimiter", "header", "target_type")
        for name in names:
            v = getattr(self, name, None)
            if name in ("offset", "target_type") and v is None:
                continue  # not used: the same key as before the option existed
            if isinstance(v, (list, tuple)) and all(isinstance(c, str) for c in v):
                out[name] = list(v)
            elif v is None or isinstance(v, (str, int, float, bool)):
                out[name] = v
        out["feature_names"] = None if self.feature_names is None else list(self.feature_names)
        return out

    # ------------------------------------------------------------------ validation pass
    def scan(self, *, force: bool = False, shard: bool = False) -> SourceSummary:
        """Read every chunk once, check it, and summarise the data (cached until it changes).

        ``shard=True``: these rows are one rank's share of a distributed fit, so the checks
        that hold only for all the rows together (at least two classes, some positive
        weight) are left to the caller.
        """
        fp = self._fingerprint()
        in_memory = self._in_memory()
        reuse = self._summary is not None and not force and self._summary.fingerprint == fp
        # arrays in memory may have been edited in place: always checked again
        if reuse and not in_memory and self._summary.content == self.files_content():
            return self._summary if shard else _check_whole(self._summary, self.describe())
        digests = DigestsBeside([] if in_memory else self._content_paths())
        try:
            summary = self._validate(fp, in_memory, digests)
        finally:
            digests.stop()
        self._summary = summary
        return summary if shard else _check_whole(summary, self.describe())

    def _validate(self, fp: tuple, in_memory: bool, digests) -> SourceSummary:
        """The validation pass proper (the files hashed meanwhile by ``digests``)."""
        n_rows, n_chunks, n_features, dtype = 0, 0, None, None
        content = hashlib.sha256() if in_memory else None
        weight_by_label: dict = {}
        offset_columns, max_abs = 0, 0.0
        for chunk in self._chunks():
            X, y, w = chunk.X, chunk.y, chunk.weight
            if X.ndim != 2:
                raise ValueError(f"{chunk.where}: features are not a 2-D table")
            if n_features is None:
                n_features, dtype = X.shape[1], X.dtype
            elif X.shape[1] != n_features:
                raise ValueError(
                    f"{chunk.where}: {X.shape[1]} feature columns, earlier chunks had {n_features}"
                )
            if y.shape[0] != X.shape[0] or (w is not None and w.shape[0] != X.shape[0]):
                raise ValueError(f"{chunk.where}: target / weight and features differ in length")
            if X.dtype != dtype:
                dtype = np.dtype(np.float64)
            # min and max are NaN / infinite iff some value is: two reductions, no temporaries
            lo, hi = (float(X.min()), float(X.max())) if X.size else (0.0, 0.0)
            if not (np.isfinite(lo) and np.isfinite(hi)):
                r, c, kind = _locate_nonfinite(X)
                raise ValueError(
                    f"{chunk.where}, {chunk.position(r)}, column "
                    f"{self._column_name(c)}: {kind} in the features"
                )
            max_abs = max(max_abs, -lo, hi)
            if chunk.offset is not None:
                offset_columns = check_offset_chunk(chunk, X.shape[0])
                if content is not None:
                    content.update(np.ascontiguousarray(chunk.offset).data)
            missing = _is_missing(y)
            if missing is not None and missing.any():
                r = int(np.flatnonzero(missing)[0])
                raise ValueError(f"{chunk.where}, {chunk.position(r)}: missing target")
            if w is not None:
                bad = ~np.isfinite(w) | (w < 0)
                if bad.any():
                    r = int(np.flatnonzero(bad)[0])
                    raise ValueError(
                        f"{chunk.where}, {chunk.position(r)}: sample weight {float(w[r])!r} "
                        "is not a finite non-negative number"
                    )
            labels, inv = np.unique(y, return_inverse=True)
            sums = np.bincount(inv.reshape(-1), weights=w, minlength=len(labels))
            if content is not None:
                content.update(repr((X.shape, X.dtype.str, labels.tolist())).encode())
                for arr in (X, inv.reshape(-1).astype(np.int64), w):
                    if arr is not None:
                        content.update(np.ascontiguousarray(arr).data)
            for lab, s in zip(labels.tolist(), sums.tolist(), strict=True):
                weight_by_label[lab] = weight_by_label.get(lab, 0.0) + s
            n_rows += X.shape[0]
            n_chunks += 1
        if n_rows == 0:
            raise ValueError(f"{self.describe()}: no rows")
        try:
            classes = np.array(sorted(weight_by_label))
        except TypeError as exc:
            raise ValueError(f"{self.describe()}: target labels of mixed types") from exc
        check_classification_targets(classes)
        sums = np.array([weight_by_label[c] for c in classes.tolist()], dtype=np.float64)
        if self._fingerprint() != fp or digests.changed():
            raise ValueError(f"{self.describe()}: the files changed during the validation pass")
        files = self.files_content()  # hashed by `digests`, unless a file is new since
        return SourceSummary(
            n_rows=n_rows,
            n_features=int(n_features),
            n_chunks=n_chunks,
            feature_names=self.feature_names,
            classes=classes,
            class_weight_sums=sums,
            dtype=np.dtype(dtype),
            fingerprint=fp,
            content=files if content is None else content.hexdigest(),
            offset_columns=offset_columns,
            max_abs=max_abs,
        )

    def read_column(self, name: str) -> np.ndarray:
        """Every value of the column ``name``, in the order the chunks serve the rows (e.g.
        cluster labels for inference). Sources without named extra columns refuse."""
        raise ValueError(
            f"{self.describe()} cannot read a column by name: pass groups= as an array with "
            "one label per row, in the source's row order"
        )

    def _column_name(self, j: int) -> str:
        if self.feature_names is not None:
            return repr(self.feature_names[j])
        return str(j)

    # ------------------------------------------------------------------ training view
    def open(
        self,
        *,
        class_weight=None,
        dtype=None,
        device=None,
        verbose: int = 0,
        cache_dir: str | os.PathLike | None = None,
        prefetch: int = 2,
    ):
        """Validate (one pass, unless done already) and return a :class:`StreamingData`.

        ``cache_dir`` defaults to the one given to the source.
        """
        from ._streaming import StreamingData

        return StreamingData(
            self,
            self.scan(),
            class_weight=class_weight,
            dtype=dtype,
            device=device,
            verbose=verbose,
            cache_dir=self.cache_dir if cache_dir is None else cache_dir,
            prefetch=prefetch,
        )


def file_fingerprint(paths) -> tuple:
    """``(path, size, mtime_ns)`` for each file: changes when a file is rewritten."""
    out = []
    for p in paths:
        st = os.stat(p)
        out.append((str(p), st.st_size, st.st_mtime_ns))
    return tuple(out)


def as_2d_float(X: np.ndarray, where: str) -> np.ndarray:
    """A float32 / float64 view (or copy, for integers and booleans) of a 2-D array."""
    X = np.asarray(X)
    if X.dtype in (np.float32, np.float64):
        return X
    if X.dtype.kind in "iub":
        return X.astype(np.float64)
    raise ValueError(f"{where}: features of dtype {X.dtype} are not numeric")

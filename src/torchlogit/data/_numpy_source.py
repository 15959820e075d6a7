"""``NumpySource``: features in a ``.npy`` file (memory-mapped) or a memmap, read in chunks."""

from __future__ import annotations

import os

import numpy as np

from ._sources import Chunk, StreamingSource, as_2d_float, as_offset_array, file_fingerprint


def _load(obj, name: str):
    """``(array, path_or_None)``: ``.npy`` paths are memory-mapped, never read whole."""
    if isinstance(obj, (str, os.PathLike)):
        path = os.fspath(obj)
        if not os.path.isfile(path):
            raise ValueError(f"{name}: no such file {path!r}")
        if os.path.getsize(path) == 0:
            raise ValueError(f"{name}: file {path!r} is empty (0 bytes)")
        try:
            return np.load(path, mmap_mode="r", allow_pickle=False), path
        except (ValueError, OSError, EOFError) as exc:
            raise ValueError(
                f"{name}: {path!r} is not a readable .npy file (truncated or corrupt?): {exc}"
            ) from exc
    if hasattr(obj, "detach"):
        obj = obj.detach().cpu().numpy()
    return np.asarray(obj), getattr(obj, "filename", None)


class NumpySource(StreamingSource):
    """Rows of a 2-D ``.npy`` file / memmap, with labels (and weights) from files or arrays.

    Parameters
    ----------
    X : path to a ``.npy`` file, or a ``numpy.memmap`` / array of shape (n, d)
    y : path to a ``.npy`` file, or an array of shape (n,)
    weight : path or array of shape (n,), optional
    offset : path or array of shape (n,) or (n, K), optional
        A fixed term added to each row's logits (read whole: one or ``K`` numbers a row).
    chunk_rows : int, optional
        Rows a chunk; by default about 8M values (``default_chunk_rows``: 65,536 rows
        for up to 128 columns, fewer for wider data).
    cache_dir : str or path, optional
        Keep decoded chunks here (see :class:`~torchlogit.data.StreamingData`).
    """

    def __init__(
        self, X, y, *, weight=None, offset=None, chunk_rows: int | None = None, cache_dir=None
    ):
        super().__init__(chunk_rows=chunk_rows, cache_dir=cache_dir)
        self.X, self._x_path = _load(X, "X")
        self.y, self._y_path = _load(y, "y")
        if weight is not None:
            self.weight, self._w_path = _load(weight, "weight")
        else:
            self.weight, self._w_path = None, None
        where = self._x_path or "X"
        if self.X.ndim != 2:
            raise ValueError(f"{where!r}: features must be 2-D, got shape {self.X.shape}")
        if self.X.dtype.kind not in "iubf":
            raise ValueError(f"{where!r}: features of dtype {self.X.dtype} are not numeric")
        n = self.X.shape[0]
        if self.y.ndim == 2 and self.y.shape[1] == 1:
            self.y = self.y[:, 0]
        if self.y.shape != (n,):
            raise ValueError(
                f"{self._y_path or 'y'!r}: labels have shape {self.y.shape}, X has {n} rows"
            )
        if self.weight is not None and self.weight.shape != (n,):
            raise ValueError(
                f"{self._w_path or 'weight'!r}: weights have shape {self.weight.shape}, "
                f"X has {n} rows"
            )
        self._o_path = None
        if offset is not None:
            off, self._o_path = _load(offset, "offset")
            offset = as_offset_array(off, n, repr(self._o_path or "offset"))
        self.offset = offset
        self._size_chunks(self.X.shape[1])

    def describe(self) -> str:
        return f"NumpySource({self._x_path or 'array'!r}, {self.X.shape[0]} x {self.X.shape[1]})"

    def _in_memory(self) -> bool:
        # Arrays handed over in memory (not read from a path) can be edited in place without
        # any file stat changing: validate and hash them again at every fit, as ArraySource.
        return (
            self._x_path is None
            or self._y_path is None
            or (self.weight is not None and self._w_path is None)
            or (self.offset is not None and self._o_path is None)
        )

    def _content_paths(self) -> list:
        return [p for p in (self._x_path, self._y_path, self._w_path, self._o_path) if p]

    def _fingerprint(self) -> tuple:
        return file_fingerprint(self._content_paths()) + ((id(self.X), self.X.shape),)

    def _chunks(self):
        n = self.X.shape[0]
        for start in range(0, n, self.chunk_rows):
            stop = min(start + self.chunk_rows, n)
            where = f"{self.describe()} rows {start}-{stop - 1}"
            X = as_2d_float(np.array(self.X[start:stop]), where)  # read from disk now
            w = None if self.weight is None else np.asarray(self.weight[start:stop], np.float64)
            off = None if self.offset is None else self.offset[start:stop]
            yield Chunk(
                X=X,
                y=np.asarray(self.y[start:stop]),
                weight=w,
                where=where,
                first_row=start,
                offset=off,
            )

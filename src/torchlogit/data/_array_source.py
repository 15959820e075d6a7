"""``ArraySource``: arrays in memory served in chunks, as if they were files."""

from __future__ import annotations

import numpy as np

from ._sources import Chunk, StreamingSource, as_2d_float, as_offset_array


class ArraySource(StreamingSource):
    """In-memory arrays served in chunks of ``chunk_rows`` rows (no copy of ``X``).

    Parameters
    ----------
    X : array-like of shape (n, d): NumPy array, memmap, pandas DataFrame or CPU tensor
    y : array-like of shape (n,)
    weight : array-like of shape (n,), optional
    offset : array-like of shape (n,) or (n, K), optional
        A fixed term added to each row's logits (two classes: one column).
    chunk_rows : int, optional
        Rows a chunk; by default about 8M values (``default_chunk_rows``: 65,536 rows
        for up to 128 columns, fewer for wider data).
    """

    def __init__(
        self, X, y, *, weight=None, offset=None, chunk_rows: int | None = None, cache_dir=None
    ):
        super().__init__(chunk_rows=chunk_rows, cache_dir=cache_dir)
        if hasattr(X, "columns") and hasattr(X, "to_numpy"):
            names = [str(c) for c in X.columns]
            if all(isinstance(c, str) for c in X.columns):
                self.feature_names = tuple(names)
            X = X.to_numpy()
        if hasattr(X, "detach"):
            X = X.detach().cpu().numpy()
        if hasattr(y, "detach"):
            y = y.detach().cpu().numpy()
        if hasattr(weight, "detach"):
            weight = weight.detach().cpu().numpy()
        self.X = as_2d_float(X, "X") if np.ndim(X) == 2 else np.asarray(X)
        if self.X.ndim != 2:
            raise ValueError(f"X must be 2-D, got shape {self.X.shape}")
        self.y = np.asarray(y)
        if self.y.ndim == 2 and self.y.shape[1] == 1:
            self.y = self.y[:, 0]
        if self.y.shape != (self.X.shape[0],):
            raise ValueError(f"y has shape {self.y.shape}, expected ({self.X.shape[0]},)")
        self.weight = None if weight is None else np.asarray(weight, dtype=np.float64)
        if self.weight is not None and self.weight.shape != (self.X.shape[0],):
            raise ValueError(f"weight has shape {self.weight.shape}, expected ({self.X.shape[0]},)")
        self.offset = as_offset_array(offset, self.X.shape[0], "ArraySource")
        self._size_chunks(self.X.shape[1])

    def describe(self) -> str:
        return f"ArraySource({self.X.shape[0]} x {self.X.shape[1]})"

    def _in_memory(self) -> bool:
        return True

    def _fingerprint(self) -> tuple:
        # One entry, like a file's: (tag, ids, shape). Ids only tell that the arrays were
        # not replaced; edits in place are caught because scan() revalidates in-memory data
        # and records a hash of its content (SourceSummary.content).
        w = None if self.weight is None else id(self.weight)
        o = None if self.offset is None else id(self.offset)
        return (("<memory>", id(self.X), self.X.shape, id(self.y), w, o),)

    def _chunks(self):
        n = self.X.shape[0]
        for start in range(0, n, self.chunk_rows):
            stop = min(start + self.chunk_rows, n)
            yield Chunk(
                X=self.X[start:stop],
                y=self.y[start:stop],
                weight=None if self.weight is None else self.weight[start:stop],
                where=f"{self.describe()} rows {start}-{stop - 1}",
                first_row=start,
                offset=None if self.offset is None else self.offset[start:stop],
            )

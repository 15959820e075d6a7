"""The chunk cache: decoded chunks of a streamed source kept as checksummed ``.npy`` files.

The first complete pass over a source with ``cache_dir`` writes each decoded chunk
(features in the compute dtype, class indices, weights, offsets) under
``cache_dir/<key>/``, then ``manifest.json`` with the number of chunks and rows and the
sha256 of every file (and its own sha256 over the rest). Later passes, and later fits on the
same data, read the cache instead of decoding Parquet or CSV again.

The key hashes the data's *content* (the files' bytes, or the rows of arrays in memory; see
:mod:`._integrity`), the source's description (its paths), the columns read and the reading
options (``target=``, ``features=``, ``weight=``, ...: the same files give other rows for
another selection), the chunk size, the classes and the compute dtype — never a file's
modification time, which ``cp -p`` or ``rsync -a`` restore on other content. Every entry is
checked against its sha256 as it is read: a damaged entry (edited, truncated, removed) is
reported with a warning, the rest of the pass is read from the source instead, and the
cache is written afresh on the next pass. A damaged manifest makes the cache incomplete.
"""

from __future__ import annotations

import hashlib
import io
import itertools
import json
import os
import warnings
from pathlib import Path

import numpy as np

from ._integrity import bytes_digest


def _manifest_check(info: dict) -> str:
    rest = {k: v for k, v in info.items() if k != "check"}
    return bytes_digest(json.dumps(rest, sort_keys=True).encode())


class ChunkCache:
    """Decoded chunks of ``data`` (a :class:`~torchlogit.data.StreamingData`) in ``cache_dir``."""

    def __init__(self, cache_dir, data):
        key = json.dumps(
            {
                "content": data.summary.content,
                "selection": data.source.selection(),
                "source": data.source.describe(),
                "chunk_rows": data.source.chunk_rows,
                "classes": [str(c) for c in data.classes.tolist()],
                "dtype": str(data.dtype),
            },
            sort_keys=True,
        )
        digest = hashlib.sha256(key.encode()).hexdigest()[:20]
        self.dir = Path(cache_dir) / digest
        self.data = data

    def manifest(self) -> dict | None:
        """The manifest when it is intact and describes these data, else None."""
        m = self.dir / "manifest.json"
        try:
            info = json.loads(m.read_text())
        except (OSError, ValueError):
            return None
        ok = (
            isinstance(info, dict)
            and info.get("check") == _manifest_check(info)
            and info.get("rows") == self.data.n_rows
            and isinstance(info.get("chunks"), int)
            and isinstance(info.get("sha256"), dict)
        )
        return info if ok else None

    @property
    def complete(self) -> bool:
        return self.manifest() is not None

    def _paths(self, i: int):
        """The chunk's ``X``, ``y``, ``w`` files, and ``o`` when the data have an offset."""
        parts = ("X", "y", "w", "o") if self.data.offset_columns else ("X", "y", "w")
        return [self.dir / f"chunk{i:07d}.{part}.npy" for part in parts]

    def _load(self, path: Path, sums: dict) -> np.ndarray | None:
        """The array in ``path`` when its bytes match the manifest's sha256, else None."""
        try:
            raw = path.read_bytes()
        except OSError:
            return None
        if sums.get(path.name) != bytes_digest(raw):
            return None
        return np.load(io.BytesIO(raw), allow_pickle=False)

    def read(self):
        """Host chunks ``(X, y_index, weight, offset, where)`` from the cache, each checked;
        from the first damaged entry on, from the source (with a warning)."""
        info = self.manifest()
        if info is None:  # removed or damaged since ``complete`` was asked
            yield from self.data._host_chunks()
            return
        for i in range(info["chunks"]):
            paths = self._paths(i)
            arrays = [self._load(p, info["sha256"]) for p in paths]
            if any(a is None for a in arrays):
                bad = paths[[a is None for a in arrays].index(True)]
                warnings.warn(
                    f"chunk cache entry {str(bad)!r} is damaged (its sha256 does not match the "
                    "manifest): reading the source instead; the cache is rewritten next pass",
                    UserWarning,
                    stacklevel=2,
                )
                self.discard()
                yield from itertools.islice(self.data._host_chunks(), i, None)
                return
            w = arrays[2]
            off = arrays[3] if len(arrays) > 3 else None
            yield arrays[0], arrays[1], (None if w.size == 0 else w), off, f"cache chunk {i}"

    def discard(self) -> None:
        """Forget the cache (its manifest): the next pass writes it again."""
        try:
            (self.dir / "manifest.json").unlink()
        except OSError:
            pass

    def writer(self):
        return _CacheWriter(self)


class _CacheWriter:
    def __init__(self, cache: ChunkCache):
        self.cache = cache
        self.n = 0
        self.ok = True
        self.sums: dict[str, str] = {}
        try:
            cache.dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            warnings.warn(f"cannot create the chunk cache {cache.dir}: {exc}", stacklevel=3)
            self.ok = False

    def _save(self, path: Path, arr: np.ndarray) -> None:
        buf = io.BytesIO()
        np.save(buf, np.ascontiguousarray(arr), allow_pickle=False)
        raw = buf.getvalue()
        tmp = path.with_suffix(".tmp.npy")
        tmp.write_bytes(raw)
        os.replace(tmp, path)
        self.sums[path.name] = bytes_digest(raw)

    def wrap(self, host):
        for X, y, w, off, where in host:
            if self.ok:
                arrays = (X, y, np.empty(0) if w is None else w)  # empty: no weights
                if off is not None:
                    arrays = (*arrays, off)
                try:
                    for path, arr in zip(self.cache._paths(self.n), arrays, strict=True):
                        self._save(path, arr)
                except OSError as exc:
                    warnings.warn(f"chunk cache disabled: {exc}", stacklevel=2)
                    self.ok = False
            self.n += 1
            yield X, y, w, off, where

    def finish(self, rows: int) -> None:
        if not self.ok:
            return
        info = {"chunks": self.n, "rows": rows, "sha256": self.sums}
        info["check"] = _manifest_check(info)
        m = self.cache.dir / "manifest.json"
        tmp = m.with_suffix(".tmp")
        try:
            tmp.write_text(json.dumps(info))
            os.replace(tmp, m)
        except OSError as exc:  # disk full: the fit goes on without a cache
            tmp.unlink(missing_ok=True)
            warnings.warn(f"chunk cache not completed: {exc}", stacklevel=2)

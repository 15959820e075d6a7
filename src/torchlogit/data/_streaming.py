"""``StreamingData``: a validated source seen by the objective as an iterable of batches.

Each call to :meth:`StreamingData.batches` is one pass over the data. The next chunk is read,
decoded and label-encoded in a background thread while the current one is computed; on CUDA
it is copied to the device on a side stream from pinned memory, so the copy overlaps the
compute. Every pass counts its rows and fails when the count differs from the validation
pass's (nothing is ever trained on part of the data silently), and checks that the files
have not changed since they were validated.

With ``cache_dir`` the first complete pass also writes each decoded chunk (features in the
compute dtype, class indices, weights) as ``.npy`` files; later passes read those instead
of decoding Parquet or CSV again (see :class:`~torchlogit.data._cache.ChunkCache`).
"""

from __future__ import annotations

import queue
import threading
import time

import numpy as np
import torch

from ._cache import ChunkCache
from ._design import Batch
from ._labels import check_weight_sum, class_weight_per_sample
from ._validation import check_feature_scale

_END = object()


class _Failure:
    def __init__(self, exc: BaseException):
        self.exc = exc


def prefetch(iterable_factory, depth: int = 2):
    """Iterate ``iterable_factory()`` in a background thread, ``depth`` items ahead.

    Exceptions raised by the producer are re-raised in the consumer; closing the generator
    early stops the producer.
    """
    if depth <= 0:
        yield from iterable_factory()
        return
    q: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item) -> bool:
        while not stop.is_set():
            try:
                q.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def run():
        try:
            for item in iterable_factory():
                if not put(item):
                    return
            put(_END)
        except BaseException as exc:  # noqa: BLE001 - forwarded to the consumer
            put(_Failure(exc))

    thread = threading.Thread(target=run, name="torchlogit-prefetch", daemon=True)
    thread.start()
    try:
        while True:
            item = q.get()
            if item is _END:
                return
            if isinstance(item, _Failure):
                raise item.exc
            yield item
    finally:
        stop.set()
        thread.join()


class StreamingData:
    """A validated streaming source, served as batches on the compute device.

    ``pass_cost``: a pass decodes the files, about ten times the time of a pass over the
    same numbers in memory (S1, 20M x 100 float32 Parquet: ~2.5M rows/s decoded against
    ~25M rows/s for ``X w`` in memory); Newton's row sample of the Hessian grows with it.

    Attributes
    ----------
    classes : ndarray (K,)
    n_rows, n_features : int
    weight_sum : float
        ``S = sum_i s_i c_{y_i}`` (sample weight times class weight), from the validation pass.
    dtype, device : the compute dtype and device
    passes : list of dict
        One entry per complete pass: ``rows``, ``seconds``, ``rows_per_second``,
        ``from_cache``.
    """

    pass_cost = 10.0

    def __init__(
        self,
        source,
        summary,
        *,
        class_weight=None,
        dtype=None,
        device=None,
        verbose: int = 0,
        cache_dir=None,
        prefetch: int = 2,
    ):
        self.source = source
        self.summary = summary
        self.classes = summary.classes
        self.n_rows = summary.n_rows
        self.n_features = summary.n_features
        self.feature_names = summary.feature_names
        if dtype is None:
            dtype = torch.float32 if summary.dtype == np.float32 else torch.float64
        self.dtype = dtype
        check_feature_scale(summary.max_abs, summary.n_rows, dtype, source.describe())
        self.device = torch.device("cpu") if device is None else torch.device(device)
        self.verbose = int(verbose)
        self.prefetch_depth = int(prefetch)
        K = len(self.classes)
        cw = class_weight_per_sample(
            class_weight, self.classes, np.arange(K), sample_weight=summary.class_weight_sums
        )
        self.class_weights = np.asarray(cw, dtype=np.float64)
        self.weight_sum = float((self.class_weights * summary.class_weight_sums).sum())
        check_weight_sum(self.weight_sum, 1)
        self.offset_columns = int(getattr(summary, "offset_columns", 0))
        m = 1 if K == 2 else K
        if self.offset_columns and self.offset_columns != m:
            raise ValueError(
                f"{source.describe()}: the offset has {self.offset_columns} column(s), but "
                f"{K} classes need {m} (one per row for two classes, else one per class)"
            )
        self._label_lookup = (
            None
            if self.classes.dtype.kind in "iufb"
            else {c: i for i, c in enumerate(self.classes.tolist())}
        )
        self.passes: list[dict] = []
        self.progress_label = ""
        self._cache = ChunkCache(cache_dir, self) if cache_dir is not None else None

    @property
    def n_samples(self) -> int:
        """This process's rows, known from the validation pass (no counting pass)."""
        return self.n_rows

    # ------------------------------------------------------------------ encoding
    def _encode_labels(self, chunk) -> np.ndarray:
        y = chunk.y
        if self._label_lookup is None:
            idx = np.searchsorted(self.classes, y)
            idx = np.clip(idx, 0, len(self.classes) - 1)
            ok = self.classes[idx] == y
        else:
            idx = np.array([self._label_lookup.get(v, -1) for v in y.tolist()], np.int64)
            ok = idx >= 0
        if not np.all(ok):
            r = int(np.flatnonzero(~ok)[0])
            bad = y[r].item() if isinstance(y[r], np.generic) else y[r]
            raise ValueError(
                f"{chunk.where}, {chunk.position(r)}: label {bad!r} was not in the data "
                "when it was validated (did the files change?)"
            )
        return idx.astype(np.int64, copy=False)

    def _host_chunks(self):
        """Decoded host-side ``(X, y_index, weight, offset, where)``, from files or cache."""
        np_dtype = np.float32 if self.dtype == torch.float32 else np.float64
        for chunk in self.source.training_chunks():
            X = chunk.X if chunk.X.dtype == np_dtype else chunk.X.astype(np_dtype)
            off = None if chunk.offset is None else chunk.offset.astype(np_dtype, copy=False)
            yield X, self._encode_labels(chunk), chunk.weight, off, chunk.where

    def _to_host_tensors(self, item):
        X, y_idx, w, off, where = item
        sw = self.class_weights[y_idx] if w is None else w * self.class_weights[y_idx]
        Xt = torch.from_numpy(np.asarray(X))
        yt = torch.from_numpy(y_idx)
        st = torch.from_numpy(np.asarray(sw, dtype=np.float64)).to(self.dtype)
        ot = None if off is None else torch.from_numpy(np.ascontiguousarray(off)).to(self.dtype)
        if self.device.type == "cuda":
            Xt, yt, st = Xt.pin_memory(), yt.pin_memory(), st.pin_memory()
            ot = None if ot is None else ot.pin_memory()
        return Xt, yt, st, ot, where

    # ------------------------------------------------------------------ passes
    def batches(self):
        """One pass over the data: :class:`Batch` objects on the device, in file order."""
        changed = self.source._fingerprint() != self.summary.fingerprint
        files = self.source.files_content()  # a stat per file; hashed again only if rewritten
        if changed or (files is not None and files != self.summary.content):
            raise ValueError(
                f"{self.source.describe()}: the files changed since they were validated"
            )
        use_cache = self._cache is not None and self._cache.complete
        writer = self._cache.writer() if self._cache is not None and not use_cache else None
        host = self._cache.read() if use_cache else self._host_chunks()
        if writer is not None:
            host = writer.wrap(host)

        def produce():
            for item in host:
                yield self._to_host_tensors(item)

        bar = self._progress_bar()
        start, rows = time.perf_counter(), 0
        stream = torch.cuda.Stream(device=self.device) if self.device.type == "cuda" else None
        pending = None
        for Xt, yt, st, ot, _where in prefetch(produce, self.prefetch_depth):
            nxt = self._to_device(Xt, yt, st, ot, stream)
            if pending is not None:
                yield self._ready(pending, stream)
            pending = nxt
            rows += int(Xt.shape[0])
            if bar is not None:
                bar.update(int(Xt.shape[0]))
        if pending is not None:
            yield self._ready(pending, stream)
        if bar is not None:
            bar.close()
        if rows != self.n_rows:
            raise ValueError(
                f"{self.source.describe()}: a pass read {rows} rows but the data has "
                f"{self.n_rows}; refusing to train on part of the data"
            )
        if writer is not None:
            writer.finish(rows)
        seconds = time.perf_counter() - start
        self.passes.append(
            {
                "rows": rows,
                "seconds": seconds,
                "rows_per_second": rows / seconds if seconds > 0 else float("inf"),
                "from_cache": use_cache,
            }
        )

    def _to_device(self, Xt, yt, st, ot, stream):
        if stream is None:
            return Batch(*(None if t is None else t.to(self.device) for t in (Xt, yt, st, ot)))
        with torch.cuda.stream(stream):
            return Batch(
                *(
                    None if t is None else t.to(self.device, non_blocking=True)
                    for t in (Xt, yt, st, ot)
                )
            )

    def _ready(self, batch: Batch, stream) -> Batch:
        if stream is not None:
            current = torch.cuda.current_stream(self.device)
            current.wait_stream(stream)
            for t in (batch.X, batch.y, batch.sample_weight, batch.offset):
                if t is not None:
                    t.record_stream(current)
        return batch

    def _progress_bar(self):
        if not self.verbose:
            return None
        try:
            from tqdm.auto import tqdm
        except ImportError:  # pragma: no cover - tqdm is in the io extra
            return None
        k = len(self.passes) + 1
        desc = f"pass {k}" + (f" ({self.progress_label})" if self.progress_label else "")
        return tqdm(total=self.n_rows, desc=desc, unit="rows", unit_scale=True, leave=False)

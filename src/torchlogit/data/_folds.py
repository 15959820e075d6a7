"""Cross-validation folds as row weights on prepared data: in memory, streamed, on many ranks.

A fold is two masks over the rows, by position: its *training* rows and its *held-out*
rows. :class:`FoldedData` serves the prepared data with the weight of every row outside the
training mask set to zero, ``s_i <- s_i t_i``, so the objective of the fold is the full
objective restricted to its rows and nothing is copied; it iterates the underlying batches
(one batch in memory, the chunks of a stream), so a stream serves every fold from the same
files. A row's position counts from 0 over all the rows (on rank ``r`` it starts at the rows
of the ranks before it), in the order of the batches, which is the same on every pass.

Masks come from index sets (:class:`IndexFolds`, e.g. a scikit-learn splitter's; rows in
memory on one process) or from a hash of the position (:class:`HashFolds`: fold
``h(i) mod F``, the rows of one fold held out and the others trained on): the same on every
pass, every rank and every process count, so a stream, its rows in memory and two ranks get
the same folds.
"""

from __future__ import annotations

import numpy as np
import torch

from ._design import Batch
from ._memory import InMemoryData

_MIX = (0x9E3779B97F4A7C15, 0xBF58476D1CE4E5B9, 0x94D049BB133111EB)
_MASK64 = (1 << 64) - 1


def _splitmix64(positions: np.ndarray, seed: int) -> np.ndarray:
    """SplitMix64 of ``positions + seed * golden``: a deterministic, well-mixed uint64."""
    with np.errstate(over="ignore"):
        z = positions.astype(np.uint64) + np.uint64((seed * _MIX[0]) & _MASK64)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(_MIX[1])
        z = (z ^ (z >> np.uint64(27))) * np.uint64(_MIX[2])
        return z ^ (z >> np.uint64(31))


class HashFolds:
    """``n_folds`` folds by a hash of the row position: row ``i`` is held out in fold
    ``splitmix64(i, seed) mod n_folds`` and trains every other fold."""

    def __init__(self, n_folds: int, seed: int = 0):
        if int(n_folds) < 2:
            raise ValueError(f"cross-validation needs at least 2 folds, got {n_folds}")
        self.n_folds = int(n_folds)
        self.seed = int(seed)

    def fold_of(self, start: int, n: int) -> np.ndarray:
        """The fold of rows ``start .. start + n - 1``."""
        h = _splitmix64(np.arange(start, start + n, dtype=np.uint64), self.seed)
        return (h % np.uint64(self.n_folds)).astype(np.int64)

    def masks(self, fold: int, start: int, n: int) -> tuple[np.ndarray, np.ndarray]:
        """``(train, held_out)`` boolean masks of rows ``start .. start + n - 1``."""
        held = self.fold_of(start, n) == fold
        return ~held, held

    def splits(self, n: int) -> list[tuple[np.ndarray, np.ndarray]]:
        """The same folds as index pairs over ``n`` rows (for rows in memory)."""
        f = self.fold_of(0, n)
        return [(np.flatnonzero(f != k), np.flatnonzero(f == k)) for k in range(self.n_folds)]


class IndexFolds:
    """Folds given as ``(train, held_out)`` index pairs over ``n`` rows."""

    def __init__(self, splits, n: int):
        self.n_folds = len(splits)
        self._train = np.zeros((self.n_folds, n), dtype=bool)
        self._held = np.zeros((self.n_folds, n), dtype=bool)
        for k, (train, test) in enumerate(splits):
            self._train[k, train] = True
            self._held[k, test] = True

    def masks(self, fold: int, start: int, n: int) -> tuple[np.ndarray, np.ndarray]:
        return self._train[fold, start : start + n], self._held[fold, start : start + n]


class FoldedData:
    """``data`` (in memory or streamed) with the rows outside fold ``fold``'s training mask
    weighted zero; ``weight_sum`` is the fold's ``S_f`` (over every rank), ``start`` the
    position of this process's first row. Everything else is the underlying data's."""

    def __init__(self, data, folds, fold: int, *, weight_sum: float, start: int = 0):
        self.data = data
        self.folds = folds
        self.fold = int(fold)
        self.weight_sum = float(weight_sum)
        self.start = int(start)

    def batches(self):
        position = self.start
        for batch in self.data.batches():
            n = batch.n_samples
            train, _ = self.folds.masks(self.fold, position, n)
            keep = torch.from_numpy(np.ascontiguousarray(train)).to(batch.sample_weight.device)
            weights = torch.where(keep, batch.sample_weight, 0.0)
            yield Batch(batch.X, batch.y, weights, batch.offset)
            position += n

    @property
    def progress_label(self):
        return getattr(self.data, "progress_label", "")

    @progress_label.setter
    def progress_label(self, value):
        if hasattr(self.data, "progress_label"):
            self.data.progress_label = value

    def __getattr__(self, name):  # n_samples, dtype, device, passes, summary, ...
        if name == "data":
            raise AttributeError(name)
        return getattr(self.data, name)


def fold_data(data, folds, fold: int, *, weight_sum: float, start: int = 0):
    """Fold ``fold``'s training data: for rows in memory an :class:`InMemoryData` on the same
    tensors with the masked weights (what the solvers' in-memory paths expect), else a
    :class:`FoldedData` over the stream."""
    if isinstance(data, InMemoryData):
        batch = data.batch
        train, _ = folds.masks(fold, start, batch.n_samples)
        keep = torch.from_numpy(np.ascontiguousarray(train)).to(batch.sample_weight.device)
        weights = torch.where(keep, batch.sample_weight, 0.0)
        return InMemoryData(batch.X, batch.y, weights, offset=batch.offset, weight_sum=weight_sum)
    return FoldedData(data, folds, fold, weight_sum=weight_sum, start=start)


def fold_weight_sums(data, folds, *, start: int = 0) -> np.ndarray:
    """``S_f = sum_i s_i t_fi`` for every fold, from one pass over ``data`` (this process's
    rows; sum them over the ranks)."""
    return fold_counts(data, folds, n_classes=1, start=start)[0].sum(axis=1)


def fold_counts(data, folds, *, n_classes: int, start: int = 0):
    """What the folds hold, from one pass over ``data`` (this process's rows; sum over the
    ranks): ``(train_weight, held_rows, class_rows)`` with ``train_weight[f, k] = sum_i s_i
    t_fi [y_i = k]`` (``(F, K)``), ``held_rows[f, k]`` the number of fold ``f``'s held-out
    rows of class ``k`` (``(F, K)``) and ``class_rows[k]`` the rows of class ``k`` of
    positive weight (``(K,)``). ``n_classes=1`` pools the classes."""
    F, K = folds.n_folds, int(n_classes)
    train_weight, held_rows = np.zeros((F, K)), np.zeros((F, K), dtype=np.int64)
    class_rows = np.zeros(K, dtype=np.int64)
    position = start
    for batch in data.batches():
        n = batch.n_samples
        w = batch.sample_weight.double().cpu().numpy()
        y = batch.y.cpu().numpy() if K > 1 else np.zeros(n, dtype=np.int64)
        class_rows += np.bincount(y[w > 0], minlength=K)
        for f in range(F):
            train, held = folds.masks(f, position, n)
            train_weight[f] += np.bincount(y[train], weights=w[train], minlength=K)
            held_rows[f] += np.bincount(y[held], minlength=K)
        position += n
    return train_weight, held_rows, class_rows


#: The most folds a fold-stacked label code holds: ``y 2^F + bits`` must fit in an int64
#: for ``K`` up to ``2^20`` classes.
MAX_STACKED_FOLDS = 40


def fold_codes(y: torch.Tensor, train: np.ndarray, n_classes: int) -> torch.Tensor:
    """Class indices and training masks in one int64 label per row (nothing else travels with
    a row through row blocks and samples): ``c_i = y_i 2^F + sum_f t_fi 2^f``, ``train`` the
    ``(n, F)`` boolean masks ``t_fi``. Shifts and masks decode it
    (:func:`decode_fold_codes`), no integer division."""
    F = train.shape[1]
    if F > MAX_STACKED_FOLDS or int(n_classes) > 1 << 20:
        raise ValueError(f"at most {MAX_STACKED_FOLDS} folds can be stacked, got {F}")
    bits = (train.astype(np.int64) << np.arange(F, dtype=np.int64)).sum(axis=1)
    return (y << F) | torch.from_numpy(bits).to(y.device)


def decode_fold_codes(codes: torch.Tensor, n_folds: int):
    """``(y, t)`` from :func:`fold_codes`' labels: class indices ``(n,)`` and the training
    masks ``(n, F)`` (bool)."""
    F = int(n_folds)
    shifts = torch.arange(F, device=codes.device)
    return codes >> F, ((codes.unsqueeze(1) >> shifts) & 1).bool()


class StackedFoldData(InMemoryData):
    """Every fold's training problem on one batch: the rows, their weights ``s_i``, labels
    that are :func:`fold_codes` (class and the row's training masks) and, when there is one,
    the offset repeated for each fold's block of raw predictions (``(n, F m)``).
    ``stacked_folds`` is ``F``; ``weight_sum`` the common divisor ``S`` of the stacked
    objective (:class:`~torchlogit.objective.FoldStackedObjective`)."""

    def __init__(self, X, codes, sample_weight, *, offset, weight_sum, n_folds: int):
        super().__init__(X, codes, sample_weight, offset=offset, weight_sum=weight_sum)
        self.stacked_folds = int(n_folds)


def stacked_fold_data(data, folds, *, n_classes: int, weight_sum: float, start: int = 0):
    """Every fold's training data stacked (:class:`StackedFoldData`) for rows in memory; None
    for a stream (each fold then runs on :func:`fold_data`) or more than
    :data:`MAX_STACKED_FOLDS` folds."""
    if not isinstance(data, InMemoryData) or folds.n_folds > MAX_STACKED_FOLDS:
        return None
    batch = data.batch
    n, F = batch.n_samples, folds.n_folds
    train = np.stack([folds.masks(f, start, n)[0] for f in range(F)], axis=1)
    offset = None if batch.offset is None else batch.offset.repeat(1, F)
    return StackedFoldData(
        batch.X,
        fold_codes(batch.y, train, n_classes),
        batch.sample_weight,
        offset=offset,
        weight_sum=weight_sum,
        n_folds=F,
    )

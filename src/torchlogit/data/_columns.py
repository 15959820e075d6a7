"""A column subset of prepared data: the same rows, only the feature columns ``cols``.

What a screened fit (:mod:`torchlogit.fitting`'s strong rule) solves on: the columns it
keeps, every row, weights and offsets unchanged. Each batch's ``X[:, cols]`` is gathered
once per distinct batch (rows in memory: once for every pass; a stream: once per chunk read),
dense or sparse (:meth:`SparseDesign.index_select`, never densified).
"""

from __future__ import annotations

import torch

from ._design import Batch


class ColumnSubset:
    """``data`` restricted to the feature columns ``cols`` (a sorted 1-D int64 tensor)."""

    def __init__(self, data, cols: torch.Tensor):
        self.data = data
        self.cols = cols
        self._last = None  # (source X, restricted batch): rows in memory gather once

    def batches(self):
        for batch in self.data.batches():
            last = self._last
            if last is None or last[0] is not batch.X or last[1] is not batch.sample_weight:
                cols = self.cols.to(batch.sample_weight.device)
                X = batch.X.index_select(1, cols)
                sub = Batch(X, batch.y, batch.sample_weight, batch.offset)
                last = self._last = (batch.X, batch.sample_weight, sub)
            yield last[2]

    def __getattr__(self, name):  # n_samples, weight_sum, dtype, device, passes, ...
        if name == "data":
            raise AttributeError(name)
        return getattr(self.data, name)

"""Training data held in memory on the compute device, served as one batch."""

from __future__ import annotations

import torch

from ._design import Batch


class InMemoryData:
    """All of this process's rows in one :class:`Batch`: what :class:`LinearObjective` iterates.

    ``weight_sum`` is ``S = sum_i s_i`` (class weights included): the objective's divisor. In
    a distributed fit each rank holds its own rows and ``S`` is passed in, summed over every
    rank; ``n_samples`` counts this process's rows (a pass over them is one pass of the fit).

    Shape:
        - ``X``: ``(n, d)`` dense tensor or SparseDesign; ``y``: ``(n,)`` int64 class indices
        - ``sample_weight``: ``(n,)`` in X's dtype; ``offset``: ``None`` or ``(n, m)``
    """

    def __init__(
        self,
        X: torch.Tensor,
        y: torch.Tensor,
        sample_weight: torch.Tensor,
        *,
        offset: torch.Tensor | None = None,
        weight_sum: float | None = None,
    ):
        self.batch = Batch(X, y, sample_weight, offset)
        if weight_sum is None:  # summed in float64 whatever the weights' dtype
            weight_sum = sample_weight.sum(dtype=torch.float64)
        self.weight_sum = float(weight_sum)

    @property
    def n_samples(self) -> int:
        return self.batch.n_samples

    @property
    def dtype(self) -> torch.dtype:
        return self.batch.X.dtype

    @property
    def device(self) -> torch.device:
        return self.batch.X.device

    def batches(self):
        yield self.batch

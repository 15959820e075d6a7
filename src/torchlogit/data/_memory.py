"""Training data held in memory on the compute device, served as one batch."""

from __future__ import annotations

import torch

from ._design import Batch


class InMemoryData:
    """All rows in one :class:`Batch`: what :class:`LinearObjective` iterates over.

    ``weight_sum`` is ``S = sum_i s_i`` (class weights included): the objective's divisor.
    """

    def __init__(self, X: torch.Tensor, y: torch.Tensor, sample_weight: torch.Tensor):
        self.batch = Batch(X, y, sample_weight)
        self.weight_sum = float(sample_weight.sum())

    @property
    def n_samples(self) -> int:
        return self.batch.n_samples

    def batches(self):
        yield self.batch

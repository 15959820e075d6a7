"""``ShardedData``: one rank's rows seen with the global weight sum (kept for the public API).

The fit itself no longer wraps data: :func:`torchlogit.data.prepare` gives each rank an
:class:`~torchlogit.data.InMemoryData` (or ``StreamingData``) whose ``weight_sum`` is already
the global ``S``. This wrapper does the same for data prepared by hand.
"""

from __future__ import annotations


class ShardedData:
    """This rank's rows, with the *global* weight sum ``S`` the objective divides by."""

    def __init__(self, local, weight_sum: float, n_samples: int):
        self.local = local
        self.weight_sum = float(weight_sum)
        self.n_samples = int(n_samples)  # over all ranks
        self.local_weight_sum = float(local.weight_sum)

    def batches(self):
        return self.local.batches()

    def __getattr__(self, name):  # dtype, device, passes, ... of the local data
        if name == "local":
            raise AttributeError(name)
        return getattr(self.local, name)

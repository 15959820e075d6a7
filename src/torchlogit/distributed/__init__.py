"""Data-parallel fits over ``torch.distributed`` (gloo on CPU, NCCL on GPU), launched with torchrun.

Each rank holds some of the rows; value, gradient and Hessian are per-rank sums combined by
an all-reduce (:class:`Communicator`), so the solvers run unchanged and every rank ends with
the model a single process would fit on all the rows. Inside an initialised process group
``LogisticRegression(...).fit(X_local, y_local)`` does this by itself
(``distributed="auto"``); :func:`distributed_context` sets the group up from torchrun's
environment and :func:`shard_files` gives each rank its share of the input files.
"""

from ._checkpoint import rank_checkpoint_dir
from ._comm import Communicator, DistributedError, check_same_tensor
from ._context import (
    DistributedContext,
    current_context,
    distributed_context,
    expand_paths,
    shard_files,
)
from ._fit import fit_distributed, is_active, reducer_for
from ._sharded import ShardedData

__all__ = [
    "Communicator",
    "DistributedContext",
    "DistributedError",
    "ShardedData",
    "check_same_tensor",
    "current_context",
    "distributed_context",
    "expand_paths",
    "fit_distributed",
    "is_active",
    "rank_checkpoint_dir",
    "reducer_for",
    "shard_files",
]

"""Where this process stands in a multi-process job, and which files are its share.

``torchrun`` starts one process per rank with ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``,
``MASTER_ADDR`` and ``MASTER_PORT`` in the environment; :func:`distributed_context` turns
that into an initialised process group (gloo on CPU, NCCL when each rank has a GPU) and
tears it down afterwards. Without those variables it is a one-process job (rank 0 of 1), so
the same script runs with ``python`` and with ``torchrun``.
"""

from __future__ import annotations

import datetime
import os
from collections.abc import Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import torch
import torch.distributed as dist

from ..data import expand_paths as _expand_paths
from . import _comm
from ._comm import default_timeout


@dataclass(frozen=True)
class DistributedContext:
    """This process's place in the job.

    ``active`` is True inside an initialised process group (also with ``world_size == 1``);
    ``device`` is where this rank computes (``cuda:LOCAL_RANK`` under NCCL, else CPU).
    """

    rank: int
    world_size: int
    local_rank: int
    backend: str | None
    device: torch.device
    active: bool

    @property
    def is_main(self) -> bool:
        """Rank 0: the one that writes the model and the report."""
        return self.rank == 0


def _launched_by_torchrun() -> bool:
    return all(k in os.environ for k in ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT"))


def current_context() -> DistributedContext:
    """The context of the already initialised default group (or a one-process context)."""
    if dist.is_available() and dist.is_initialized():
        backend = str(dist.get_backend())
        local_rank = int(os.environ.get("LOCAL_RANK", 0))
        device = (
            torch.device("cuda", local_rank) if "nccl" in backend.lower() else torch.device("cpu")
        )
        return DistributedContext(
            dist.get_rank(), dist.get_world_size(), local_rank, backend, device, True
        )
    return DistributedContext(0, 1, 0, None, torch.device("cpu"), False)


@contextmanager
def distributed_context(*, backend: str | None = None, timeout=None, device: str | None = None):
    """Initialise the default process group from torchrun's environment, and destroy it after.

    Parameters
    ----------
    backend : {"gloo", "nccl"}, optional
        Default: NCCL when ``device`` is CUDA, else gloo.
    timeout : datetime.timedelta or float (seconds), optional
        The process group's collective timeout (default
        :func:`~torchlogit.distributed._comm.default_timeout`).
    device : {"cpu", "cuda", "auto"}, optional
        ``"cuda"`` / ``"auto"`` with a GPU: rank ``r`` uses ``cuda:LOCAL_RANK``.

    Yields a :class:`DistributedContext`. A group that already exists is used as is and left
    alone; outside torchrun (no ``RANK`` / ``WORLD_SIZE`` / ``MASTER_*`` variables) the
    context is one inactive process.
    """
    if dist.is_available() and dist.is_initialized():
        yield current_context()
        return
    if not _launched_by_torchrun() or not dist.is_available():
        yield current_context()
        return
    local_rank = int(os.environ.get("LOCAL_RANK", 0))
    use_cuda = device in ("cuda", "auto") and torch.cuda.is_available()
    if device is not None and str(device).startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device={device!r} was asked for, but CUDA is not available here")
    if backend is None:
        backend = "nccl" if use_cuda else "gloo"
    if use_cuda:
        torch.cuda.set_device(local_rank)
    if timeout is None:
        timeout = default_timeout()
    elif not isinstance(timeout, datetime.timedelta):
        timeout = datetime.timedelta(seconds=float(timeout))
    # Keys under a prefix of torchrun's restart count: after a restart no rank can read
    # the address a dead worker of the previous attempt published (seen as "Connection
    # refused" in gloo's connectFullMesh when the store outlived the attempt).
    store, rank, world_size = next(dist.rendezvous("env://", timeout=timeout))
    attempt = os.environ.get("TORCHELASTIC_RESTART_COUNT", "0")
    store = dist.PrefixStore(f"torchlogit/attempt_{attempt}", store)
    dist.init_process_group(
        backend=backend, store=store, rank=rank, world_size=world_size, timeout=timeout
    )
    _comm._context_timeout = timeout
    try:
        yield current_context()
    finally:
        _comm._context_timeout = None
        dist.destroy_process_group()


def shard_files(paths: Sequence[str | os.PathLike], rank: int, world_size: int) -> list[str]:
    """This rank's share of ``paths``: every ``world_size``-th file of the sorted list.

    Every rank computes the same sorted list, so the shares are disjoint and cover all files
    (no file read twice, none skipped), whatever order ``glob`` returned them in. Shares
    differ in size by at most one file. A rank gets no file when there are fewer files than
    ranks; the caller decides whether that is an error.
    """
    if world_size < 1 or not 0 <= rank < world_size:
        raise ValueError(f"need 0 <= rank < world_size, got rank={rank}, world_size={world_size}")
    ordered = sorted(dict.fromkeys(os.fspath(p) for p in paths))
    return ordered[rank::world_size]


def expand_paths(patterns: Sequence[str | os.PathLike]) -> list[str]:
    """The data files named by ``patterns``, sorted and without repeats.

    Each pattern is a file (kept as given, even if it does not exist, so that reading it
    gives the error), a folder (its files in a format of
    :data:`torchlogit.data.FILE_FORMATS`) or a glob pattern.
    """
    return sorted(dict.fromkeys(_expand_paths(patterns)))

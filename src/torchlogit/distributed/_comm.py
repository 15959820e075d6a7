"""Collectives over a ``torch.distributed`` process group, each with a timeout.

Everything torchlogit exchanges between ranks goes through :class:`Communicator`: sums of
tensors (value, gradient, Hessian), small Python objects (labels, shapes, error messages),
and the final coefficients. All of it is built on ``all_reduce``, the one collective every
backend (gloo on CPU, NCCL on GPU) implements for every dtype we use, and every call waits at
most ``timeout``: a rank that died, or stopped calling collectives after an error, makes the
others raise :class:`DistributedError` instead of hanging.

``all_reduce`` leaves the *same bits* on every rank (ring and tree all-reduce compute each
element once and copy it), so every rank derives identical floats from the reduced sums and
takes identical solver decisions (line-search steps, stopping). :func:`check_same_tensor`
verifies it at the end of a fit. (Should ranks ever issue reductions of different sizes,
gloo aborts the processes and NCCL errors out: never a silent mix.)
"""

from __future__ import annotations

import datetime
import os
import pickle
from collections import Counter
from contextlib import contextmanager

import torch
import torch.distributed as dist

#: Default wait for one collective, in seconds (environment: ``TORCHLOGIT_DIST_TIMEOUT``).
#: A collective waits for the slowest rank's pass over its data, so this must exceed the time
#: one pass over the largest shard takes.
DEFAULT_TIMEOUT_S = 1800.0


class DistributedError(RuntimeError):
    """Another rank failed, disagreed, or did not answer within the timeout."""


_context_timeout: datetime.timedelta | None = None  # set by distributed_context(timeout=...)


def default_timeout() -> datetime.timedelta:
    """``distributed_context``'s timeout, else ``$TORCHLOGIT_DIST_TIMEOUT``, else 30 min."""
    if _context_timeout is not None:
        return _context_timeout
    return datetime.timedelta(
        seconds=float(os.environ.get("TORCHLOGIT_DIST_TIMEOUT", DEFAULT_TIMEOUT_S))
    )


def _comm_device(group) -> torch.device:
    """NCCL reduces CUDA tensors; every other backend (gloo, mpi) reduces CPU tensors here."""
    backend = str(dist.get_backend(group)).lower()
    if "nccl" in backend:
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


class Communicator:
    """Collectives over ``group`` (default: the default process group).

    Parameters
    ----------
    group : ProcessGroup, optional
    timeout : datetime.timedelta or float (seconds), optional
        The longest wait for one collective (default :func:`default_timeout`).

    Attributes
    ----------
    n_reductions, n_bytes : int
        Sum reductions issued by :meth:`all_reduce_sum` and the bytes each rank contributed
        (the payload size; a ring all-reduce moves about twice that per rank).
    payload_counts : collections.Counter
        How many sum reductions of each payload size (bytes) were issued.
    """

    def __init__(self, group=None, *, timeout=None):
        if not dist.is_available() or not dist.is_initialized():
            raise DistributedError(
                "torch.distributed is not initialised: call torch.distributed.init_process_group "
                "(or use torchlogit.distributed.distributed_context) in every process first"
            )
        self.group = group
        self.rank = dist.get_rank(group)
        self.world_size = dist.get_world_size(group)
        self.device = _comm_device(group)
        if timeout is None:
            timeout = default_timeout()
        elif not isinstance(timeout, datetime.timedelta):
            timeout = datetime.timedelta(seconds=float(timeout))
        self.timeout = timeout
        self.n_reductions = 0
        self.n_bytes = 0
        self.payload_counts: Counter = Counter()

    # ------------------------------------------------------------------ primitives
    def _all_reduce(self, t: torch.Tensor, op, what: str) -> torch.Tensor:
        buf = t.detach().to(self.device).contiguous()
        if buf.data_ptr() == t.data_ptr():
            buf = buf.clone()  # never write into the caller's tensor
        try:
            work = dist.all_reduce(buf, op=op, group=self.group, async_op=True)
            work.wait(timeout=self.timeout)
        except Exception as exc:
            raise DistributedError(
                f"rank {self.rank}/{self.world_size}: all-reduce of {what} failed or timed out "
                f"after {self.timeout.total_seconds():g}s (another rank probably failed or "
                f"stopped; see its error): {exc}"
            ) from exc
        return buf.to(t.device)

    def all_reduce_sum(self, t: torch.Tensor) -> torch.Tensor:
        """``sum_r t_r`` over the ranks (a new tensor on ``t``'s device; ``t`` is untouched)."""
        nbytes = t.numel() * t.element_size()
        self.n_reductions += 1
        self.n_bytes += nbytes
        self.payload_counts[nbytes] += 1
        return self._all_reduce(t, dist.ReduceOp.SUM, f"a {tuple(t.shape)} sum")

    def all_reduce_max(self, t: torch.Tensor) -> torch.Tensor:
        return self._all_reduce(t, dist.ReduceOp.MAX, f"a {tuple(t.shape)} max")

    def all_gather_object(self, obj) -> list:
        """Every rank's ``obj``, in rank order (pickled: for peers of one job only)."""
        payload = torch.frombuffer(bytearray(pickle.dumps(obj)), dtype=torch.uint8)
        sizes = torch.zeros(self.world_size, dtype=torch.int64)
        sizes[self.rank] = payload.numel()
        sizes = self._all_reduce(sizes, dist.ReduceOp.SUM, "object sizes")
        buf = torch.zeros(self.world_size, int(sizes.max()), dtype=torch.uint8)
        buf[self.rank, : payload.numel()] = payload
        buf = self._all_reduce(buf, dist.ReduceOp.SUM, "objects")
        return [
            pickle.loads(buf[r, : int(sizes[r])].numpy().tobytes()) for r in range(self.world_size)
        ]

    def broadcast(self, t: torch.Tensor, src: int = 0) -> torch.Tensor:
        """Rank ``src``'s ``t`` on every rank (exact: the others contribute zeros)."""
        contrib = t.detach().clone() if self.rank == src else torch.zeros_like(t)
        return self._all_reduce(contrib, dist.ReduceOp.SUM, f"a {tuple(t.shape)} broadcast")

    def same_tensor(self, t: torch.Tensor, what: str) -> tuple[torch.Tensor, float]:
        """Rank 0's ``t`` on every rank and the largest difference (:func:`check_same_tensor`)."""
        return check_same_tensor(self, t, what)

    # ------------------------------------------------------------------ agreement
    @contextmanager
    def agree(self, what: str):
        """Run the block on every rank; if it raised on any rank, raise on every rank.

        The rank that failed re-raises its own exception; the others raise
        :class:`DistributedError` naming the rank and its message. Without this, the ranks
        that succeeded would wait in their next collective for the one that failed.
        """
        error = None
        try:
            yield
        except Exception as exc:
            error = exc
        local = None if error is None else f"{type(error).__name__}: {error}"
        messages = self.all_gather_object(local)
        if error is not None:
            raise error
        failed = [(r, m) for r, m in enumerate(messages) if m is not None]
        if failed:
            detail = "; ".join(f"rank {r}: {m}" for r, m in failed)
            raise DistributedError(f"{what} failed on another rank ({detail})")


def check_same_tensor(comm: Communicator, t: torch.Tensor, what: str, *, rtol=None):
    """Rank 0's ``t`` on every rank, and the largest difference any rank had from it.

    Ranks that take identical steps hold bitwise identical tensors (difference 0). Linear
    algebra that is not bitwise reproducible between processes (another thread count or
    another GPU model) can leave last-bit differences: up to ``rtol * max(1, max|t|)``
    (default ``rtol = sqrt(eps)``) every rank adopts rank 0's tensor; beyond that the ranks
    diverged and every rank raises :class:`DistributedError`.

    Returns ``(tensor, max_difference)``.
    """
    ref = comm.broadcast(t, 0)
    local = float((ref - t).abs().max()) if t.numel() else 0.0
    if local != local:  # NaN: some entries differ in NaN-ness
        local = float("inf")
    diff = float(comm.all_reduce_max(torch.tensor([local], dtype=torch.float64))[0])
    if rtol is None:
        rtol = torch.finfo(t.dtype).eps ** 0.5
    scale = max(1.0, float(ref.abs().max())) if ref.numel() else 1.0
    if not diff <= rtol * scale:
        raise DistributedError(
            f"{what} differ between ranks (max |difference| to rank 0 = {diff:.3g}; this "
            f"rank: {local:.3g}): the ranks did not take the same steps"
        )
    return ref, diff

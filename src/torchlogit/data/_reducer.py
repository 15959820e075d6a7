"""Reducers: how the ranks of a fit agree. On one process everything is the identity.

A *reducer* is what the preparation path and the fitting engine use for every cross-rank
quantity: sums (the weight sum ``S``, class weight sums, the objective's value, gradient and
Hessian), maxima (the separability margin), gathered metadata (classes, schema) and the
agreement on errors. :class:`LocalReducer` is the one-process reducer; under
``torch.distributed`` the :class:`~torchlogit.distributed.Communicator` has the same methods.
"""

from __future__ import annotations

from contextlib import contextmanager

import torch


class LocalReducer:
    """The identity reducer: rank 0 of a world of 1.

    Methods (the reducer protocol): ``all_reduce_sum(t)``, ``all_reduce_max(t)``,
    ``all_gather_object(obj) -> [obj]``, ``agree(what)`` (a context manager that, on many
    ranks, turns one rank's error into an error on every rank), ``same_tensor(t, what) ->
    (t, 0.0)`` and the counters ``n_bytes``, ``n_reductions``, ``payload_counts``.
    """

    rank = 0
    world_size = 1
    n_bytes = 0
    n_reductions = 0
    payload_counts: dict = {}

    def all_reduce_sum(self, t: torch.Tensor) -> torch.Tensor:
        return t

    def all_reduce_max(self, t: torch.Tensor) -> torch.Tensor:
        return t

    def all_gather_object(self, obj) -> list:
        return [obj]

    @contextmanager
    def agree(self, what: str):
        yield

    def same_tensor(self, t: torch.Tensor, what: str) -> tuple[torch.Tensor, float]:
        return t, 0.0

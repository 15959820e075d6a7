"""Data-parallel ``fit``: each rank holds some rows, every rank ends with the same model.

With ``R`` ranks holding disjoint row sets ``I_1, ..., I_R`` the averaged objective is

.. math::

    f(W, b) = \\frac{1}{S} \\sum_{r=1}^{R} \\sum_{i \\in I_r} s_i \\, \\ell(y_i, W x_i + b)
              + r_{smooth}(W), \\qquad S = \\sum_r \\sum_{i \\in I_r} s_i ,

so value, gradient and Hessian are sums of per-rank sums. This package contributes only the
*reducer* that makes those sums global — the :class:`~torchlogit.distributed.Communicator`,
an all-reduce with a timeout — plus file shards and per-rank checkpoint folders. The fit
itself is the one-process fit: :func:`torchlogit.data.prepare` agrees on the classes, the
class weights and ``S`` through the reducer, and :func:`torchlogit.fitting.fit` passes the
reducer to the objective, so the solvers see the global objective without knowing it and the
result equals a one-process fit on all the rows, up to the rounding of the summation order.
"""

from __future__ import annotations

from contextlib import contextmanager

import torch.distributed as dist

from ..fitting import check_solver
from ._comm import Communicator, DistributedError

_explicit: list[Communicator] = []  # the communicator fit_distributed was given, if any


def is_active(option) -> bool:
    """Whether a fit with ``distributed=option`` runs collectively.

    ``"auto"``: when the default process group is initialised; ``True``: always (an error
    when no group exists); ``False``: never (each process fits its own rows alone).
    """
    if option is False:
        return False
    initialised = dist.is_available() and dist.is_initialized()
    if option is True and not initialised:
        raise DistributedError(
            "distributed=True, but torch.distributed is not initialised: launch with torchrun "
            "and call torch.distributed.init_process_group (or use "
            "torchlogit.distributed.distributed_context) before fit"
        )
    return initialised


def reducer_for(option) -> Communicator | None:
    """The reducer of a fit with ``distributed=option``: the communicator given to
    :func:`fit_distributed`, a :class:`Communicator` on the default group when
    :func:`is_active`, else ``None`` (one process)."""
    if _explicit:
        return _explicit[-1]
    return Communicator() if is_active(option) else None


@contextmanager
def _using(communicator: Communicator):
    _explicit.append(communicator)
    try:
        yield
    finally:
        _explicit.pop()


def fit_distributed(estimator, X, y, sample_weight=None, *, communicator=None):
    """Fit ``estimator`` (a :class:`~torchlogit.LogisticRegression`) on this rank's rows.

    Every rank of the process group must call it, each with its own rows; each returns the
    estimator fitted on all the rows. ``communicator`` defaults to the default group.
    Sets ``estimator.distributed_info_``: ``world_size``, ``rows_per_rank``, and what the
    solver's reductions sent per rank (``bytes_reduced`` over ``n_reductions`` all-reduces;
    ``payload_counts``: bytes -> number of all-reduces of that size), and
    ``max_rank_difference``, the largest difference of any rank's coefficients from rank 0's
    (0 when the ranks took bitwise identical steps; every rank keeps rank 0's).
    """
    params = estimator.get_params(deep=False)
    # Before any collective: a solver that cannot run data-parallel stops every rank here.
    check_solver(params["solver"], options=params["solver_options"], distributed=True)
    with _using(communicator or Communicator()):
        return estimator.fit(X, y, sample_weight)

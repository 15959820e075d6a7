"""The typed pieces solvers share: declared capabilities, resume state, history, result."""

from __future__ import annotations

import math
import time as _time
from dataclasses import dataclass, field

import torch


@dataclass(frozen=True)
class SolverCapabilities:
    """What a solver needs from the problem and what it supports; the fitting engine reads
    these declarations (never the solver's name or class) to choose, check and drive it.

    - ``proximal``: handles a non-smooth penalty (L1 / elastic-net) through its proximal
      operator; a smooth-only solver has ``False``.
    - ``bounds``: handles box constraints ``lower <= coef <= upper`` exactly.
    - ``hessian``: builds the Hessian matrix (cost ``O((m p)^2)`` memory).
    - ``hessian_product``: needs Hessian-vector products (no matrix).
    - ``sparse``, ``streamed``: runs on sparse X, on data streamed from a source.
    - ``minibatch``: steps on one batch at a time (``batch_value_gradient``); such a solver
      cannot run data-parallel (nothing to all-reduce between ranks).
    - ``distributed``: runs data-parallel through the objective's ``reduce`` hook.
    - ``resume``: ``solve(..., resume=ResumeState)`` continues an interrupted run.
    - ``lookahead``: on streamed data, wants each line-search pass to also compute the next
      gradient and Hessian (one pass per iteration instead of two).
    """

    proximal: bool = False
    bounds: bool = False
    hessian: bool = False
    hessian_product: bool = False
    sparse: bool = True
    streamed: bool = True
    minibatch: bool = False
    distributed: bool = True
    resume: bool = True
    lookahead: bool = False


_HISTORY_KEYS = ("objective", "gradient_norm", "step_size", "time")


@dataclass
class ResumeState:
    """Where an interrupted solve stopped: pass it as ``solve(..., resume=state)``.

    ``coef`` is the iterate after ``n_iter`` iterations, ``history`` the diagnostics up to
    it, and ``state`` whatever else the solver keeps between iterations (L-BFGS: its
    correction pairs; Newton: nothing), as written by the solver's ``checkpoint.save``.
    """

    coef: torch.Tensor
    n_iter: int
    history: dict
    state: dict


@dataclass
class History:
    """Per-iteration diagnostics, one list per quantity (plot-ready)."""

    objective: list[float] = field(default_factory=list)
    gradient_norm: list[float] = field(default_factory=list)
    step_size: list[float] = field(default_factory=list)
    time: list[float] = field(default_factory=list)
    _start: float = field(default_factory=_time.perf_counter, repr=False)

    def record(self, objective: float, gradient_norm: float, step_size: float = math.nan):
        self.objective.append(float(objective))
        self.gradient_norm.append(float(gradient_norm))
        self.step_size.append(float(step_size))
        self.time.append(_time.perf_counter() - self._start)

    @classmethod
    def from_dict(cls, d: dict) -> History:
        """A history that continues ``d`` (as written by :meth:`as_dict`)."""
        h = cls(**{k: [float(v) for v in d.get(k, [])] for k in _HISTORY_KEYS})
        h._start = _time.perf_counter() - (h.time[-1] if h.time else 0.0)
        return h

    def as_dict(self) -> dict[str, list[float]]:
        return {
            "objective": list(self.objective),
            "gradient_norm": list(self.gradient_norm),
            "step_size": list(self.step_size),
            "time": list(self.time),
        }


@dataclass
class SolverResult:
    """What every solver returns.

    ``coef`` has the objective's ``coef_shape``; ``converged`` says whether the stopping rule
    was met (else ``message`` says why it stopped); ``n_passes`` counts passes over the data.
    """

    coef: torch.Tensor
    n_iter: int
    converged: bool
    history: History
    message: str = ""
    n_passes: int = 0
    # stopped by the stall rule: no decrease of the objective representable in the working
    # dtype (scipy's L-BFGS-B calls the same condition, its ``factr * eps``, convergence)
    at_precision: bool = False

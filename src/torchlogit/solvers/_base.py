"""What every solver shares: the result type, the history, the registry and ``"auto"``.

A solver is a class with a ``name``, the objective methods it ``requires`` and whether it
handles a non-smooth penalty; it is configured in its constructor and run with
``solve(objective, coef0) -> SolverResult``. Registering it makes it available to the
estimators by name; nothing in the fit path branches on solver names.
"""

from __future__ import annotations

import inspect
import math
import time as _time
from dataclasses import dataclass, field

import torch

SOLVERS: dict[str, type] = {}


def register_solver(cls):
    """Class decorator: make ``cls`` available as ``solver=cls.name``."""
    SOLVERS[cls.name] = cls
    return cls


def get_solver(name: str) -> type:
    try:
        return SOLVERS[name]
    except KeyError:
        raise ValueError(
            f"unknown solver {name!r}; available: {sorted(SOLVERS)} or 'auto'"
        ) from None


def check_solver_objective(solver_cls, objective, penalty) -> None:
    """Fail with a clear message when ``solver_cls`` cannot run on this problem."""
    missing = [a for a in solver_cls.requires if not hasattr(objective, a)]
    if missing:
        raise ValueError(
            f"solver {solver_cls.name!r} needs the objective to provide {missing}, "
            f"which {type(objective).__name__} does not"
        )
    if not penalty.is_smooth and not solver_cls.handles_nonsmooth:
        raise ValueError(
            f"solver {solver_cls.name!r} handles only smooth penalties (L2 or none); "
            "use a proximal solver for L1 / elastic-net"
        )


def solver_option_names(solver_cls) -> list[str]:
    """The keyword options ``solver_cls`` accepts: its ``__init__``'s and its bases' names."""
    names: list[str] = []
    for klass in solver_cls.__mro__:
        init = klass.__dict__.get("__init__")
        if init is None or klass is object:
            continue
        for param in inspect.signature(init).parameters.values():
            if param.kind in (param.KEYWORD_ONLY, param.POSITIONAL_OR_KEYWORD):
                if param.name != "self" and param.name not in names:
                    names.append(param.name)
    return names


def check_solver_options(solver_cls, options) -> None:
    """Fail with a ValueError naming the solver when ``options`` has a key it does not take."""
    accepted = solver_option_names(solver_cls)
    unknown = [k for k in (options or {}) if k not in accepted]
    if unknown:
        raise ValueError(
            f"solver {solver_cls.name!r} does not accept the option(s) "
            f"{', '.join(map(repr, unknown))}; its options are: {', '.join(accepted)}"
        )


# Newton builds an (m p) x (m p) Hessian and factors it: worth it up to about this size.
NEWTON_MAX_PARAMETERS = 1024
# On sparse X the Hessian is a sparse-sparse product costing sum_i nnz_i^2 per pass; past this
# size truncated Newton (Hessian-vector products, no matrix) is cheaper.
SPARSE_NEWTON_MAX_PARAMETERS = 256


def choose_solver(
    *, n_samples: int, n_parameters: int, penalty, sparse: bool = False, device=None
) -> str:
    """The ``"auto"`` rule, a function of the problem's shape and penalty.

    - smooth penalty, at most ``NEWTON_MAX_PARAMETERS`` parameters, dense X: ``"newton"``
      (a handful of passes over X, each with one Gram product);
    - smooth, sparse X: ``"newton"`` up to ``SPARSE_NEWTON_MAX_PARAMETERS`` parameters, else
      ``"newton-cg"`` (Hessian-vector products, diagonal preconditioner: on text-like data
      (B4's, L2) it needs ~80 passes where L-BFGS needs ~800);
    - smooth otherwise: ``"lbfgs"`` (no Hessian matrix, memory O(parameters));
    - non-smooth (L1 / elastic-net): ``"fista"`` on a GPU (``device.type == "cuda"``: no
      per-coordinate loop on the host), else ``"cd"`` (proximal Newton, working set).
    """
    if not penalty.is_smooth:
        on_gpu = device is not None and torch.device(device).type == "cuda"
        for name in ("fista", "cd") if on_gpu else ("cd", "fista"):
            if name in SOLVERS:
                return name
        raise ValueError("no solver for non-smooth penalties is available")
    if sparse:
        if n_parameters <= SPARSE_NEWTON_MAX_PARAMETERS:
            return "newton"
        return "newton-cg" if "newton-cg" in SOLVERS else "lbfgs"
    if n_parameters <= NEWTON_MAX_PARAMETERS:
        return "newton"
    return "lbfgs"


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


class SolverBase:
    """Configuration shared by the solvers (keyword-only, stored as given)."""

    name = "base"
    requires: tuple[str, ...] = ("value_gradient",)
    handles_nonsmooth = False
    capabilities = SolverCapabilities()

    def __init__(
        self,
        *,
        tol: float = 1e-4,
        max_iter: int = 100,
        verbose: int = 0,
        callback=None,
        checkpoint=None,
        **unknown,
    ):
        if unknown:
            check_solver_options(type(self), unknown)
        self.tol = float(tol)
        self.max_iter = int(max_iter)
        self.verbose = int(verbose)
        self.callback = callback
        # ``checkpoint.save(n_iter, coef, history, state)`` after every iteration, where
        # ``state`` is what ``solve(..., resume=ResumeState(...))`` needs to continue.
        self.checkpoint = checkpoint

    @staticmethod
    def _resume(resume: ResumeState | None, coef0: torch.Tensor):
        """``(coef, n_iter, history, state)`` to start from: ``coef0`` or an interrupted run."""
        if resume is None:
            return coef0, 0, History(), {}
        coef = resume.coef.to(dtype=coef0.dtype, device=coef0.device).reshape(coef0.shape)
        return coef, int(resume.n_iter), History.from_dict(resume.history), dict(resume.state)

    def _log(self, it: int, f: float, gnorm: float, step: float) -> None:
        if self.verbose:
            print(
                f"[{self.name}] iter {it:4d}  objective {f:.10e}  |grad|_inf {gnorm:.3e}"
                f"  step {step:.3g}"
            )

    def _after_iteration(
        self, it: int, coef: torch.Tensor, history: History, state: dict | None = None
    ) -> bool:
        """Save a checkpoint, run the user's callback; ``True`` asks the solver to stop."""
        if self.checkpoint is not None:
            self.checkpoint.save(it, coef, history, state or {})
        if self.callback is None:
            return False
        return bool(self.callback(it, coef, history))

    def solve(
        self, objective, coef0: torch.Tensor, resume: ResumeState | None = None
    ) -> SolverResult:  # pragma: no cover
        raise NotImplementedError

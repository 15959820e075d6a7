"""What every solver shares: the result type, the history, the registry, ``"auto"`` and the loop.

A solver is a class with a ``name``, the objective methods it ``requires`` and the penalty
methods it calls (``penalty_requires``; as skglm's ``_datafit_required_attr`` /
``_penalty_required_attr``) and its :class:`SolverCapabilities`; it is configured in its
constructor and run with ``solve(objective, coef0, resume=None) -> SolverResult``. Registering
it makes it available by name; nothing in the fit path branches on solver names: the engine
and :func:`choose_solver` read the declarations.

The loop is written once, in :meth:`SolverBase.solve` (a template, as scikit-learn's
``NewtonSolver``); a solver supplies its steps through hooks called in this order::

    it = _start(objective, coef, state, resumed)   # first point (coef0 projected on the box)
    loop: record (it.value, it.measure, it.step) in the history, log it
          stop if it.measure <= tol ("converged") or n_iter >= max_iter, or when the
          objective has not changed beyond its rounding error (2 eps |f| in the working
          dtype) nor max|grad| made progress for stall_window(capabilities) iterations
          (stalled: not converged, said so; see :func:`stall_window`)
          failure = _step(objective, it)         # a message ends the run (not converged)
          n_iter += 1; checkpoint.save(..., _state(it)); callback may stop the run
    SolverResult(coef=it.coef, ..., n_passes=n_passes_of(objective))

``it`` is the solver's own typed iteration state with at least ``coef``, ``value`` (the
objective, non-smooth part included), ``measure`` (the optimality measure: ``max|grad|`` or
the KKT violation) and ``step``. The mini-batch solvers (``"sgd"``, ``"adam"``) keep their own
epoch loop (their value is known only after an epoch and they stop on a stalled objective) but
share the resume, logging, checkpoint and callback helpers and the result type.

To add a solver: one file in ``solvers/`` with a ``SolverBase`` subclass (declarations and the
hooks), decorated with :func:`register_solver`, and its import in ``solvers/__init__.py``.
"""

from __future__ import annotations

import inspect
import warnings

import torch

from ._types import History, ResumeState, SolverCapabilities, SolverResult

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


def _solvers_with(**wanted) -> list[str]:
    return [
        n
        for n, c in SOLVERS.items()
        if all(getattr(c.capabilities, k) == v for k, v in wanted.items())
    ]


def check_solver_objective(solver_cls, objective, penalty) -> None:
    """Fail with a clear message when ``solver_cls`` cannot run on this problem.

    Reads the declarations: the objective methods in ``solver_cls.requires`` and the
    capabilities a penalty needs (``proximal`` for an L1 part, ``bounds`` for a box).
    """
    missing = [a for a in solver_cls.requires if not hasattr(objective, a)]
    if missing:
        raise ValueError(
            f"solver {solver_cls.name!r} needs the objective to provide {missing}, "
            f"which {type(objective).__name__} does not"
        )
    check_solver_penalty(solver_cls, penalty)


def check_solver_penalty(solver_cls, penalty) -> None:
    """The penalty half of :func:`check_solver_objective` (also run by every ``solve``): the
    penalty methods in ``solver_cls.penalty_requires`` and the capabilities it needs."""
    missing = [a for a in solver_cls.penalty_requires if not hasattr(penalty, a)]
    if missing:
        raise ValueError(
            f"solver {solver_cls.name!r} needs the penalty to provide {missing}, "
            f"which {type(penalty).__name__} does not"
        )
    caps = solver_cls.capabilities
    if getattr(penalty, "has_bounds", False) and not caps.bounds:
        raise ValueError(
            f"solver {solver_cls.name!r} does not support bounds (lower_bounds / upper_bounds): "
            "it does not declare capabilities.bounds; use one that does: "
            f"{_solvers_with(bounds=True)}"
        )
    if not penalty.is_smooth and not caps.proximal:
        raise ValueError(
            f"solver {solver_cls.name!r} handles only smooth penalties (L2 or none): it does "
            "not declare capabilities.proximal; use a proximal solver for L1 / elastic-net: "
            f"{_solvers_with(proximal=True, minibatch=False)}"
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
    *,
    n_samples: int,
    n_parameters: int,
    penalty,
    sparse: bool = False,
    device=None,
    streamed: bool = False,
    distributed: bool = False,
) -> str:
    """The ``"auto"`` rule: a function of the problem's shape and penalty, read from the
    solvers' declared capabilities (never their names).

    Candidates: full-batch solvers (not ``minibatch``) that can take the penalty (``proximal``
    for an L1 part, ``bounds`` for a box) and the data (``sparse``, ``streamed``,
    ``distributed`` when asked). Among them, in order of preference:

    - non-smooth penalty (L1 / elastic-net / box): on a GPU (``device.type == "cuda"``) a
      first-order solver (no ``hessian``: no per-coordinate loop on the host; FISTA), else a
      second-order one (proximal Newton with a working set, ``"cd"``);
    - smooth penalty, at most ``NEWTON_MAX_PARAMETERS`` parameters on dense X
      (``SPARSE_NEWTON_MAX_PARAMETERS`` on sparse X): a solver specialised for smooth problems
      (not ``proximal``) that builds the ``hessian`` (Newton: a handful of passes, each with
      one Gram product);
    - smooth, larger: no ``hessian`` matrix first; on sparse X one with ``hessian_product``
      (truncated Newton with a diagonal preconditioner: on text-like data (B4's, L2) ~80
      passes where L-BFGS needs ~800), on dense X one with neither (L-BFGS, memory
      O(parameters)); then a smooth-only solver over a proximal one.

    Ties go to the first registered solver.
    """
    bounded = bool(getattr(penalty, "has_bounds", False))
    smooth = penalty.is_smooth
    names = []
    for name, cls in SOLVERS.items():
        c = cls.capabilities
        if c.minibatch or (bounded and not c.bounds) or (not smooth and not c.proximal):
            continue
        if (sparse and not c.sparse) or (streamed and not c.streamed):
            continue
        if distributed and not c.distributed:
            continue
        names.append(name)
    if not smooth:
        on_gpu = device is not None and torch.device(device).type == "cuda"
        prefs = [("hessian", not on_gpu)]
    else:
        limit = SPARSE_NEWTON_MAX_PARAMETERS if sparse else NEWTON_MAX_PARAMETERS
        if n_parameters <= limit:
            prefs = [("proximal", False), ("hessian", True)]
        elif sparse:
            prefs = [("hessian", False), ("hessian_product", True), ("proximal", False)]
        else:
            prefs = [("hessian", False), ("hessian_product", False), ("proximal", False)]
    if not names:
        kind = "bounded" if bounded else ("non-smooth" if not smooth else "smooth")
        raise ValueError(f"no registered solver supports this {kind} problem")

    def mismatches(name):
        c = SOLVERS[name].capabilities
        return tuple(getattr(c, field) != value for field, value in prefs)

    return min(names, key=mismatches)  # min is stable: ties keep registration order


def evaluations_of(objective) -> int:
    """The objective's evaluation count (the pass count of solvers that do not track passes)."""
    return int(getattr(objective, "n_evaluations", 0))


def passes_of(objective) -> int:
    """Passes over X so far (``n_passes`` rounded up), or the evaluation count without it."""
    n = getattr(objective, "n_passes", None)
    if n is None:
        return evaluations_of(objective)
    return int(-(-float(n) // 1))


# Iterations in a row without a change of the objective beyond its rounding error that make
# SolverBase.solve stop (the working precision is reached before tol).
STALL_ITERATIONS = 10
# The same for exact Newton, and the factor by which its optimality measure must fall to
# count as progress (see stall_window).
NEWTON_STALL_ITERATIONS = 3
NEWTON_PROGRESS_FACTOR = 0.5


def stall_window(capabilities) -> tuple[int, float]:
    """``(iterations, factor)`` of the stall rule for a solver with these capabilities.

    A run has stalled when, for ``iterations`` iterations in a row, the objective ``f`` has
    not moved beyond its rounding error (``|f_k - f_{k-1}| <= 2 eps |f_k|`` in the working
    dtype) and the optimality measure ``m_k`` made no progress: ``m_k >= factor * min_{j<k}
    m_j``.

    - Exact Newton (a ``hessian`` matrix, smooth penalties only: not ``proximal``) converges
      quadratically, ``m_{k+1} = O(m_k^2)``: once ``f`` is flat, a measure that does not even
      halve is the noise floor of the working precision (float32 sums of the gradient over
      millions of rows: ``m`` wanders within a factor of about two around ``eps`` times the
      scale of the summands). Three such iterations end the run: on streamed data each
      costs a pass over the files.
    - Every other solver (first-order, or with a working set or an inner solver, whose
      measure may fall slowly while ``f`` is already flat): ten iterations, and any new low
      of the measure is progress.
    """
    if capabilities.hessian and not capabilities.proximal:
        return NEWTON_STALL_ITERATIONS, NEWTON_PROGRESS_FACTOR
    return STALL_ITERATIONS, 1.0


class SolverBase:
    """Configuration shared by the solvers (keyword-only, stored as given) and the loop.

    Subclasses declare ``name``, ``requires`` (objective methods) and ``capabilities`` and
    implement the hooks ``_start`` and ``_step`` (and ``_state`` for what a checkpoint keeps);
    :meth:`solve` runs them (see the module docstring for the order).
    """

    name = "base"
    requires: tuple[str, ...] = ("value_gradient",)
    # the penalty protocol's methods the solver calls (the objective calls the smooth part)
    penalty_requires: tuple[str, ...] = ()
    capabilities = SolverCapabilities()
    # the tol used when the user gives none (tol=None): scikit-learn's 1e-4 for first-order
    # and stochastic solvers; the second-order ones declare a tighter one (see NewtonSolver)
    default_tol: float = 1e-4
    # passes over X reported in SolverResult.n_passes
    n_passes_of = staticmethod(passes_of)

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

    def _resume(self, resume: ResumeState | None, coef0: torch.Tensor):
        """``(coef, n_iter, history, state)`` to start from: ``coef0`` or an interrupted run.

        A solver that does not declare ``capabilities.resume`` starts afresh (with a warning).
        """
        if resume is not None and not self.capabilities.resume:
            warnings.warn(
                f"solver {self.name!r} cannot continue from a checkpoint; starting afresh",
                UserWarning,
                stacklevel=3,
            )
            resume = None
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

    def _no_decrease(self, dtype, what: str = "the line search could not decrease the objective"):
        """The shared message of a run that stalls at the working precision."""
        return f"{what}: the working precision ({dtype}) is reached before tol={self.tol:g}"

    # ------------------------------------------------------------------ the template
    def solve(
        self, objective, coef0: torch.Tensor, resume: ResumeState | None = None
    ) -> SolverResult:
        """Minimise ``objective`` from ``coef0`` (or continue ``resume``); see the module
        docstring for the loop. A start outside the penalty's box is projected onto it (the
        engine refuses a user's warm start outside the box with ``penalty.check_feasible``)."""
        penalty = getattr(objective, "penalty", None)
        if penalty is not None:  # never silently drop an L1 part or a box
            check_solver_penalty(type(self), penalty)
        resumed = resume is not None and self.capabilities.resume
        coef, n_iter, history, state = self._resume(resume, coef0)
        if penalty is not None and getattr(penalty, "has_bounds", False):
            coef = penalty.project(coef)
        it = self._start(objective, coef, state, resumed)
        converged, message = False, f"reached max_iter={self.max_iter}"
        at_precision = False
        eps = torch.finfo(it.coef.dtype).eps
        window, factor = stall_window(self.capabilities)
        previous, best, flat = None, float("inf"), 0
        while True:
            history.record(it.value, it.measure, it.step)
            self._log(n_iter, it.value, it.measure, it.step)
            if it.measure <= self.tol:
                converged, message = True, "converged"
                break
            if n_iter >= self.max_iter:
                break
            # Stalled (see stall_window): for `window` iterations in a row, the objective has
            # not moved by more than its own rounding error (2 eps |f| in the working dtype)
            # and the optimality measure has not fallen below `factor` times its lowest value
            # so far: no progress is representable.
            value, measure = float(it.value), float(it.measure)
            level = previous is not None and abs(previous - value) <= 2 * eps * abs(value)
            flat = flat + 1 if level and not measure < factor * best else 0
            previous, best = value, min(best, measure)
            if flat >= window:
                at_precision = True
                message = self._no_decrease(
                    it.coef.dtype,
                    f"no decrease of the objective representable in {it.coef.dtype} for "
                    f"{window} iterations (max|grad| = {float(it.measure):.3g})",
                )
                break
            failure = self._step(objective, it)
            if failure is not None:
                message = failure
                break
            n_iter += 1
            if self._after_iteration(n_iter, it.coef, history, self._state(it)):
                message = "stopped by callback"
                break
        return SolverResult(
            coef=it.coef,
            n_iter=n_iter,
            converged=converged,
            history=history,
            message=message,
            n_passes=self.n_passes_of(objective),
            at_precision=at_precision,
        )

    def _start(self, objective, coef: torch.Tensor, state: dict, resumed: bool):
        """The iteration state at ``coef`` (``state``: what a checkpoint kept)."""
        raise NotImplementedError  # pragma: no cover

    def _step(self, objective, it) -> str | None:
        """One iteration, updating ``it`` in place; a message when the run cannot go on."""
        raise NotImplementedError  # pragma: no cover

    def _state(self, it) -> dict:
        """What a checkpoint keeps to resume after this iteration (besides ``coef``)."""
        return {}

"""Online learning: one epoch of a mini-batch solver per call, continuing the last call.

The penalty is scikit-learn's ``r(W) / (C S_seen)`` with ``S_seen`` the total sample weight
of every batch seen so far, and the data term the batch's weighted mean loss, so the model
tracks the fit on all the data seen. The solver is the spec's when it is a mini-batch solver
(``capabilities.minibatch``: ``"sgd"``, ``"adam"``), else ``"sgd"`` with its defaults and a
constant step (an online stream has no epochs to decay the step over).
"""

from __future__ import annotations

from .. import solvers as _solvers
from ._engine import build_objective, build_penalty, check_finite_coef, initial_coef
from ._result import FitResult, centre_multinomial

DEFAULT_ONLINE_SOLVER = "sgd"


class _KeepState:
    """A checkpoint kept in memory: how the solver's state is carried between calls."""

    def __init__(self):
        self.state: dict = {}

    def save(self, n_iter, coef, history, state):
        self.state = state


def online_solver(spec) -> tuple[str, dict]:
    """``(solver name, options)`` for ``partial_fit``."""
    name, options = DEFAULT_ONLINE_SOLVER, {}
    if spec.solver != "auto" and _solvers.get_solver(spec.solver).capabilities.minibatch:
        name, options = spec.solver, dict(spec.solver_options or {})
    if name == DEFAULT_ONLINE_SOLVER:
        options.setdefault("learning_rate", "constant")
    return name, options


def fit_online(spec, training, *, weight_sum_seen: float, previous=None) -> FitResult:
    """One epoch over ``training`` (one batch of a stream of calls).

    ``previous = (coef, solver_state)`` from the last call's result continues it; ``None``
    starts from zero. The result's ``solver_state`` is what the next call continues from.
    """
    name, options = online_solver(spec)
    penalty = build_penalty(spec, training, weight_sum=weight_sum_seen)
    objective = build_objective(spec, training, penalty)
    keep = _KeepState()
    solver = _solvers.get_solver(name)(
        tol=0.0, max_iter=1, verbose=spec.verbose, checkpoint=keep, **options
    )
    coef0 = initial_coef(objective.coef_shape, training)
    resume = None
    if previous is not None:
        resume = _solvers.ResumeState(previous[0], 0, {}, previous[1])
    result = solver.solve(objective, coef0, resume=resume)
    check_finite_coef(result.coef, name, int(result.n_iter), training.dtype)  # state kept
    coef = result.coef.detach().clone()
    return FitResult.from_solver(
        result,
        coef=centre_multinomial(coef, penalty.unpenalized_mask(coef)),
        training=training,
        loss=objective.loss,
        solver=name,
        solver_state=keep.state,
    )

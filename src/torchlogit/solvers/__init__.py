"""Solver layer: each solver registers itself; ``"auto"`` is :func:`choose_solver`."""

from . import _lbfgs, _newton, _stochastic  # noqa: F401  (register the solvers)
from ._base import (
    SOLVERS,
    History,
    ResumeState,
    SolverResult,
    check_solver_objective,
    choose_solver,
    get_solver,
    register_solver,
)
from ._checkpoint import Checkpoint
from ._lbfgs import LBFGSSolver
from ._newton import NewtonSolver
from ._stochastic import AdamSolver, SGDSolver

__all__ = [
    "SOLVERS",
    "AdamSolver",
    "Checkpoint",
    "History",
    "LBFGSSolver",
    "NewtonSolver",
    "ResumeState",
    "SGDSolver",
    "SolverResult",
    "check_solver_objective",
    "choose_solver",
    "get_solver",
    "register_solver",
]

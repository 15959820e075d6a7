"""Solver layer: each solver registers itself; ``"auto"`` is :func:`choose_solver`."""

from . import _lbfgs, _newton  # noqa: F401  (register the solvers)
from ._base import (
    SOLVERS,
    History,
    SolverResult,
    check_solver_objective,
    choose_solver,
    get_solver,
    register_solver,
)
from ._lbfgs import LBFGSSolver
from ._newton import NewtonSolver

__all__ = [
    "SOLVERS",
    "History",
    "LBFGSSolver",
    "NewtonSolver",
    "SolverResult",
    "check_solver_objective",
    "choose_solver",
    "get_solver",
    "register_solver",
]

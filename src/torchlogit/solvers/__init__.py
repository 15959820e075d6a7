"""Solver layer: each solver registers itself; ``"auto"`` is :func:`choose_solver`."""

from . import _fista, _lbfgs, _newton, _newton_cg, _prox_newton, _stochastic  # noqa: F401 (register)
from ._aliases import SKLEARN_SOLVERS, SolverAlias, check_alias, resolve_alias
from ._base import (
    SOLVERS,
    History,
    ResumeState,
    SolverCapabilities,
    SolverResult,
    check_solver_objective,
    check_solver_options,
    choose_solver,
    get_solver,
    register_solver,
    solver_option_names,
)
from ._checkpoint import Checkpoint, stored_iteration
from ._fista import FISTASolver
from ._lbfgs import LBFGSSolver
from ._newton import NewtonSolver
from ._newton_cg import NewtonCGSolver
from ._prox_newton import ProxNewtonCDSolver
from ._stochastic import AdamSolver, SGDSolver

__all__ = [
    "SKLEARN_SOLVERS",
    "SOLVERS",
    "AdamSolver",
    "Checkpoint",
    "stored_iteration",
    "FISTASolver",
    "History",
    "LBFGSSolver",
    "NewtonCGSolver",
    "NewtonSolver",
    "ProxNewtonCDSolver",
    "ResumeState",
    "SGDSolver",
    "SolverAlias",
    "SolverCapabilities",
    "SolverResult",
    "check_alias",
    "check_solver_objective",
    "check_solver_options",
    "choose_solver",
    "get_solver",
    "register_solver",
    "resolve_alias",
    "solver_option_names",
]

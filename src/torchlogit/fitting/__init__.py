"""Fitting layer: the problem spec, the one engine, and its result.

``prepare`` (data layer) -> :class:`FitSpec` + :func:`fit` -> :class:`FitResult` -> fitted
attributes. Estimators, ``l1_min_c``, the distributed fit and the command line all fit here.
"""

from ..solvers import check_alias
from ._engine import (
    SeparableDataWarning,
    build_objective,
    build_penalty,
    check_solver,
    fit,
    min_margin,
    resolve_tol,
)
from ._online import fit_online
from ._penalty_api import PENALTY_DEPRECATED, effective_penalty, resolve_penalty
from ._result import FitResult, centre_multinomial, coefficient_attributes
from ._spec import FitSpec, validate_bounds, validate_penalty_factor

__all__ = [
    "PENALTY_DEPRECATED",
    "FitResult",
    "FitSpec",
    "SeparableDataWarning",
    "build_objective",
    "build_penalty",
    "centre_multinomial",
    "check_alias",
    "check_solver",
    "coefficient_attributes",
    "effective_penalty",
    "fit",
    "fit_online",
    "min_margin",
    "resolve_penalty",
    "resolve_tol",
    "validate_bounds",
    "validate_penalty_factor",
]

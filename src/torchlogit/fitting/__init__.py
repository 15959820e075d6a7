"""Fitting layer: the problem spec, the one engine, and its result.

``prepare`` (data layer) -> :class:`FitSpec` + :func:`fit` -> :class:`FitResult` -> fitted
attributes. Estimators, ``l1_min_c``, the distributed fit and the command line all fit here.
"""

from ._engine import (
    SeparableDataWarning,
    build_objective,
    build_penalty,
    check_solver,
    fit,
    min_margin,
)
from ._online import fit_online
from ._path import CVPaths, cross_validate, fit_path, fold_training, min_C, null_model
from ._result import FitResult, centre_multinomial, coefficient_attributes
from ._spec import FitSpec, validate_bounds, validate_penalty_factor

__all__ = [
    "CVPaths",
    "FitResult",
    "FitSpec",
    "SeparableDataWarning",
    "build_objective",
    "build_penalty",
    "centre_multinomial",
    "check_solver",
    "coefficient_attributes",
    "cross_validate",
    "fit",
    "fit_online",
    "fit_path",
    "fold_training",
    "min_C",
    "min_margin",
    "null_model",
    "validate_bounds",
    "validate_penalty_factor",
]

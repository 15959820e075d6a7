"""Fitting layer: the problem spec, the one engine, and its result.

``prepare`` (data layer) -> :class:`FitSpec` + :func:`fit` -> :class:`FitResult` -> fitted
attributes. Estimators, ``l1_min_c``, the distributed fit and the command line all fit here.
Inference (:func:`inference_moments`, :func:`covariance`, the tables and tests) reads the
same prepared data at the fitted coefficients.
"""

from ..solvers import check_alias
from ._covariance import COV_TYPES, covariance
from ._engine import (
    NonFiniteModelError,
    SeparableDataWarning,
    build_objective,
    build_penalty,
    check_solver,
    fit,
    min_margin,
    resolve_tol,
)
from ._inference import InferenceMoments, encode_groups, inference_moments
from ._inference_tables import (
    ChiSquareTest,
    InferenceResult,
    coefficient_table,
    likelihood_ratio_test,
    null_loglik,
    summary_text,
    wald_test,
)
from ._online import fit_online
from ._path import (
    CVPaths,
    check_folds,
    cross_validate,
    cv_choices,
    fit_path,
    fold_training,
    min_C,
    null_model,
)
from ._penalty_api import PENALTY_DEPRECATED, effective_penalty, resolve_penalty
from ._result import FitResult, centre_multinomial, coefficient_attributes
from ._screening import fit_screened
from ._spec import FitSpec, validate_bounds, validate_penalty_factor

__all__ = [
    "CVPaths",
    "cv_choices",
    "COV_TYPES",
    "ChiSquareTest",
    "InferenceMoments",
    "InferenceResult",
    "coefficient_table",
    "covariance",
    "encode_groups",
    "inference_moments",
    "likelihood_ratio_test",
    "null_loglik",
    "summary_text",
    "wald_test",
    "PENALTY_DEPRECATED",
    "FitResult",
    "FitSpec",
    "NonFiniteModelError",
    "SeparableDataWarning",
    "build_objective",
    "build_penalty",
    "centre_multinomial",
    "check_alias",
    "check_folds",
    "check_solver",
    "coefficient_attributes",
    "cross_validate",
    "effective_penalty",
    "fit",
    "fit_online",
    "fit_path",
    "fit_screened",
    "fold_training",
    "min_C",
    "min_margin",
    "null_model",
    "resolve_penalty",
    "resolve_tol",
    "validate_bounds",
    "validate_penalty_factor",
]

"""The solvers the harness runs: torchlogit and its peers, each optional.

A runner is a name, the import it needs, a tolerance ladder and a ``fit(X, y, problem, tol)``
that goes from the user's arrays to a fitted model and returns ``(coef (m, d), intercept (m,),
n_iter, extra)`` in scikit-learn's parametrisation. A missing import, or a problem a runner
does not support, is reported in the table rather than stopping the run.

Objective scalings (all equal to scikit-learn's ``C sum logloss + r`` divided by ``C n``):

- scikit-learn: as is (``l1_ratio`` 0 = L2, 1 = L1; ``penalty`` is deprecated in 1.8+).
- glum: ``1/(2n) sum deviance + alpha (l1_ratio |w|_1 + (1-l1_ratio)/2 |w|^2)`` with the
  binomial deviance ``2 logloss``: ``alpha = 1 / (C n)``.
- skglm ``SparseLogisticRegression``: ``1/n sum logloss + alpha (l1_ratio |w|_1 +
  (1-l1_ratio)/2 |w|^2)``: ``alpha = 1 / (C n)``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np


class NotSupported(Exception):
    """The runner cannot solve this problem (reported, not fatal)."""


@dataclass(frozen=True)
class Runner:
    name: str
    module: str  # the import that must succeed
    fit: Callable  # (X, y, problem, tol) -> (coef, intercept, n_iter, extra: dict)
    tols: tuple[float, ...]  # tried loosest first until the target is reached
    is_peer: bool = True

    def missing(self) -> str | None:
        """Why the runner cannot run here (a missing import), or None."""
        try:
            importlib.import_module(self.module)
        except Exception as exc:  # ImportError, or a broken install
            return f"not installed ({type(exc).__name__}: {exc})"
        return None


def _sklearn(solver: str, max_iter: int):
    def fit(X, y, problem, tol):
        from sklearn.linear_model import LogisticRegression

        if problem.n_classes > 2 and solver == "liblinear":
            raise NotSupported("liblinear is one-vs-rest for more than two classes")
        if problem.penalty != "l2" and solver in ("lbfgs", "newton-cholesky"):
            raise NotSupported(f"{solver} handles only L2")
        clf = LogisticRegression(
            C=problem.C,
            l1_ratio=problem.l1_fraction,
            solver=solver,
            tol=tol,
            max_iter=max_iter,
        )
        clf.fit(X, y)
        extra = {"hit_max_iter": int(np.max(clf.n_iter_)) >= max_iter}
        if solver == "liblinear":
            extra["note"] = "penalises the intercept"
        return clf.coef_, clf.intercept_, int(np.max(clf.n_iter_)), extra

    return fit


def _glum_fit(X, y, problem, tol):
    from glum import GeneralizedLinearRegressor

    if problem.n_classes > 2:
        raise NotSupported("glum has no multinomial family")
    model = GeneralizedLinearRegressor(
        family="binomial",
        alpha=1.0 / (problem.C * X.shape[0]),
        l1_ratio=problem.l1_fraction,
        fit_intercept=True,
        gradient_tol=tol,
        max_iter=1000,
    )
    model.fit(X, y.astype(np.float64))
    extra = {"hit_max_iter": int(model.n_iter_) >= 1000}
    return model.coef_.reshape(1, -1), np.array([model.intercept_]), int(model.n_iter_), extra


def _skglm_fit(X, y, problem, tol):
    from skglm import SparseLogisticRegression

    if problem.n_classes > 2:
        raise NotSupported("skglm's SparseLogisticRegression is binary")
    if problem.penalty == "l2":
        raise NotSupported("SparseLogisticRegression needs an L1 part")
    model = SparseLogisticRegression(
        alpha=1.0 / (problem.C * X.shape[0]),
        l1_ratio=problem.l1_fraction,
        tol=tol,
        max_iter=50,
        fit_intercept=True,
    )
    model.fit(X, y)
    coef = np.asarray(model.coef_).reshape(1, -1)
    intercept = np.atleast_1d(np.asarray(model.intercept_, dtype=float))
    return coef, intercept, int(getattr(model, "n_iter_", -1)), {}


def _torchlogit(solver: str):
    def fit(X, y, problem, tol):
        from torchlogit import LogisticRegression

        if problem.sparse:
            import scipy.sparse as sp

            if sp.issparse(X) and not getattr(
                LogisticRegression().__sklearn_tags__().input_tags, "sparse", False
            ):
                raise NotSupported("not supported yet: sparse X")
        clf = LogisticRegression(
            C=problem.C,
            l1_ratio=problem.l1_fraction,  # scikit-learn 1.9's API: no deprecated penalty=
            solver=solver,
            tol=tol,
            max_iter=1000,
        )
        try:
            clf.fit(X, y)
        except ValueError as exc:
            if "solver" in str(exc):
                raise NotSupported(f"not supported yet: {exc}") from exc
            raise
        extra = {
            "passes": getattr(clf, "n_passes_", None),
            "solver": clf.solver_,
            "hit_max_iter": int(clf.n_iter_[0]) >= 1000,
        }
        return clf.coef_, clf.intercept_, int(clf.n_iter_[0]), extra

    return fit


# torchlogit's top-level import is lazy (a fast command line): its runners' import is the
# estimators (torch included), done by Runner.missing() before any timed fit, as every peer's
# import is, so that no fit's time includes importing torch (~2 s on the 2-core machine).
_TL = "torchlogit.estimators"

RUNNERS: dict[str, Runner] = {
    r.name: r
    for r in [
        Runner("torchlogit", _TL, _torchlogit("auto"), (1e-4, 1e-6, 1e-8), False),
        Runner("torchlogit-lbfgs", _TL, _torchlogit("lbfgs"), (1e-5, 1e-7, 1e-9), False),
        Runner("torchlogit-newton", _TL, _torchlogit("newton"), (1e-4, 1e-6, 1e-8), False),
        Runner("sklearn-lbfgs", "sklearn", _sklearn("lbfgs", 500), (1e-4, 1e-6, 1e-8, 1e-10)),
        Runner(
            "sklearn-newton-cholesky",
            "sklearn",
            _sklearn("newton-cholesky", 100),
            (1e-4, 1e-6, 1e-8),
        ),
        Runner("sklearn-liblinear", "sklearn", _sklearn("liblinear", 1000), (1e-4, 1e-6, 1e-8)),
        Runner("sklearn-saga", "sklearn", _sklearn("saga", 1000), (1e-4, 1e-6)),
        Runner("glum", "glum", _glum_fit, (1e-4, 1e-6, 1e-8)),
        Runner("skglm", "skglm", _skglm_fit, (1e-4, 1e-6, 1e-8)),
    ]
}

# The tight fit that fixes the best objective, per problem (an independent solver where one
# is fast enough; the best objective is the minimum over it and every other fit of the run).
REFERENCE: dict[str, tuple[str, float]] = {
    "B1": ("sklearn-newton-cholesky", 1e-10),
    "B2": ("sklearn-newton-cholesky", 1e-10),
    "B3": ("torchlogit-newton", 1e-11),
    "B4": ("skglm", 1e-10),
    "B5": ("glum", 1e-10),
}

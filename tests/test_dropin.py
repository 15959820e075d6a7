"""torchlogit as a drop-in for scikit-learn 1.9's LogisticRegression (issue #14, #12's tol).

Every reference is scikit-learn itself: its warnings and errors for the same parameters, its
exact solver (``newton-cholesky`` at ``tol=1e-12``), its meta-estimators run on its own class.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from sklearn.datasets import load_breast_cancer, load_digits, load_iris, load_wine
from sklearn.exceptions import ConvergenceWarning
from sklearn.feature_selection import SelectFromModel
from sklearn.linear_model import LogisticRegression as SkLR
from sklearn.model_selection import GridSearchCV
from sklearn.preprocessing import StandardScaler

from torchlogit import LogisticRegression

IRIS_X, IRIS_Y = load_iris(return_X_y=True)
IRIS_XS = StandardScaler().fit_transform(IRIS_X)


def _record(make, X, y):
    """``(warnings as (category, message) set, error message or None)`` of ``make().fit``."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            make().fit(X, y)
            error = None
        except ValueError as exc:
            error = str(exc)
    seen = {
        (w.category.__name__, str(w.message))
        for w in caught
        if not issubclass(w.category, ConvergenceWarning)
    }
    return seen, error


PENALTY_CASES = [
    dict(),
    dict(l1_ratio=1.0, C=0.1),
    dict(l1_ratio=0.5),
    dict(C=np.inf),
    dict(l1_ratio=None),
    dict(penalty="l2"),
    dict(penalty="l1", C=0.5),
    dict(penalty="l1", l1_ratio=0.5),
    dict(penalty="l2", l1_ratio=0.3),
    dict(penalty="elasticnet", l1_ratio=0.4),
    dict(penalty="elasticnet", l1_ratio=None),
    dict(penalty=None),
    dict(penalty=None, C=4.0),
]


@pytest.mark.parametrize("params", PENALTY_CASES, ids=str)
def test_penalty_api_warns_and_errs_like_sklearn(params):
    """The 1.8+ penalty API: the same warnings, errors and coefficients as scikit-learn's."""
    X, y = IRIS_XS, (IRIS_Y == 1).astype(int)  # not separable: C=inf has an optimum
    kw = dict(solver="saga", max_iter=10_000, tol=1e-10)
    theirs = _record(lambda: SkLR(**kw, **params), X, y)
    ours = _record(lambda: LogisticRegression(**kw, **params), X, y)
    assert ours == theirs
    if theirs[1] is None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            a = LogisticRegression(**kw, **params).fit(X, y)
            b = SkLR(**kw, **params).fit(X, y)
        np.testing.assert_allclose(a.coef_, b.coef_, atol=2e-5)


@pytest.mark.parametrize(
    "params",
    [
        dict(solver="lbfgs", l1_ratio=1.0),
        dict(solver="newton-cholesky", l1_ratio=0.5),
        dict(solver="sag", l1_ratio=1.0),
        dict(solver="liblinear", l1_ratio=0.5),
        dict(solver="liblinear", C=np.inf),
        dict(solver="lbfgs", dual=True),
        dict(solver="saga", dual=True),
        dict(solver="liblinear", dual=True, l1_ratio=1.0),
        dict(solver="liblinear"),  # three classes
    ],
    ids=str,
)
def test_solver_aliases_refuse_what_sklearn_refuses(params):
    y = IRIS_Y if params == dict(solver="liblinear") else (IRIS_Y == 1).astype(int)
    theirs = _record(lambda: SkLR(**params), IRIS_XS, y)[1]
    ours = _record(lambda: LogisticRegression(**params), IRIS_XS, y)[1]
    assert theirs is not None
    assert ours is not None and ours.startswith(theirs.split(" (")[0].rstrip("."))


@pytest.mark.parametrize(
    ("solver", "params", "ran"),
    [
        ("newton-cholesky", {}, "newton"),
        ("newton-cg", {}, "newton-cg"),
        ("lbfgs", {}, "lbfgs"),
        ("sag", {}, "newton"),
        ("saga", {}, "newton"),
        ("saga", dict(l1_ratio=1.0, C=0.5), "cd"),
        ("liblinear", dict(l1_ratio=1.0, C=0.5), "cd"),
        ("liblinear", dict(dual=True), "newton"),
    ],
)
def test_solver_aliases_reach_sklearns_optimum(solver, params, ran):
    X, y = IRIS_XS, (IRIS_Y > 0).astype(int)
    ours = LogisticRegression(solver=solver, tol=1e-10, max_iter=1000, **params).fit(X, y)
    assert ours.solver_ == ran
    ref_params = {k: v for k, v in params.items() if k != "dual"}
    ref_solver = "saga" if params.get("l1_ratio") else "newton-cholesky"
    ref = SkLR(solver=ref_solver, tol=1e-12, max_iter=100_000, **ref_params).fit(X, y)
    np.testing.assert_allclose(ours.coef_, ref.coef_, atol=1e-5)
    np.testing.assert_allclose(ours.intercept_, ref.intercept_, atol=1e-5)


@pytest.mark.parametrize("n_classes", [2, 3])
def test_written_coefficients_drive_predictions(n_classes):
    """Reassigned and in-place-edited ``coef_`` / ``intercept_`` are what predicts."""
    y = IRIS_Y if n_classes == 3 else (IRIS_Y > 0).astype(int)
    ref = SkLR(C=0.3).fit(IRIS_XS, y)
    ours = LogisticRegression(C=5.0).fit(IRIS_XS, y)
    ours.coef_ = ref.coef_.copy()
    ours.intercept_ = ref.intercept_.copy()
    np.testing.assert_allclose(ours.predict_proba(IRIS_XS), ref.predict_proba(IRIS_XS), rtol=1e-12)
    ref.coef_[:, 1] += 0.7
    ref.intercept_[0] -= 0.4
    ours.coef_[:, 1] += 0.7  # in place, on the same numbers
    ours.intercept_[0] -= 0.4
    np.testing.assert_allclose(
        ours.decision_function(IRIS_XS), ref.decision_function(IRIS_XS), rtol=1e-12
    )
    np.testing.assert_allclose(ours.coef_tensor_[:, :4].cpu().numpy(), ref.coef_)


def test_written_coefficients_seed_a_warm_start():
    ref = SkLR(solver="newton-cholesky", tol=1e-12).fit(IRIS_XS, IRIS_Y)
    ours = LogisticRegression(warm_start=True, max_iter=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ours.fit(IRIS_XS, IRIS_Y)
        ours.coef_, ours.intercept_ = ref.coef_.copy(), ref.intercept_.copy()
        ours.fit(IRIS_XS, IRIS_Y)  # max_iter=0: the start is the answer
    np.testing.assert_allclose(ours.coef_, ref.coef_, atol=1e-12)


def test_sparsify_densify_keep_predictions():
    ref = SkLR(l1_ratio=1.0, C=0.1, solver="saga", tol=1e-10, max_iter=100_000)
    ref.fit(IRIS_XS, IRIS_Y)
    ours = LogisticRegression(l1_ratio=1.0, C=0.1).fit(IRIS_XS, IRIS_Y)
    dense = ours.decision_function(IRIS_XS)
    assert sp.issparse(ours.sparsify().coef_)
    np.testing.assert_allclose(ours.decision_function(IRIS_XS), dense, rtol=1e-12)
    assert isinstance(ours.densify().coef_, np.ndarray)
    np.testing.assert_allclose(ours.decision_function(IRIS_XS), dense, rtol=1e-12)
    np.testing.assert_allclose(dense, ref.decision_function(IRIS_XS), atol=1e-5)


def test_select_from_model_and_grid_search_over_l1_ratio():
    X, y = load_wine(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    ours = SelectFromModel(LogisticRegression(l1_ratio=1.0, C=0.05)).fit(X, y)
    saga = dict(solver="saga", tol=1e-10, max_iter=100_000)
    ref = SelectFromModel(SkLR(l1_ratio=1.0, C=0.05, **saga)).fit(X, y)
    assert 0 < ref.get_support().sum() < X.shape[1]
    np.testing.assert_array_equal(ours.get_support(), ref.get_support())
    grid = {"l1_ratio": [0.0, 0.5, 1.0], "C": [0.05, 1.0]}
    g_ours = GridSearchCV(LogisticRegression(max_iter=1000), grid).fit(X, y)
    g_ref = GridSearchCV(SkLR(**saga), grid).fit(X, y)
    assert g_ours.best_params_ == g_ref.best_params_
    np.testing.assert_allclose(
        g_ours.cv_results_["mean_test_score"], g_ref.cv_results_["mean_test_score"], atol=0.01
    )


def _datasets():
    for name, load in [
        ("breast_cancer", load_breast_cancer),
        ("iris", load_iris),
        ("digits", load_digits),
        ("wine", load_wine),
    ]:
        X, y = load(return_X_y=True)
        yield pytest.param(X, y, id=f"{name}-raw")
        yield pytest.param(StandardScaler().fit_transform(X), y, id=f"{name}-scaled")


@pytest.mark.parametrize(("X", "y"), list(_datasets()))
def test_default_tol_lands_within_1e6_of_the_exact_coefficients(X, y):
    """#12: the default (``tol=None``: the solver's ``default_tol``) is within 1e-6 relative
    (max|w - w*| / max|w*|, intercept included) of scikit-learn's exact solver at 1e-12."""
    ref = SkLR(solver="newton-cholesky", tol=1e-12, max_iter=1000).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        ours = LogisticRegression().fit(X, y)
    w = np.column_stack([ours.coef_, ours.intercept_])
    w_ref = np.column_stack([ref.coef_, ref.intercept_])
    assert np.abs(w - w_ref).max() / np.abs(w_ref).max() <= 1e-6
    assert ours.tol_ == 1e-8 and ours.solver_ == "newton"


@pytest.mark.parametrize("solver", ["newton", "newton-cg", "lbfgs", "cd", "fista"])
def test_multinomial_centring_is_the_same_for_every_solver(solver):
    """L2: the exact optimum's classes sum to zero in every column (scikit-learn's too)."""
    ours = LogisticRegression(C=150, solver=solver, max_iter=5000).fit(IRIS_XS, IRIS_Y)
    ref = SkLR(C=150, solver="newton-cholesky", tol=1e-12).fit(IRIS_XS, IRIS_Y)
    assert np.abs(ref.coef_.sum(axis=0)).max() < 1e-10
    assert np.abs(ours.coef_.sum(axis=0)).max() < 1e-12 * np.abs(ours.coef_).max()
    assert abs(ours.intercept_.sum()) < 1e-12 * np.abs(ours.intercept_).max()


def test_stalled_progress_stops_early_with_a_message():
    """float32 with tol below float32 precision: stop once nothing moves, not at max_iter."""
    X = IRIS_X.astype(np.float32)
    with pytest.warns(ConvergenceWarning, match="representable in torch.float32"):
        ours = LogisticRegression(C=1e-2, tol=1e-12, max_iter=500).fit(X, IRIS_Y)
    assert ours.n_iter_[0] < 50
    ref = SkLR(C=1e-2, solver="newton-cholesky", tol=1e-12).fit(IRIS_X, IRIS_Y)
    np.testing.assert_allclose(ours.coef_, ref.coef_, atol=1e-5)


def test_a_stop_at_the_working_precision_is_convergence_under_sklearns_lbfgs():
    """scikit-learn's lbfgs (scipy's L-BFGS-B) calls a relative decrease of f below its
    factr * eps converged: under that name the same stop gives no ConvergenceWarning (its
    array-API float32 tests ask for tol=1e-12 with warnings as errors); the coefficients are
    those of the float64 optimum to float32 precision."""
    X = IRIS_X.astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        ours = LogisticRegression(C=1e-2, solver="lbfgs", tol=1e-12, max_iter=500).fit(X, IRIS_Y)
    assert ours.n_iter_[0] < 100
    ref = SkLR(C=1e-2, solver="newton-cholesky", tol=1e-12).fit(IRIS_X, IRIS_Y)
    np.testing.assert_allclose(ours.coef_, ref.coef_, atol=1e-5)


def test_n_jobs_and_random_state():
    before = torch.get_num_threads()
    LogisticRegression(n_jobs=1).fit(IRIS_XS, IRIS_Y)
    assert torch.get_num_threads() == before
    kw = dict(solver="sgd", max_iter=3, C=1.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        a = LogisticRegression(random_state=3, **kw).fit(IRIS_XS, IRIS_Y).coef_
        b = LogisticRegression(random_state=3, **kw).fit(IRIS_XS, IRIS_Y).coef_
        c = LogisticRegression(random_state=4, **kw).fit(IRIS_XS, IRIS_Y).coef_
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    ref = SkLR(solver="newton-cholesky", tol=1e-12).fit(IRIS_XS, IRIS_Y)
    ours = LogisticRegression(intercept_scaling=100.0).fit(IRIS_XS, IRIS_Y)
    np.testing.assert_allclose(ours.coef_, ref.coef_, atol=1e-6)


def test_cli_penalty_flag_speaks_the_new_api():
    from torchlogit.cli._fit import penalty_params

    assert penalty_params("l1", 1.0, None) == {"C": 1.0, "l1_ratio": 1.0}
    assert penalty_params("none", 3.0, None) == {"C": np.inf, "l1_ratio": 0.0}
    with warnings.catch_warnings():
        warnings.simplefilter("error", FutureWarning)
        LogisticRegression(**penalty_params("elasticnet", 0.5, 0.3)).fit(IRIS_XS, IRIS_Y)

"""Agreement with scikit-learn's LogisticRegression on the same data and the same objective.

For every problem both libraries are run to tight tolerances. The test computes
scikit-learn's objective itself (NumPy / SciPy, no torchlogit code):

    F(W, b) = C * sum_i s_i * logloss(y_i, W x_i + b) + 1/2 ||W||^2

with ``s_i`` the sample weight times the class weight (``"balanced"``:
``sum(s) / (K * sum_{y_i = k} s_i)``), one logit and the sigmoid for two classes and the full
softmax for more. torchlogit's solution must reach an objective no larger than
scikit-learn's (up to rounding of the objective itself) and the coefficients must agree to a
relative 1e-5 in float64.
"""

from __future__ import annotations

import os
import warnings

import numpy as np
import pytest
from scipy.special import log_expit, logsumexp
from sklearn import datasets
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression as SkLogisticRegression
from sklearn.preprocessing import StandardScaler

from torchlogit import LogisticRegression

COEF_RTOL = 1e-5
# The objective values are sums of up to ~2000 terms of order one: rounding alone moves them
# by ~1e-13 relative, so "<=" is checked with this much slack.
OBJECTIVE_SLACK = 1e-11
WORST = {}  # test id -> worst relative coefficient difference (printed by the summary test)


def _load(name):
    loader = {
        "breast_cancer": datasets.load_breast_cancer,
        "iris": datasets.load_iris,
        "wine": datasets.load_wine,
        "digits": datasets.load_digits,
    }[name]
    X, y = loader(return_X_y=True)
    if name == "digits":
        X = X[:, X.std(axis=0) > 0]  # a few pixels are always blank
    return StandardScaler().fit_transform(X), y


def _generated(kind):
    if kind == "gen_binary":
        X, y = datasets.make_classification(
            n_samples=400, n_features=12, n_informative=6, n_redundant=0, flip_y=0.1, random_state=1
        )
    else:
        X, y = datasets.make_classification(
            n_samples=500,
            n_features=10,
            n_informative=6,
            n_redundant=0,
            n_classes=4,
            n_clusters_per_class=1,
            flip_y=0.1,
            random_state=2,
        )
    # Uncentred, unscaled columns: the intercept matters and the problem is not trivially
    # conditioned.
    X = X * np.linspace(0.5, 3.0, X.shape[1]) + 1.0
    return X, y


def load_problem(name):
    return _load(name) if not name.startswith("gen_") else _generated(name)


def effective_weights(y, sample_weight, class_weight):
    """``s_i``: sample weight times class weight, computed here independently."""
    s = np.ones(y.shape[0]) if sample_weight is None else np.asarray(sample_weight, float)
    if class_weight is None:
        return s
    classes = np.unique(y)
    if class_weight == "balanced":
        counts = np.array([s[y == c].sum() for c in classes])
        cw = s.sum() / (len(classes) * counts)
        table = dict(zip(classes, cw, strict=True))
    else:
        table = {c: class_weight.get(c, 1.0) for c in classes}
    return s * np.array([table[c] for c in y])


def sklearn_objective(coef, intercept, X, y, s, C, penalized=True):
    """scikit-learn's primal objective ``C sum s_i logloss_i + 1/2 ||W||^2`` (float64)."""
    coef = np.asarray(coef, np.float64)
    intercept = np.asarray(intercept, np.float64)
    classes = np.unique(y)
    raw = X @ coef.T + intercept
    if len(classes) == 2:
        z = raw[:, 0]
        pos = y == classes[1]
        logloss = -np.where(pos, log_expit(z), log_expit(-z))
    else:
        idx = np.searchsorted(classes, y)
        logloss = logsumexp(raw, axis=1) - raw[np.arange(len(y)), idx]
    value = C * np.sum(s * logloss)
    if penalized:
        value += 0.5 * np.sum(coef * coef)
    return value


def fit_sklearn(X, y, *, sample_weight=None, penalty="l2", **params):
    """scikit-learn's Newton-Cholesky to ``tol=1e-12`` (its most accurate solver here)."""
    if penalty is None:
        params["C"] = np.inf  # scikit-learn >= 1.8 spells "no penalty" this way
    sk = SkLogisticRegression(solver="newton-cholesky", tol=1e-12, max_iter=1000, **params)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)  # the reference must converge
        return sk.fit(X, y, sample_weight=sample_weight)


def fit_torchlogit(X, y, *, sample_weight=None, solver, **params):
    tl = LogisticRegression(solver=solver, tol=1e-10, max_iter=2000, **params)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no ConvergenceWarning either
        return tl.fit(X, y, sample_weight=sample_weight)


def full_coef(model):
    return np.hstack([model.coef_, model.intercept_[:, None]])


def relative_difference(a, b):
    """``max |a - b| / max |b|``: the coefficients' relative error, normwise."""
    return float(np.max(np.abs(a - b)) / np.max(np.abs(b)))


_SKLEARN_FITS = {}


def check_agreement(request, X, y, *, solver, sample_weight=None, C=1.0, **params):
    # Both solvers of one problem compare against one scikit-learn fit (ids end in -solver]).
    key = request.node.name.replace(f"-{solver}]", "]")
    if key not in _SKLEARN_FITS:
        _SKLEARN_FITS[key] = fit_sklearn(X, y, sample_weight=sample_weight, C=C, **params)
    sk = _SKLEARN_FITS[key]
    tl = fit_torchlogit(X, y, sample_weight=sample_weight, solver=solver, C=C, **params)
    s = effective_weights(y, sample_weight, params.get("class_weight"))
    f_sk = sklearn_objective(sk.coef_, sk.intercept_, X, y, s, C)
    f_tl = sklearn_objective(tl.coef_, tl.intercept_, X, y, s, C)
    assert f_tl <= f_sk + OBJECTIVE_SLACK * abs(f_sk), (f_tl, f_sk)

    assert tl.coef_.dtype == np.float64
    np.testing.assert_array_equal(tl.classes_, sk.classes_)
    a, b = full_coef(tl), full_coef(sk)
    rel = relative_difference(a, b)
    WORST[request.node.name] = rel
    assert rel <= COEF_RTOL, rel
    # Entry by entry too, with an absolute floor for entries that are ~0.
    np.testing.assert_allclose(a, b, rtol=COEF_RTOL, atol=COEF_RTOL * np.max(np.abs(b)))
    return tl, sk


DATASETS = ["breast_cancer", "iris", "wine", "digits", "gen_binary", "gen_multi"]
SOLVERS = ["newton", "lbfgs"]


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("name", DATASETS)
def test_agrees_with_sklearn(request, name, fit_intercept, solver):
    X, y = load_problem(name)
    check_agreement(request, X, y, solver=solver, fit_intercept=fit_intercept, C=0.5)


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("name", ["breast_cancer", "wine", "gen_binary", "gen_multi"])
def test_agrees_with_sklearn_sample_weight(request, name, solver):
    X, y = load_problem(name)
    rng = np.random.default_rng(0)
    sw = rng.uniform(0.0, 3.0, size=y.shape[0])
    sw[rng.choice(y.shape[0], size=10, replace=False)] = 0.0  # zero weights are allowed
    check_agreement(request, X, y, solver=solver, sample_weight=sw)


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize(
    "name, class_weight",
    [
        ("breast_cancer", "balanced"),
        ("breast_cancer", {0: 3.0, 1: 0.5}),
        ("iris", "balanced"),
        ("gen_multi", {0: 2.0, 2: 0.25}),  # a class missing from the dict keeps weight 1
    ],
)
def test_agrees_with_sklearn_class_weight(request, name, class_weight, fit_intercept, solver):
    X, y = load_problem(name)
    check_agreement(
        request, X, y, solver=solver, class_weight=class_weight, fit_intercept=fit_intercept
    )


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("name", ["wine", "gen_binary"])
def test_agrees_with_sklearn_class_and_sample_weight(request, name, solver):
    X, y = load_problem(name)
    sw = np.random.default_rng(1).integers(1, 4, size=y.shape[0]).astype(float)
    check_agreement(request, X, y, solver=solver, sample_weight=sw, class_weight="balanced")


@pytest.mark.parametrize("solver", SOLVERS)
def test_agrees_with_sklearn_string_labels_and_large_C(request, solver):
    X, y = load_problem("gen_multi")
    labels = np.array(["cat", "dog", "eel", "fox"])[y]
    tl, _ = check_agreement(request, X, labels, solver=solver, C=100.0)
    assert set(tl.predict(X)) <= set(labels)


@pytest.mark.parametrize("solver", SOLVERS)
def test_agrees_with_sklearn_no_penalty_binary(request, solver):
    # Noisy labels (flip_y): not separable, so the unpenalised optimum is finite and unique.
    X, y = load_problem("gen_binary")
    sk = fit_sklearn(X, y, penalty=None)
    tl = fit_torchlogit(X, y, C=np.inf, solver=solver)
    s = np.ones(y.shape[0])
    f_sk = sklearn_objective(sk.coef_, sk.intercept_, X, y, s, 1.0, penalized=False)
    f_tl = sklearn_objective(tl.coef_, tl.intercept_, X, y, s, 1.0, penalized=False)
    assert f_tl <= f_sk + OBJECTIVE_SLACK * abs(f_sk)
    rel = relative_difference(full_coef(tl), full_coef(sk))
    WORST[request.node.name] = rel
    assert rel <= COEF_RTOL


# scikit-learn's Newton-Cholesky meets the softmax's singular Hessian and says it continues
# with its L-BFGS (still to tol=1e-12).
@pytest.mark.filterwarnings("ignore:The inner solver of NewtonCholeskySolver")
@pytest.mark.parametrize("solver", SOLVERS)
def test_agrees_with_sklearn_no_penalty_multinomial(request, solver):
    # Without a penalty the softmax leaves a shift common to all classes free: compare the
    # representatives whose coefficients sum to zero over the classes (torchlogit reports it).
    X, y = load_problem("gen_multi")
    sk = fit_sklearn(X, y, penalty=None)
    tl = fit_torchlogit(X, y, C=np.inf, solver=solver)
    a = full_coef(tl)
    np.testing.assert_allclose(a.sum(axis=0), 0.0, atol=1e-10 * np.abs(a).max())
    b = full_coef(sk)
    b = b - b.mean(axis=0)
    rel = relative_difference(a, b)
    WORST[request.node.name] = rel
    assert rel <= COEF_RTOL


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("name", ["breast_cancer", "wine"])
def test_float32_input_gives_float32_close_to_float64(name, solver):
    X, y = load_problem(name)
    ref = fit_torchlogit(X, y, solver=solver)
    # float32 resolves the gradient to ~1e-8 here; with tol=1e-7 the distance to the float64
    # optimum is ~1e-5 relative (it is ~1e-3 at the default tol=1e-4, which is ~cond(H) *
    # tol), so 1e-4 is the bound.
    tl = LogisticRegression(solver=solver, tol=1e-7, max_iter=2000)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        tl.fit(X.astype(np.float32), y)
    assert tl.coef_.dtype == np.float32
    assert tl.intercept_.dtype == np.float32
    assert tl.predict_proba(X.astype(np.float32)).dtype == np.float32
    assert relative_difference(full_coef(tl), full_coef(ref)) <= 1e-4
    # dtype="float32" casts float64 input the same way.
    tl64 = LogisticRegression(solver=solver, tol=1e-7, max_iter=2000, dtype="float32")
    tl64.fit(X, y)
    assert tl64.coef_.dtype == np.float32
    assert relative_difference(full_coef(tl64), full_coef(ref)) <= 1e-4


def test_zz_report_worst_agreement(capsys):
    """Print the worst relative coefficient difference seen in this module (run last)."""
    if not WORST:
        pytest.skip("no agreement test ran in this session")
    name, worst = max(WORST.items(), key=lambda kv: kv[1])
    with capsys.disabled():
        if os.environ.get("TORCHLOGIT_SHOW_AGREEMENT"):
            for k, v in sorted(WORST.items(), key=lambda kv: kv[1]):
                print(f"{v:.2e}  {k}")
        print(f"\nworst coefficient agreement with scikit-learn: {worst:.2e} ({name})")
    assert worst <= COEF_RTOL

"""Mathematical properties of the objective and the fitted model.

- the objective's value is scikit-learn's divided by ``C S``; its gradient, Hessian and
  Hessian-vector product match central finite differences (float64);
- a column of ones without intercept is the intercept; integer sample weights are repeated
  rows; swapping binary labels negates the coefficients; predictions do not depend on how the
  rows are ordered or batched; multinomial intercepts sum to zero;
- logits of +-1e20 keep loss, gradient and probabilities finite;
- separable data without penalty and too few iterations give finite coefficients and the
  warnings that say so.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from scipy.special import log_expit, logsumexp
from sklearn.datasets import make_classification
from sklearn.exceptions import ConvergenceWarning

from _penalty_api import penalty_params
from torchlogit import LogisticRegression, SeparableDataWarning
from torchlogit.data import InMemoryData
from torchlogit.objective import (
    BinomialLoss,
    ElasticNetPenalty,
    LinearObjective,
    MultinomialLoss,
    make_loss,
)

SOLVERS = ["newton", "lbfgs"]


def make_problem(n_classes, n_samples=200, n_features=5, seed=0):
    X, y = make_classification(
        n_samples=n_samples,
        n_features=n_features,
        n_informative=min(n_features, 4),
        n_redundant=0,
        n_classes=n_classes,
        n_clusters_per_class=1,
        class_sep=0.7,
        flip_y=0.15,  # noisy, overlapping classes: not separable (checked below)
        random_state=seed,
    )
    return X + 0.5, y


@pytest.mark.parametrize("n_classes", [2, 3, 4])
def test_make_problem_is_not_separable(n_classes):
    X, y = make_problem(n_classes)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        m = tight(C=np.inf).fit(X, y)
    assert m.score(X, y) < 0.95


def tight(**params):
    """A model fitted to near machine precision (for exact equalities)."""
    return LogisticRegression(tol=1e-11, max_iter=500, **params)


def rel(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300))


def full_coef(model):
    return np.hstack([model.coef_, model.intercept_[:, None]])


# --------------------------------------------------------------------------- objective


def build_objective(n_classes, *, fit_intercept, weighted, C=0.7, seed=0):
    X, y = make_problem(n_classes, n_samples=40, n_features=4, seed=seed)
    rng = np.random.default_rng(seed)
    sw = rng.uniform(0.1, 3.0, size=y.shape[0]) if weighted else np.ones(y.shape[0])
    data = InMemoryData(
        torch.from_numpy(X), torch.from_numpy(y.astype(np.int64)), torch.from_numpy(sw)
    )
    S = sw.sum()
    penalty = ElasticNetPenalty(0.0, 1.0 / (C * S), X.shape[1])
    obj = LinearObjective(
        make_loss(n_classes), data, penalty, fit_intercept=fit_intercept, n_features=X.shape[1]
    )
    m, p = obj.coef_shape
    coef = torch.from_numpy(rng.normal(scale=0.7, size=(m, p)))
    return obj, coef, (X, y, sw, C, S)


def numpy_sklearn_objective(coef, X, y, sw, C, fit_intercept):
    """``C sum s_i logloss_i + 1/2 ||W||^2`` in NumPy, for ``coef`` in torchlogit's layout."""
    coef = coef.numpy()
    d = X.shape[1]
    W = coef[:, :d]
    raw = X @ W.T + (coef[:, d] if fit_intercept else 0.0)
    if raw.shape[1] == 1:
        z = raw[:, 0]
        logloss = -np.where(y == 1, log_expit(z), log_expit(-z))
    else:
        logloss = logsumexp(raw, axis=1) - raw[np.arange(len(y)), y]
    return C * np.sum(sw * logloss) + 0.5 * np.sum(W * W)


CASES = [
    pytest.param(
        n_classes, fit_intercept, weighted, id=f"K{n_classes}-b{fit_intercept:d}-w{weighted:d}"
    )
    for n_classes in (2, 3)
    for fit_intercept in (True, False)
    for weighted in (True, False)
]


@pytest.mark.parametrize("n_classes, fit_intercept, weighted", CASES)
def test_value_is_sklearn_objective_over_CS(n_classes, fit_intercept, weighted):
    obj, coef, (X, y, sw, C, S) = build_objective(
        n_classes, fit_intercept=fit_intercept, weighted=weighted
    )
    expected = numpy_sklearn_objective(coef, X, y, sw, C, fit_intercept) / (C * S)
    np.testing.assert_allclose(float(obj.value(coef)), expected, rtol=1e-13)
    f, _ = obj.value_gradient(coef)
    np.testing.assert_allclose(float(f), expected, rtol=1e-13)


def _fd_gradient(obj, coef, h=1e-6):
    g = torch.zeros_like(coef)
    flat = g.view(-1)
    for i in range(coef.numel()):
        e = torch.zeros_like(coef).view(-1)
        e[i] = h
        e = e.view(coef.shape)
        flat[i] = (obj.value(coef + e) - obj.value(coef - e)) / (2 * h)
    return g


def _fd_hessian(obj, coef, h=1e-5):
    n = coef.numel()
    H = torch.zeros(n, n, dtype=coef.dtype)
    for i in range(n):
        e = torch.zeros(n, dtype=coef.dtype)
        e[i] = h
        e = e.view(coef.shape)
        gp = obj.value_gradient(coef + e)[1].reshape(-1)
        gm = obj.value_gradient(coef - e)[1].reshape(-1)
        H[:, i] = (gp - gm) / (2 * h)
    return H


@pytest.mark.parametrize("n_classes, fit_intercept, weighted", CASES)
def test_gradient_matches_finite_differences(n_classes, fit_intercept, weighted):
    obj, coef, _ = build_objective(n_classes, fit_intercept=fit_intercept, weighted=weighted)
    f, g = obj.value_gradient(coef)
    assert g.shape == coef.shape
    # Central differences: truncation ~h^2 = 1e-12, rounding ~eps/h = 2e-10.
    torch.testing.assert_close(g, _fd_gradient(obj, coef), rtol=1e-7, atol=1e-8)


@pytest.mark.parametrize("n_classes, fit_intercept, weighted", CASES)
def test_hessian_and_hessian_product_match_finite_differences(n_classes, fit_intercept, weighted):
    obj, coef, _ = build_objective(n_classes, fit_intercept=fit_intercept, weighted=weighted)
    H_fd = _fd_hessian(obj, coef)
    f, g, H = obj.value_gradient_hessian(coef)
    torch.testing.assert_close(H, H_fd, rtol=1e-6, atol=1e-8)
    torch.testing.assert_close(H, H.T, rtol=0, atol=1e-14)
    f2, g2 = obj.value_gradient(coef)
    torch.testing.assert_close(f, f2, rtol=1e-14, atol=0)
    torch.testing.assert_close(g, g2, rtol=1e-14, atol=1e-16)
    rng = np.random.default_rng(3)
    for _ in range(3):
        v = torch.from_numpy(rng.normal(size=tuple(coef.shape)))
        Hv = obj.hessian_product(coef, v)
        assert Hv.shape == coef.shape
        torch.testing.assert_close(Hv.reshape(-1), H_fd @ v.reshape(-1), rtol=1e-6, atol=1e-8)
        torch.testing.assert_close(Hv.reshape(-1), H @ v.reshape(-1), rtol=1e-12, atol=1e-14)


# --------------------------------------------------------------------------- model properties


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("n_classes", [2, 3])
def test_column_of_ones_equals_fit_intercept(n_classes, solver):
    # Without a penalty the ones column's coefficient *is* the intercept. (With an L2 penalty
    # they differ by design: the intercept is not penalised, the column's coefficient is.)
    X, y = make_problem(n_classes)
    a = tight(C=np.inf, solver=solver).fit(X, y)
    X1 = np.hstack([X, np.ones((X.shape[0], 1))])
    b = tight(C=np.inf, solver=solver, fit_intercept=False).fit(X1, y)
    assert np.all(b.intercept_ == 0)
    np.testing.assert_allclose(b.coef_, full_coef(a), rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("solver", SOLVERS)
def test_column_of_ones_with_tiny_penalty_is_close_to_intercept(solver):
    # A penalty of 1/2 w^2 on the ones column moves the solution by O(1/C): with C = 1e8 the
    # difference is below 1e-6 relative.
    X, y = make_problem(2)
    a = tight(C=1e8, solver=solver).fit(X, y)
    X1 = np.hstack([X, np.ones((X.shape[0], 1))])
    b = tight(C=1e8, solver=solver, fit_intercept=False).fit(X1, y)
    assert rel(b.coef_, full_coef(a)) < 1e-6


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("n_classes", [2, 3])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_integer_sample_weights_equal_repeated_rows(n_classes, dtype, solver):
    X, y = make_problem(n_classes)
    X = X.astype(dtype)
    sw = np.random.default_rng(1).integers(0, 4, size=y.shape[0])  # zeros drop rows
    tol = 1e-11 if dtype == np.float64 else 1e-6
    weighted = LogisticRegression(solver=solver, tol=tol, max_iter=500).fit(X, y, sample_weight=sw)
    repeated = LogisticRegression(solver=solver, tol=tol, max_iter=500).fit(
        np.repeat(X, sw, axis=0), np.repeat(y, sw)
    )
    assert weighted.coef_.dtype == dtype
    # float64: to rounding; float32: to float32's resolution of the optimum (~cond * eps32).
    bound = 1e-9 if dtype == np.float64 else 1e-4
    assert rel(full_coef(weighted), full_coef(repeated)) < bound
    np.testing.assert_allclose(
        weighted.predict_proba(X), repeated.predict_proba(X), rtol=0, atol=bound
    )


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_swapping_binary_labels_negates_coefficients(solver, fit_intercept):
    X, y = make_problem(2)
    a = tight(solver=solver, fit_intercept=fit_intercept).fit(X, y)
    b = tight(solver=solver, fit_intercept=fit_intercept).fit(X, 1 - y)
    np.testing.assert_allclose(b.coef_, -a.coef_, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(b.intercept_, -a.intercept_, rtol=1e-9, atol=1e-12)
    # Relabelling without changing the order of classes_ (strings) gives the same flip.
    labels = np.array(["no", "yes"])
    c = tight(solver=solver, fit_intercept=fit_intercept).fit(X, labels[1 - y])
    np.testing.assert_allclose(c.coef_, b.coef_, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("n_classes", [2, 3])
def test_row_order_and_batching_do_not_change_the_model(n_classes, solver):
    X, y = make_problem(n_classes)
    perm = np.random.default_rng(2).permutation(y.shape[0])
    a = tight(solver=solver).fit(X, y)
    b = tight(solver=solver).fit(X[perm], y[perm])
    assert rel(full_coef(b), full_coef(a)) < 1e-9
    # Predictions of one model: row order and batch boundaries do not matter.
    proba = a.predict_proba(X)
    np.testing.assert_allclose(a.predict_proba(X[perm]), proba[perm], rtol=1e-14, atol=1e-16)
    batched = np.vstack([a.predict_proba(X[i : i + 7]) for i in range(0, X.shape[0], 7)])
    np.testing.assert_allclose(batched, proba, rtol=1e-14, atol=1e-15)
    np.testing.assert_array_equal(
        np.concatenate([a.predict(X[i : i + 7]) for i in range(0, X.shape[0], 7)]), a.predict(X)
    )
    np.testing.assert_allclose(np.exp(a.predict_log_proba(X)), proba, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("penalty", ["l2", None])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_multinomial_coefficients_sum_to_zero_over_classes(solver, penalty, fit_intercept):
    X, y = make_problem(4)
    m = tight(solver=solver, **penalty_params(penalty), fit_intercept=fit_intercept).fit(X, y)
    scale = np.abs(full_coef(m)).max()
    np.testing.assert_allclose(m.intercept_.sum(), 0.0, atol=1e-12 * scale)
    # The gradient of each (penalised or not) column sums to zero over the classes too, so
    # the weights also sum to zero: the representative of the softmax's invariance.
    np.testing.assert_allclose(m.coef_.sum(axis=0), 0.0, atol=1e-10 * scale)


# --------------------------------------------------------------------------- extreme logits


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_binomial_loss_is_finite_for_huge_logits(dtype):
    loss = BinomialLoss()
    raw = torch.tensor([[1e20], [-1e20], [0.0], [50.0], [-50.0]], dtype=dtype)
    for label in (0, 1):
        y = torch.full((raw.shape[0],), label, dtype=torch.int64)
        lo, g = loss.loss_gradient(y, raw)
        assert bool(torch.isfinite(lo).all()) and bool(torch.isfinite(g).all())
        assert bool((lo >= 0).all())
        assert bool(torch.isfinite(loss.hessian_diagonal(raw)).all())
    y1 = torch.ones(raw.shape[0], dtype=torch.int64)
    lo = loss.loss(y1, raw)
    assert float(lo[0]) == 0.0  # right and certain
    assert float(lo[1]) == pytest.approx(1e20, rel=1e-6)  # wrong and certain: loss = |z|
    p = loss.predict_proba(raw)
    assert bool(((p >= 0) & (p <= 1)).all())
    torch.testing.assert_close(p.sum(dim=1), torch.ones(raw.shape[0], dtype=dtype))


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_multinomial_loss_is_finite_for_huge_logits(dtype):
    loss = MultinomialLoss(3)
    raw = torch.tensor(
        [[1e20, -1e20, 0.0], [-1e20, -1e20, -1e20], [1e20, 1e20, -1e20], [0.0, 1.0, 2.0]],
        dtype=dtype,
    )
    y = torch.tensor([1, 0, 2, 0])
    lo, g = loss.loss_gradient(y, raw)
    assert bool(torch.isfinite(lo).all()) and bool(torch.isfinite(g).all())
    assert bool(torch.isfinite(loss.loss(y, raw)).all())
    assert bool(torch.isfinite(loss.gradient(y, raw)).all())
    v = torch.ones_like(raw)
    assert bool(torch.isfinite(loss.hessian_product(raw, v)).all())
    p = loss.predict_proba(raw)
    assert bool(((p >= 0) & (p <= 1)).all())
    torch.testing.assert_close(p.sum(dim=1), torch.ones(raw.shape[0], dtype=dtype))


@pytest.mark.parametrize("n_classes", [2, 3])
def test_predictions_are_finite_for_huge_logits(n_classes):
    X, y = make_problem(n_classes)
    m = LogisticRegression().fit(X, y)
    X_big = X * 1e20  # logits of order 1e20
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow warnings either
        proba = m.predict_proba(X_big)
        log_proba = m.predict_log_proba(X_big)
    assert np.all(np.isfinite(proba)) and np.all((proba >= 0) & (proba <= 1))
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=0, atol=1e-12)
    assert not np.any(np.isnan(log_proba)) and np.all(log_proba <= 0)
    assert np.all(np.isfinite(m.decision_function(X_big)))


# --------------------------------------------------------------------------- warnings


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("n_classes", [2, 3])
def test_separable_data_without_penalty(n_classes, solver):
    X, y = make_classification(
        n_samples=60,
        n_features=3,
        n_informative=2,
        n_redundant=0,
        n_classes=n_classes,
        n_clusters_per_class=1,
        class_sep=4.0,
        flip_y=0,
        random_state=0,
    )
    # make it separable for sure: move the classes apart along their own directions
    X = X + 10.0 * np.eye(3)[y]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        m = LogisticRegression(C=np.inf, solver=solver).fit(X, y)
    assert any(issubclass(w.category, SeparableDataWarning) for w in caught)
    assert any("separable" in str(w.message) for w in caught)
    assert np.all(np.isfinite(m.coef_)) and np.all(np.isfinite(m.intercept_))
    assert m.score(X, y) == 1.0
    proba = m.predict_proba(X)
    assert not np.any(np.isnan(proba))
    # With a penalty the same data give no separability warning.
    with warnings.catch_warnings():
        warnings.simplefilter("error", SeparableDataWarning)
        LogisticRegression(solver=solver).fit(X, y)


@pytest.mark.parametrize("solver", SOLVERS)
def test_convergence_warning_names_the_solver(solver):
    X, y = make_problem(3)
    with pytest.warns(ConvergenceWarning, match=rf"solver '{solver}' did not converge after 1 "):
        m = LogisticRegression(solver=solver, max_iter=1).fit(X, y)
    assert m.n_iter_[0] == 1
    assert not m.converged_
    with pytest.warns(ConvergenceWarning, match="max_iter"):
        LogisticRegression(solver=solver, max_iter=1).fit(X, y)


@pytest.mark.parametrize("solver", SOLVERS)
def test_history_records_every_iteration(solver):
    X, y = make_problem(2)
    m = LogisticRegression(solver=solver).fit(X, y)
    h = m.history_
    assert len(h["objective"]) == m.n_iter_[0] + 1  # the start and every iteration
    assert np.all(np.diff(h["objective"]) <= 1e-15)  # monotone decrease (line search)
    assert h["gradient_norm"][-1] <= m.tol_


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("n_classes", [2, 3])
def test_zero_weight_rows_are_absent_even_when_the_optimum_is_not_unique(n_classes, solver):
    # No penalty and fewer weighted rows than features: many coefficient vectors fit the
    # weighted rows equally well. The solvers must still not let the zero-weight rows (or
    # rounding noise) pick one: the model equals the fit on the positive-weight rows alone,
    # also where it predicts the rows that were left out.
    rng = np.random.default_rng(5)
    X = rng.uniform(size=(16, 24))
    y = np.arange(16) % n_classes
    sw = rng.integers(0, 3, size=16)
    sw[:n_classes] = 1  # every class keeps a row
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SeparableDataWarning)
        weighted = LogisticRegression(C=np.inf, solver=solver).fit(X, y, sample_weight=sw)
        kept = LogisticRegression(C=np.inf, solver=solver).fit(
            np.repeat(X, sw, axis=0), np.repeat(y, sw)
        )
    np.testing.assert_allclose(
        weighted.predict_proba(X), kept.predict_proba(X), rtol=1e-9, atol=1e-12
    )


@pytest.mark.parametrize("n_classes", [2, 3])
def test_C_inf_means_no_penalty(n_classes):
    # scikit-learn >= 1.8 spells "no penalty" C=np.inf; it must be the same fit.
    X, y = make_problem(n_classes)
    a = tight(C=np.inf).fit(X, y)
    b = tight(C=np.inf).fit(X, y)
    np.testing.assert_allclose(full_coef(b), full_coef(a), rtol=1e-10, atol=1e-12)
    Xs = X + 10.0 * np.eye(X.shape[1])[y]  # separable: the warning must come for C=inf too
    with pytest.warns(SeparableDataWarning):
        LogisticRegression(C=np.inf).fit(Xs, y)


def test_tensor_that_requires_grad_trains_without_autograd():
    X, y = make_problem(2)
    Xt = torch.tensor(X, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # torch warns when a grad-tracking tensor is read
        m = tight().fit(Xt, torch.as_tensor(y))
    ref = tight().fit(X, y)
    np.testing.assert_allclose(full_coef(m), full_coef(ref), rtol=1e-12)
    assert Xt.grad is None


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("n_classes", [2, 3])
def test_warm_start_continues_from_the_previous_solution(n_classes, solver):
    X, y = make_problem(n_classes)
    cold = tight(solver=solver).fit(X, y)
    warm = tight(solver=solver, warm_start=True).fit(X, y)
    n_first = warm.n_iter_[0]
    warm.fit(X, y)
    assert warm.n_iter_[0] == 0 < n_first  # already optimal: no iteration needed
    np.testing.assert_allclose(full_coef(warm), full_coef(cold), rtol=1e-10, atol=1e-12)
    # Other labels (binary: other classes_, so a cold start; multinomial: relabelled, so a
    # warm start from a poor point): the fit still reaches the new optimum.
    y2 = (y + 1) % n_classes if n_classes > 2 else np.where(y == 0, 5, 7)
    warm.fit(X, y2)
    ref = tight(solver=solver).fit(X, y2)
    np.testing.assert_allclose(full_coef(warm), full_coef(ref), rtol=1e-8, atol=1e-10)

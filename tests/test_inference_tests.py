"""Multinomial tables, Wald and likelihood-ratio tests, the summary, penalised and singular
fits — against statsmodels (``MNLogit``, ``wald_test``, ``llf`` / ``llnull``)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy import stats

from test_inference import RTOL, _binary_problem, _fit, _sm, assert_cov_close, assert_table_matches
from torchlogit import LogisticRegression


def _multinomial_problem(n=500, d=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    W = rng.standard_normal((3, d))
    y = np.argmax(X @ W.T + rng.gumbel(size=(n, 3)), axis=1)
    return X, np.array(["ant", "bee", "cat"])[y], y, rng.integers(0, 20, n)


@pytest.fixture(scope="module")
def anes():
    d = sm.datasets.anes96.load_pandas()
    return d.exog, d.endog.astype(int)


@pytest.mark.parametrize("cov_type", ["nonrobust", "HC0"])
def test_anes96_multinomial(anes, cov_type):
    X, y = anes
    clf = _fit(X, y, max_iter=300)
    res = _sm(X, y, cov_type=cov_type, multinomial=True)
    table = clf.coef_table(X, y, cov_type=cov_type)
    want = [(c, t) for c in clf.classes_[1:].tolist() for t in ["intercept", *X.columns]]
    assert list(table.index) == want
    assert table.index.names == ["class", "term"]
    assert_table_matches(table, res, multinomial=True)
    V = clf.covariance_matrix(X, y, cov_type=cov_type)
    assert_cov_close(V, np.asarray(res.cov_params()))


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("cov_type", ["nonrobust", "HC0", "cluster"])
def test_multinomial_against_mnlogit(fit_intercept, cov_type):
    X, labels, y, groups = _multinomial_problem()
    clf = _fit(X, labels, fit_intercept=fit_intercept)
    g = groups if cov_type == "cluster" else None
    res = _sm(X, y, fit_intercept=fit_intercept, cov_type=cov_type, groups=groups, multinomial=True)
    table = clf.coef_table(X, labels, cov_type=cov_type, groups=g)
    assert table.index.get_level_values("class").unique().tolist() == ["bee", "cat"]
    assert_table_matches(table, res, multinomial=True)
    assert_cov_close(
        clf.covariance_matrix(X, labels, cov_type=cov_type, groups=g), np.asarray(res.cov_params())
    )


def test_multinomial_weights_equal_repeated_rows():
    X, labels, y, groups = _multinomial_problem(n=200, seed=2)
    w = np.random.default_rng(5).integers(0, 4, X.shape[0])
    rep = np.repeat(np.arange(X.shape[0]), w)
    table = _fit(X, labels, sample_weight=w).coef_table(
        X, labels, sample_weight=w, cov_type="cluster", groups=groups
    )
    res = _sm(X[rep], y[rep], cov_type="cluster", groups=groups[rep], multinomial=True)
    assert_table_matches(table, res, multinomial=True)


def test_wald_test_matches_statsmodels():
    X, y, groups = _binary_problem()
    clf = _fit(X, y)
    R = np.array([[0, 1, -1, 0, 0], [0, 0, 0, 1, 0]], float)
    q = np.array([0.2, 0.0])
    for cov_type, g in (("nonrobust", None), ("HC0", None), ("cluster", groups)):
        res = _sm(X, y, cov_type=cov_type, groups=groups)
        want = res.wald_test((R, q), use_f=False, scalar=True)
        got = clf.wald_test(R, q, X, y, cov_type=cov_type, groups=g)
        np.testing.assert_allclose(got.statistic, want.statistic, rtol=RTOL)
        np.testing.assert_allclose(got.p_value, want.pvalue, rtol=RTOL)
        assert got.df == 2


def test_wald_test_multinomial():
    X, labels, y, _ = _multinomial_problem()
    clf = _fit(X, labels)
    res = _sm(X, y, multinomial=True)
    R = np.zeros((2, 8))
    R[0, 1], R[1, 5] = 1.0, 1.0  # x0 in both contrasts
    want = res.wald_test(R, use_f=False, scalar=True)
    stat, df, p = clf.wald_test(R, None, X, labels)
    np.testing.assert_allclose([stat, p], [want.statistic, want.pvalue], rtol=RTOL)
    assert df == 2


def test_likelihood_ratio_test_nested_models():
    X, y, _ = _binary_problem()
    df = pd.DataFrame(X, columns=["a", "b", "c", "d"])
    big = _fit(df, y)
    small = _fit(df[["a", "c"]], y)
    llf_big = _sm(X, y).llf
    llf_small = _sm(X[:, [0, 2]], y).llf
    stat, dof, p = big.likelihood_ratio_test(small, df, y)
    np.testing.assert_allclose(stat, 2 * (llf_big - llf_small), rtol=RTOL)
    np.testing.assert_allclose(p, stats.chi2.sf(2 * (llf_big - llf_small), 2), rtol=RTOL)
    assert dof == 2
    assert tuple(small.likelihood_ratio_test(big, df, y)) == (stat, dof, p)
    with pytest.raises(ValueError, match="unpenalised"):
        big.likelihood_ratio_test(_fit(df[["a"]], y, penalty="l2"), df, y)


def test_summary_statistics_match_statsmodels():
    X, labels, y, _ = _multinomial_problem()
    clf = _fit(X, labels)
    res = _sm(X, y, multinomial=True)
    text = clf.summary(X, labels)
    for value in (f"{res.llf:.6g}", f"{res.llnull:.6g}", f"{res.prsquared:.4f}"):
        assert value in text
    assert "MNLogit" in text and "intercept" in text
    X2, y2, _ = _binary_problem()
    text = _fit(X2, y2).summary(X2, y2, cov_type="HC0")
    res2 = _sm(X2, y2)
    assert f"{res2.llnull:.6g}" in text and "HC0" in text and "Logit" in text


def test_l2_uses_the_penalised_hessian_and_warns():
    X, y, _ = _binary_problem()
    C = 0.5
    clf = LogisticRegression(C=C, tol=1e-10).fit(X, y)
    with pytest.warns(UserWarning, match="penalised"):
        V = clf.covariance_matrix(X, y)
    beta = np.r_[clf.intercept_, clf.coef_[0]]
    H = -sm.Logit(y, sm.add_constant(X)).hessian(beta) + np.diag(np.r_[0.0, np.full(4, 1 / C)])
    assert_cov_close(V, np.linalg.inv(H))


@pytest.mark.parametrize("penalty,extra", [("l1", {}), ("elasticnet", {"l1_ratio": 0.5})])
def test_l1_and_elasticnet_are_refused(penalty, extra):
    X, y, _ = _binary_problem()
    clf = LogisticRegression(penalty=penalty, C=1.0, **extra).fit(X, y)
    with pytest.raises(ValueError, match="post-selection.*penalty=None"):
        clf.coef_table(X, y)


def test_singular_information_names_the_columns():
    X, y, _ = _binary_problem(n=200)
    Xd = np.c_[X, X[:, 0] + X[:, 1]]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf = _fit(Xd, y, max_iter=20)
    with pytest.raises(np.linalg.LinAlgError, match=r"collinear.*\{x0, x1, x4\}"):
        clf.coef_table(Xd, y)
    Xc = np.c_[X, np.zeros(200)]
    with pytest.raises(np.linalg.LinAlgError, match="no information on x4"):
        _fit(Xc, y).coef_table(Xc, y)


def test_bad_arguments():
    X, y, groups = _binary_problem()
    clf = _fit(X, y)
    with pytest.raises(ValueError, match="cov_type must be one of"):
        clf.coef_table(X, y, cov_type="HC3")
    with pytest.raises(ValueError, match="needs groups="):
        clf.coef_table(X, y, cov_type="cluster")
    with pytest.raises(ValueError, match="one group label per row"):
        clf.coef_table(X, y, cov_type="cluster", groups=groups[:-1])
    with pytest.raises(ValueError, match="was fitted with 4"):
        clf.coef_table(X[:, :3], y)
    with pytest.raises(ValueError, match="R must have 5 columns"):
        clf.wald_test(np.eye(4), None, X, y)


def test_l2_multinomial_contrasts_of_the_penalised_covariance():
    """Reference in NumPy: the K-class penalised Hessian sum_i x_i x_i^T (x) (diag p_i -
    p_i p_i^T) + diag(1/C) on the weights, pseudo-inverted (the intercepts' common shift is
    free), mapped to the contrasts beta_k - beta_0."""
    X, labels, y, _ = _multinomial_problem()
    C = 0.3
    clf = LogisticRegression(C=C, tol=1e-10).fit(X, labels)
    with pytest.warns(UserWarning, match="penalised"):
        V = clf.covariance_matrix(X, labels)
    Xa = np.c_[np.ones(len(X)), X]
    B = np.c_[clf.intercept_, clf.coef_]  # (K, p), intercept first
    P = np.exp(Xa @ B.T)
    P /= P.sum(axis=1, keepdims=True)
    K, p = B.shape
    H = np.zeros((K * p, K * p))
    for k in range(K):
        for l in range(K):
            c = P[:, k] * ((k == l) - P[:, l])
            H[k * p : (k + 1) * p, l * p : (l + 1) * p] = Xa.T @ (Xa * c[:, None])
    H += np.diag(np.tile(np.r_[0.0, np.full(p - 1, 1 / C)], K))
    A = np.kron(np.c_[-np.ones((K - 1, 1)), np.eye(K - 1)], np.eye(p))
    # the intercepts' common shift is not penalised: H is singular along it, A is not
    Hp = np.linalg.pinv(H, rcond=1e-12, hermitian=True)
    assert_cov_close(V, A @ Hp @ A.T)
    scores = np.einsum("ik,ij->ikj", P - np.eye(K)[y], Xa).reshape(len(X), -1)
    with pytest.warns(UserWarning, match="penalised"):
        V0 = clf.covariance_matrix(X, labels, cov_type="HC0")
    assert_cov_close(V0, A @ Hp @ (scores.T @ scores) @ Hp @ A.T)

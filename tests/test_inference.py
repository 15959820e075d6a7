"""Standard errors and tables against statsmodels (``Logit`` / ``MNLogit``) and glum.

References: statsmodels 0.15 fitted by Newton at a tight tolerance, with ``cov_type``
``nonrobust`` / ``HC0`` / ``cluster`` (its default correction); HC1 is HC0 · N/(N − q) by
definition (statsmodels' discrete models leave ``HC1`` uncorrected), checked against glum's
robust covariance, whose default is that correction. Covariances are compared entry by entry
on the correlation scale (``|V_ij - R_ij| / sqrt(R_ii R_jj)``), table columns entry by entry.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from torchlogit import LogisticRegression

RTOL = 1e-6
SM_COV = {"nonrobust": "nonrobust", "HC0": "HC0", "cluster": "cluster"}


def _fit(X, y, sample_weight=None, **params):
    params = {"penalty": None, "tol": 1e-10, "max_iter": 200, **params}
    return LogisticRegression(**params).fit(X, y, sample_weight=sample_weight)


def _sm(X, y, *, fit_intercept=True, cov_type="nonrobust", groups=None, multinomial=False):
    Xc = sm.add_constant(np.asarray(X, float), has_constant="add") if fit_intercept else X
    kw = {"cov_kwds": {"groups": groups}} if cov_type == "cluster" else {}
    model = (sm.MNLogit if multinomial else sm.Logit)(np.asarray(y), np.asarray(Xc, float))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return model.fit(disp=0, method="newton", maxiter=200, tol=1e-14, cov_type=cov_type, **kw)


def _params(res, multinomial=False):
    return np.asarray(res.params).ravel(order="F") if multinomial else np.asarray(res.params)


def assert_cov_close(V, R):
    scale = np.sqrt(np.outer(np.diag(R), np.diag(R)))
    assert np.max(np.abs(V - R) / scale) < RTOL


def assert_table_matches(table, res, cov=None, multinomial=False):
    beta = _params(res, multinomial)
    R = np.asarray(res.cov_params()) if cov is None else cov
    se = np.sqrt(np.diag(R))
    z = beta / se
    from scipy import stats

    ref = {
        "coef": beta,
        "std_err": se,
        "z": z,
        "p_value": 2 * stats.norm.sf(np.abs(z)),
        "ci_lower": beta - stats.norm.ppf(0.975) * se,
        "ci_upper": beta + stats.norm.ppf(0.975) * se,
    }
    if cov is None:  # statsmodels' own columns
        ref["std_err"], ref["z"], ref["p_value"] = (
            np.asarray(res.bse).ravel(order="F"),
            np.asarray(res.tvalues).ravel(order="F"),
            np.asarray(res.pvalues).ravel(order="F"),
        )
        ci = np.asarray(res.conf_int())
        if multinomial:
            ci = ci.reshape(-1, 2)
        ref["ci_lower"], ref["ci_upper"] = ci[:, 0], ci[:, 1]
    assert list(table.columns) == list(ref)
    for col, want in ref.items():
        np.testing.assert_allclose(table[col].to_numpy(), want, rtol=RTOL, atol=0, err_msg=col)


def _binary_problem(n=400, d=4, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    X[:, 1] *= 3.0
    y = (X @ rng.standard_normal(d) + 0.3 + rng.logistic(size=n) > 0).astype(int)
    groups = rng.integers(0, 15, n)
    return X, y, groups


def _datasets():
    spector = sm.datasets.spector.load_pandas()
    fair = sm.datasets.fair.load_pandas()
    rand = sm.datasets.randhie.load_pandas()
    return {
        "spector": (spector.exog, spector.endog.astype(int)),
        "fair": (fair.exog, (fair.endog > 0).astype(int)),
        "randhie": (rand.exog, (rand.endog > 0).astype(int)),
    }


@pytest.fixture(scope="module")
def datasets():
    return _datasets()


@pytest.mark.parametrize("name", ["spector", "fair", "randhie"])
@pytest.mark.parametrize("cov_type", ["nonrobust", "HC0"])
def test_statsmodels_datasets(datasets, name, cov_type):
    X, y = datasets[name]
    clf = _fit(X, y)
    res = _sm(X, y, cov_type=cov_type)
    table = clf.coef_table(X, y, cov_type=cov_type)
    assert list(table.index) == ["intercept", *X.columns]
    assert_table_matches(table, res)
    assert_cov_close(clf.covariance_matrix(X, y, cov_type=cov_type), np.asarray(res.cov_params()))


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("cov_type", ["nonrobust", "HC0", "cluster"])
def test_binary_against_statsmodels(fit_intercept, cov_type):
    X, y, groups = _binary_problem()
    clf = _fit(X, y, fit_intercept=fit_intercept)
    g = groups if cov_type == "cluster" else None
    res = _sm(X, y, fit_intercept=fit_intercept, cov_type=cov_type, groups=groups)
    table = clf.coef_table(X, y, cov_type=cov_type, groups=g)
    names = [f"x{j}" for j in range(X.shape[1])]
    assert list(table.index) == (["intercept"] if fit_intercept else []) + names
    assert_table_matches(table, res)
    V = clf.covariance_matrix(X, y, cov_type=cov_type, groups=g)
    assert_cov_close(V, np.asarray(res.cov_params()))
    np.testing.assert_allclose(
        clf.std_errors(X, y, cov_type=cov_type, groups=g), np.asarray(res.bse), rtol=RTOL
    )


def test_hc1_is_hc0_times_n_over_n_minus_q_and_glum():
    X, y, groups = _binary_problem()
    clf = _fit(X, y)
    n, q = X.shape[0], X.shape[1] + 1
    hc0 = np.asarray(_sm(X, y, cov_type="HC0").cov_params())
    ref = hc0 * n / (n - q)
    assert_cov_close(clf.covariance_matrix(X, y, cov_type="HC1"), ref)
    assert_table_matches(clf.coef_table(X, y, cov_type="HC1"), _sm(X, y), cov=ref)
    glum = pytest.importorskip("glum")  # a benchmark extra: the statsmodels checks run without
    glm = glum.GeneralizedLinearRegressor(family="binomial", alpha=0, gradient_tol=1e-12).fit(X, y)
    for kind, kw in (("HC1", {"robust": True}), ("cluster", {"clusters": groups})):
        theirs = glm.covariance_matrix(X, y.astype(float), **kw)
        assert_cov_close(clf.covariance_matrix(X, y, cov_type=kind, groups=groups), theirs)


@pytest.mark.parametrize("cov_type", ["nonrobust", "HC0", "HC1", "cluster"])
def test_integer_weights_equal_repeated_rows(cov_type):
    X, y, groups = _binary_problem(n=200, seed=3)
    w = np.random.default_rng(1).integers(0, 4, X.shape[0])
    rep = np.repeat(np.arange(X.shape[0]), w)
    weighted = _fit(X, y, sample_weight=w)
    g = groups if cov_type == "cluster" else None
    table = weighted.coef_table(X, y, sample_weight=w, cov_type=cov_type, groups=g)
    repeated = _fit(X[rep], y[rep])
    gr = groups[rep] if cov_type == "cluster" else None
    want = repeated.coef_table(X[rep], y[rep], cov_type=cov_type, groups=gr)
    pd.testing.assert_frame_equal(table, want, rtol=RTOL, atol=0)
    if cov_type != "HC1":  # and the repeated rows against statsmodels
        res = _sm(X[rep], y[rep], cov_type=cov_type, groups=gr)
        assert_table_matches(table, res)


def test_labels_strings_and_pandas_names():
    X, y, groups = _binary_problem()
    df = pd.DataFrame(X, columns=["a", "b", "c", "d"])
    labels = np.array(["no", "yes"])[y]
    clf = _fit(df, labels)
    table = clf.coef_table(df, labels)
    assert list(table.index) == ["intercept", "a", "b", "c", "d"]
    assert_table_matches(table, _sm(X, y))
    with pytest.raises(ValueError, match="feature names"):
        clf.coef_table(df[["b", "a", "c", "d"]], labels)


def test_alpha_sets_the_interval():
    X, y, _ = _binary_problem()
    clf = _fit(X, y)
    res = _sm(X, y)
    table = clf.coef_table(X, y, alpha=0.1)
    ci = np.asarray(res.conf_int(alpha=0.1))
    np.testing.assert_allclose(table[["ci_lower", "ci_upper"]].to_numpy(), ci, rtol=RTOL)


def test_offset_against_statsmodels():
    rng = np.random.default_rng(4)
    X = rng.standard_normal((300, 3))
    offset = rng.standard_normal(300)
    y = (X @ [1.0, -0.5, 0.3] + offset + rng.logistic(size=300) > 0).astype(int)
    clf = LogisticRegression(penalty=None, tol=1e-10).fit(X, y, offset=offset)
    for cov_type in ("nonrobust", "HC0"):
        res = sm.Logit(y, sm.add_constant(X), offset=offset).fit(
            disp=0, method="newton", tol=1e-14, cov_type=cov_type
        )
        assert_table_matches(clf.coef_table(X, y, offset=offset, cov_type=cov_type), res)
    assert "LL-Null" not in clf.summary(X, y, offset=offset)  # no closed form with an offset


def test_separable_data_warn():
    from torchlogit import SeparableDataWarning

    X = np.r_[np.linspace(-2, -0.1, 20), np.linspace(0.1, 2, 20)].reshape(-1, 1)
    y = (X[:, 0] > 0).astype(int)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf = _fit(X, y, max_iter=5)
    with pytest.warns(SeparableDataWarning, match="perfectly separable"):
        clf.coef_table(X, y)

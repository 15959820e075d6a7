"""``LogisticRegression.inference``: one pass over the training data, then every table and
test for every ``cov_type`` from the same moments, each matching statsmodels (``Logit``,
``MNLogit``) as the one-``cov_type`` methods do, and reading a Parquet source once."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from _streaming_helpers import count_source_reads
from test_inference import RTOL, _binary_problem, _fit, _sm, assert_cov_close, assert_table_matches
from torchlogit.data import ParquetSource


def test_one_result_gives_every_cov_type_as_statsmodels():
    X, y, groups = _binary_problem()
    clf = _fit(X, y)
    result = clf.inference(X, y, groups=groups)
    for cov_type in ("nonrobust", "HC0", "cluster"):
        res = _sm(X, y, cov_type=cov_type, groups=groups)
        assert_table_matches(result.coef_table(cov_type), res)
        assert_cov_close(result.covariance_matrix(cov_type), np.asarray(res.cov_params()))
        np.testing.assert_allclose(result.std_errors(cov_type), res.bse, rtol=RTOL)
    n, q = X.shape[0], X.shape[1] + 1
    hc0 = np.asarray(_sm(X, y, cov_type="HC0").cov_params())
    assert_cov_close(result.covariance_matrix("HC1"), hc0 * n / (n - q))
    res = _sm(X, y)
    assert result.loglik == pytest.approx(res.llf, rel=1e-12)
    np.testing.assert_allclose(result.params, res.params, rtol=RTOL)
    assert result.n_obs == n
    assert "HC0" in repr(result) and "cluster" in repr(result)


@pytest.mark.parametrize("cov_type", ["nonrobust", "HC0", "HC1", "cluster"])
def test_result_equals_the_one_cov_type_methods(cov_type):
    X, y, groups = _binary_problem(seed=2)
    w = np.random.default_rng(0).integers(1, 3, len(y))
    clf = _fit(X, y, sample_weight=w)
    g = groups if cov_type == "cluster" else None
    result = clf.inference(X, y, w, groups=g)
    pd.testing.assert_frame_equal(
        result.coef_table(cov_type, alpha=0.1),
        clf.coef_table(X, y, w, cov_type=cov_type, groups=g, alpha=0.1),
        rtol=1e-13,
        atol=0,
    )
    assert result.summary(cov_type) == clf.summary(X, y, w, cov_type=cov_type, groups=g)
    R = np.eye(X.shape[1] + 1)[1:3]
    assert tuple(result.wald_test(R, cov_type=cov_type)) == pytest.approx(
        tuple(clf.wald_test(R, None, X, y, w, cov_type=cov_type, groups=g)), rel=1e-12
    )


def test_multinomial_result_against_mnlogit():
    rng = np.random.default_rng(5)
    X = rng.standard_normal((500, 3))
    y = np.argmax(X @ rng.standard_normal((3, 3)) + rng.gumbel(size=(500, 3)), axis=1)
    result = _fit(X, y).inference(X, y)
    for cov_type in ("nonrobust", "HC0"):
        res = _sm(X, y, cov_type=cov_type, multinomial=True)
        assert_table_matches(result.coef_table(cov_type), res, multinomial=True)


def test_cluster_needs_groups_and_robust_needs_no_second_pass():
    X, y, _ = _binary_problem()
    result = _fit(X, y).inference(X, y)
    with pytest.raises(ValueError, match="needs groups="):
        result.coef_table("cluster")
    with pytest.raises(ValueError, match="cov_type must be one of"):
        result.coef_table("HC3")
    V = result.covariance_matrix("HC0")
    V[0, 0] = -1.0  # a copy: the result's covariance is unchanged
    assert result.covariance_matrix("HC0")[0, 0] > 0


def test_parquet_source_is_read_once_for_both_tables(tmp_path, monkeypatch):
    X, y, _ = _binary_problem(n=300, seed=4)
    df = pd.DataFrame(X, columns=["a", "b", "c", "d"]).assign(y=y)
    df.to_parquet(tmp_path / "d.parquet", row_group_size=64)
    source = ParquetSource(tmp_path / "d.parquet", target="y", chunk_rows=40)
    clf = _fit(source, None)
    reads = count_source_reads(monkeypatch, ParquetSource)
    result = clf.inference(source)
    nonrobust, hc0 = result.coef_table(), result.coef_table("HC0")
    assert len(reads) == 1
    Xdf = df[["a", "b", "c", "d"]]
    for table, cov_type in ((nonrobust, "nonrobust"), (hc0, "HC0")):
        assert_table_matches(table, _sm(Xdf, y, cov_type=cov_type))
    assert list(hc0.index) == ["intercept", "a", "b", "c", "d"]


@pytest.mark.parametrize("n_classes", [2, 3])
def test_hc1_standard_errors_are_hc0_times_sqrt_n_over_n_minus_q(n_classes):
    """With frequency weights ``N`` is the weight sum (the repeated rows), not the rows."""
    rng = np.random.default_rng(7)
    X = rng.standard_normal((300, 3))
    W = rng.standard_normal((n_classes, 3))
    y = np.argmax(X @ W.T + rng.gumbel(size=(300, n_classes)), axis=1)
    w = rng.integers(1, 4, 300)
    result = _fit(X, y, sample_weight=w).inference(X, y, w)
    rep = np.repeat(np.arange(300), w)
    hc0 = _sm(X[rep], y[rep], cov_type="HC0", multinomial=n_classes > 2)
    N, q = w.sum(), (n_classes - 1) * 4
    want = np.asarray(hc0.bse).ravel(order="F") * np.sqrt(N / (N - q))
    np.testing.assert_allclose(result.std_errors("HC1"), want, rtol=RTOL)
    np.testing.assert_allclose(
        result.std_errors("HC1") / result.std_errors("HC0"), np.sqrt(N / (N - q)), rtol=1e-13
    )

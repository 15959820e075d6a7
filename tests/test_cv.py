"""LogisticRegressionCV against scikit-learn 1.9's LogisticRegressionCV (use_legacy_attributes
=False), single fits on the folds' rows, log_loss with weights, l1_min_c and the 1se rule."""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegressionCV as SkCV
from sklearn.metrics import log_loss
from sklearn.model_selection import StratifiedKFold
from sklearn.preprocessing import StandardScaler

from torchlogit import LogisticRegression, LogisticRegressionCV, l1_min_c

CV = StratifiedKFold(3, shuffle=True, random_state=0)


def _data(n_classes, n=240, seed=1):
    X, y = make_classification(
        n, 6, n_informative=4, n_classes=n_classes, n_clusters_per_class=1, random_state=seed
    )
    X = StandardScaler().fit_transform(X)
    sw = np.random.default_rng(seed).uniform(0.5, 2.0, n)
    return X, y, sw


def _sklearn(X, y, sw, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        warnings.simplefilter("ignore", UserWarning)
        return SkCV(cv=CV, scoring="neg_log_loss", use_legacy_attributes=False, **kw).fit(
            X, y, sample_weight=sw
        )


def _same_as_sklearn(ours, sk, coef_tol):
    assert ours.C_ == sk.C_
    assert ours.l1_ratio_ == sk.l1_ratio_
    np.testing.assert_array_equal(ours.Cs_, sk.Cs_)
    assert ours.scores_.shape == sk.scores_.shape
    assert ours.coefs_paths_.shape == sk.coefs_paths_.shape
    assert ours.n_iter_.shape == sk.n_iter_.shape
    assert list(ours.l1_ratios_) == list(sk.l1_ratios_)
    np.testing.assert_allclose(ours.scores_, sk.scores_, rtol=0, atol=1e-6)
    np.testing.assert_allclose(ours.coefs_paths_, sk.coefs_paths_, rtol=0, atol=coef_tol)
    np.testing.assert_allclose(ours.coef_, sk.coef_, rtol=0, atol=coef_tol)
    np.testing.assert_allclose(ours.intercept_, sk.intercept_, rtol=0, atol=coef_tol)


@pytest.mark.parametrize("n_classes", [2, 3])
def test_l2_equals_sklearn_newton_cholesky(n_classes):
    X, y, sw = _data(n_classes)
    Cs = np.logspace(-3, 2, 7)
    ours = LogisticRegressionCV(Cs=Cs, cv=CV, tol=1e-10, max_iter=1000).fit(X, y, sw)
    sk = _sklearn(X, y, sw, Cs=Cs, solver="newton-cholesky", tol=1e-10, max_iter=1000)
    _same_as_sklearn(ours, sk, 1e-7)


@pytest.mark.parametrize("n_classes", [2, 3])
def test_l1_equals_sklearn_saga(n_classes):
    # Cs above the all-zero region: there saga's path leaves the intercept off the null
    # model's (see test_l1_grid_starts_at_l1_min_c for that region).
    X, y, sw = _data(n_classes)
    Cs = np.logspace(-1, 1, 5)
    ours = LogisticRegressionCV(Cs=Cs, cv=CV, penalty="l1", tol=1e-10, max_iter=2000)
    ours.fit(X, y, sw)
    sk = _sklearn(X, y, sw, Cs=Cs, penalty="l1", solver="saga", tol=1e-12, max_iter=200_000)
    _same_as_sklearn(ours, sk, 1e-6)
    assert np.array_equal(ours.coefs_paths_ == 0, sk.coefs_paths_ == 0)
    assert (ours.coefs_paths_[..., :-1] == 0).any()  # the L1 path has zeros to compare


def test_every_path_point_is_a_single_fit_on_the_fold():
    X, y, sw = _data(2)
    Cs = [0.05, 0.3, 2.0]
    ours = LogisticRegressionCV(
        Cs=Cs, cv=CV, penalty="elasticnet", l1_ratios=[0.5], tol=1e-10, max_iter=2000
    ).fit(X, y, sw)
    for f, (train, _) in enumerate(CV.split(X, y)):
        for k, C in enumerate(Cs):
            one = LogisticRegression(
                penalty="elasticnet", l1_ratio=0.5, C=C, tol=1e-10, max_iter=2000
            ).fit(X[train], y[train], sw[train])
            got = ours.coefs_paths_[f, 0, k, 0]
            np.testing.assert_allclose(got[:-1], one.coef_[0], atol=1e-8)
            np.testing.assert_allclose(got[-1], one.intercept_[0], atol=1e-8)
            assert np.array_equal(got[:-1] == 0, one.coef_[0] == 0)


def test_weighted_scores_are_held_out_log_loss():
    X, y, sw = _data(3)
    Cs = [0.1, 1.0]
    ours = LogisticRegressionCV(Cs=Cs, cv=CV, tol=1e-10).fit(X, y, sw)
    for f, (_, test) in enumerate(CV.split(X, y)):
        for k in range(len(Cs)):
            W = ours.coefs_paths_[f, 0, k]
            z = X[test] @ W[:, :-1].T + W[:, -1]
            p = np.exp(z - z.max(1, keepdims=True))
            p /= p.sum(1, keepdims=True)
            want = -log_loss(y[test], p, sample_weight=sw[test], labels=[0, 1, 2])
            assert abs(ours.scores_[f, 0, k] - want) < 1e-10


def test_sparse_equals_dense():
    X, y, sw = _data(2)
    X[np.abs(X) < 0.7] = 0.0
    kw = dict(Cs=[0.05, 0.2, 1.0], cv=CV, penalty="l1", tol=1e-10, max_iter=2000)
    dense = LogisticRegressionCV(**kw).fit(X, y, sw)
    sparse = LogisticRegressionCV(**kw).fit(sp.csr_matrix(X), y, sw)
    assert dense.C_ == sparse.C_
    np.testing.assert_allclose(sparse.scores_, dense.scores_, atol=1e-9)
    np.testing.assert_allclose(sparse.coefs_paths_, dense.coefs_paths_, atol=1e-8)


def test_l1_grid_starts_at_l1_min_c():
    X, y, sw = _data(2)
    ours = LogisticRegressionCV(Cs=6, cv=CV, penalty="l1", tol=1e-10, max_iter=2000)
    ours.fit(X, y, sw)
    c_min = l1_min_c(X, y, sample_weight=sw)
    np.testing.assert_allclose(ours.Cs_, np.logspace(np.log10(c_min), np.log10(c_min) + 4, 6))
    # on all the rows, C_min is the last C with every weight zero
    for C, zero in ((c_min, True), (c_min * 1.01, False)):
        one = LogisticRegression(penalty="l1", C=C, tol=1e-10, max_iter=2000).fit(X, y, sw)
        assert (one.coef_ == 0).all() == zero
    # a path point with every weight zero has the null model's intercept: weighted log-odds
    for f, (train, _) in enumerate(CV.split(X, y)):
        point = ours.coefs_paths_[f, 0, 0, 0]
        if (point[:-1] == 0).all():
            w = sw[train]
            share = w[y[train] == 1].sum() / w.sum()
            assert abs(point[-1] - np.log(share / (1 - share))) < 1e-8


def test_l2_int_cs_is_sklearns_grid():
    X, y, _ = _data(2)
    ours = LogisticRegressionCV(Cs=4, cv=CV).fit(X, y)
    np.testing.assert_array_equal(ours.Cs_, np.logspace(-4, 4, 4))


def _one_se(scores, Cs):
    mean = scores.mean(axis=0)[0]
    best = int(np.argmax(scores.sum(axis=0)[0]))
    se = scores[:, 0, best].std(ddof=1) / np.sqrt(scores.shape[0])
    return min(C for C, m in zip(Cs, mean, strict=True) if m >= mean[best] - se)


def test_one_standard_error_rule_and_refit():
    X, y, sw = _data(2, n=200, seed=3)
    Cs = np.logspace(-3, 3, 13)
    kw = dict(Cs=Cs, cv=CV, tol=1e-10, max_iter=1000)
    best = LogisticRegressionCV(**kw).fit(X, y, sw)
    one_se = LogisticRegressionCV(selection="1se", **kw).fit(X, y, sw)
    np.testing.assert_array_equal(one_se.scores_, best.scores_)
    want = _one_se(best.scores_, Cs)
    assert one_se.C_ == want
    assert one_se.C_ < best.C_  # the rule picks a stronger penalty on this data
    refit = LogisticRegression(C=want, tol=1e-10, max_iter=1000).fit(X, y, sw)
    np.testing.assert_allclose(one_se.coef_, refit.coef_, atol=1e-8)
    np.testing.assert_allclose(one_se.intercept_, refit.intercept_, atol=1e-8)


def test_refit_false_as_sklearn():
    X, y, sw = _data(3)
    Cs = np.logspace(-3, 2, 7)
    ours = LogisticRegressionCV(Cs=Cs, cv=CV, tol=1e-10, refit=False, max_iter=1000)
    ours.fit(X, y, sw)
    sk = _sklearn(X, y, sw, Cs=Cs, solver="newton-cholesky", tol=1e-10, max_iter=1000, refit=False)
    _same_as_sklearn(ours, sk, 1e-7)


@pytest.mark.parametrize(
    "kw, match",
    [
        (dict(Cs=[1.0, -1.0]), "Cs must be"),
        (dict(Cs=[]), "Cs must be"),
        (dict(penalty="elasticnet"), "l1_ratios must be given"),
        (dict(penalty="elasticnet", l1_ratios=[0.5, 1.5]), "l1_ratios must be given"),
        (dict(l1_ratios=[0.5]), "only used with penalty='elasticnet'"),
        (dict(scoring="no_such_score"), "no_such_score"),
        (dict(cv=[(np.arange(10), np.array([], dtype=int))]), "at least 2 splits"),
        (
            dict(cv=[(np.arange(10), np.array([], dtype=int))] * 2),
            "empty training or held-out",
        ),
    ],
)
def test_bad_parameters_fail_before_fitting(kw, match):
    X, y, _ = _data(2, n=40)
    with pytest.raises(ValueError, match=match):
        LogisticRegressionCV(**kw).fit(X, y)


def test_predict_save_load_to_torch(tmp_path):
    import torch

    import torchlogit

    X, y, _ = _data(3)
    clf = LogisticRegressionCV(Cs=3, cv=3).fit(X, y)
    path = tmp_path / "cv.safetensors"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # every attribute is kept, l1_ratios_ = [None] too
        clf.save(path)
    back = torchlogit.load(path)
    assert type(back) is LogisticRegressionCV
    np.testing.assert_array_equal(back.predict_proba(X), clf.predict_proba(X))
    for name in ("Cs_", "l1_ratios_", "scores_", "coefs_paths_", "n_iter_"):
        np.testing.assert_array_equal(getattr(back, name), getattr(clf, name))
    assert back.C_ == clf.C_ and back.get_params() == clf.get_params()
    layer = clf.to_torch(dtype=None)
    with torch.no_grad():
        got = layer.predict_proba(torch.as_tensor(X)).numpy()
    np.testing.assert_allclose(got, clf.predict_proba(X), atol=1e-12)
    assert not hasattr(clf, "partial_fit")
    assert clf.score(X, y) == pytest.approx(-log_loss(y, clf.predict_proba(X)), abs=1e-12)


def test_elastic_net_l1_ratios_equal_sklearn_saga():
    X, y, sw = _data(2)
    Cs = np.logspace(-1, 1, 4)
    kw = dict(Cs=Cs, penalty="elasticnet", l1_ratios=[0.3, 0.9])
    ours = LogisticRegressionCV(cv=CV, tol=1e-10, max_iter=2000, **kw).fit(X, y, sw)
    sk = _sklearn(X, y, sw, solver="saga", tol=1e-12, max_iter=200_000, **kw)
    _same_as_sklearn(ours, sk, 1e-6)
    assert ours.scores_.shape == (3, 2, 4)


def test_inference_uses_the_chosen_C():
    """``coef_table`` of a CV model differentiates the refit's problem (``C_``), so its
    standard errors are those of ``LogisticRegression(C=C_)``; L1 / elastic-net choices are
    refused as for any L1 fit (post-selection), and ``refit=False`` has no single problem."""
    X, y = make_classification(400, 5, n_informative=3, random_state=3)
    cv = LogisticRegressionCV(Cs=[0.01, 0.02, 0.05], cv=3, tol=1e-10).fit(X, y)
    one = LogisticRegression(C=cv.C_, tol=1e-10).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # penalised standard errors
        got, want = cv.std_errors(X, y), one.std_errors(X, y)
    np.testing.assert_allclose(got, want, rtol=1e-6)
    enet = LogisticRegressionCV(
        Cs=[0.05, 0.1], cv=3, penalty="elasticnet", l1_ratios=[0.5], solver="cd"
    ).fit(X, y)
    with pytest.raises(ValueError, match="post-selection|L1"):
        enet.coef_table(X, y)
    averaged = LogisticRegressionCV(Cs=[0.05, 0.1], cv=3, refit=False).fit(X, y)
    with pytest.raises(ValueError, match="refit=False"):
        averaged.coef_table(X, y)

"""``l1_min_c`` (lambda_max): against scikit-learn's ``l1_min_c`` and by its definition — all
weights zero just below it, some non-zero just above."""

import numpy as np
import pytest
from sklearn.datasets import make_classification
from sklearn.preprocessing import StandardScaler
from sklearn.svm import l1_min_c as sk_l1_min_c

from torchlogit import LogisticRegression, l1_min_c


def _data(n_classes=2, seed=0, balanced=False):
    weights = [1.0 / n_classes] * n_classes if balanced else None
    X, y = make_classification(
        400,
        10,
        n_informative=4,
        n_classes=n_classes,
        random_state=seed,
        weights=weights,
        flip_y=0.0,
    )
    return StandardScaler().fit_transform(X) + 0.3, y


def _n_nonzero(C, X, y, sample_weight=None, **kw):
    m = LogisticRegression(l1_ratio=kw.pop("l1_ratio", 1.0), C=C, tol=1e-12, **kw)
    return int((m.fit(X, y, sample_weight=sample_weight).coef_ != 0).sum())


def test_matches_sklearn_without_intercept():
    X, y = _data(seed=1)
    ours = l1_min_c(X, y, fit_intercept=False)
    theirs = sk_l1_min_c(X, y, loss="log", fit_intercept=False)
    np.testing.assert_allclose(ours, theirs, rtol=1e-12)


def test_matches_sklearn_with_intercept_on_balanced_classes():
    """sklearn's version penalises the intercept (liblinear); with balanced classes the null
    model's intercept is 0 and the two definitions coincide."""
    X, y = _data(seed=2, balanced=True)
    assert np.mean(y) == 0.5
    np.testing.assert_allclose(l1_min_c(X, y), sk_l1_min_c(X, y, loss="log"), rtol=1e-12)


@pytest.mark.parametrize("n_classes", [2, 3])
@pytest.mark.parametrize("weighted", [False, True])
def test_threshold_separates_empty_and_non_empty_models(n_classes, weighted):
    X, y = _data(n_classes, seed=3)
    rng = np.random.default_rng(0)
    kw = {}
    if weighted:
        kw = dict(sample_weight=rng.uniform(0.1, 3.0, len(y)), class_weight={0: 2.0})
    c = l1_min_c(X, y, **kw)
    fit_kw = dict(class_weight=kw.get("class_weight"), sample_weight=kw.get("sample_weight"))
    assert _n_nonzero(c * 0.999, X, y, **fit_kw) == 0
    assert _n_nonzero(c * 1.001, X, y, **fit_kw) > 0


def test_elasticnet_threshold_scales_with_l1_ratio():
    X, y = _data(seed=4)
    c = l1_min_c(X, y, l1_ratio=0.25)
    np.testing.assert_allclose(c, 0.25 * l1_min_c(X, y), rtol=1e-12)
    kw = dict(l1_ratio=0.25)
    assert _n_nonzero(c * 0.999, X, y, **kw) == 0
    assert _n_nonzero(c * 1.001, X, y, **kw) > 0


@pytest.mark.parametrize("n_classes", [2, 3])
def test_penalty_factor_with_unpenalised_features(n_classes):
    """Features with factor 0 are fitted in the null model; the threshold is on the others."""
    X, y = _data(n_classes, seed=5)
    factor = np.ones(X.shape[1])
    factor[[1, 4]] = 0.0
    factor[2] = 3.0
    c = l1_min_c(X, y, penalty_factor=factor)
    below = LogisticRegression(l1_ratio=1.0, C=c * 0.999, tol=1e-12, penalty_factor=factor)
    below.fit(X, y)
    assert np.all(below.coef_[:, factor > 0] == 0)
    assert np.all(below.coef_[:, factor == 0] != 0)
    above = LogisticRegression(l1_ratio=1.0, C=c * 1.001, tol=1e-12, penalty_factor=factor)
    assert np.any(above.fit(X, y).coef_[:, factor > 0] != 0)


def test_bad_input():
    X, y = _data()
    with pytest.raises(ValueError, match="l1_ratio"):
        l1_min_c(X, y, l1_ratio=0.0)
    with pytest.raises(ValueError, match="penalty_factor"):
        l1_min_c(X, y, penalty_factor=np.ones(3))
    with pytest.raises(ValueError, match="penalty_factor 0"):
        l1_min_c(X, y, penalty_factor=np.zeros(X.shape[1]))
    with pytest.raises(ValueError, match="ill-posed"):
        l1_min_c(np.zeros_like(X), y)

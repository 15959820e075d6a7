"""L1 / elastic-net configuration: l1_ratio and penalty_factor validation, stored untouched,
the caller's data not modified, exact zeros in the fitted model."""

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.datasets import make_classification

from torchlogit import LogisticRegression


def _data():
    X, y = make_classification(200, 6, n_informative=3, random_state=0)
    return X, y


@pytest.mark.parametrize("l1_ratio", [-0.1, 1.5, float("nan")])
def test_l1_ratio_outside_unit_interval(l1_ratio):
    X, y = _data()
    with pytest.raises(ValueError, match="l1_ratio"):
        LogisticRegression(l1_ratio=l1_ratio).fit(X, y)


@pytest.mark.parametrize("penalty", ["l1", "l2", None])
def test_l1_ratio_with_the_wrong_penalty(penalty):
    """scikit-learn 1.9 warns (and fits with ``penalty``) where the two disagree."""
    X, y = _data()
    with pytest.warns(FutureWarning, match="'penalty' was deprecated"):
        with pytest.warns(UserWarning, match="l1_ratio parameter is only used when penalty"):
            LogisticRegression(penalty=penalty, l1_ratio=0.5).fit(X, y)


def test_elasticnet_needs_l1_ratio():
    X, y = _data()
    with pytest.warns(FutureWarning), pytest.raises(ValueError, match="l1_ratio must be specified"):
        LogisticRegression(penalty="elasticnet", l1_ratio=None).fit(X, y)


@pytest.mark.parametrize(
    ("factor", "match"),
    [
        (np.ones(5), r"shape \(6,\).*got shape \(5,\)"),
        (np.ones((6, 1)), r"shape \(6,\)"),
        (np.array([1.0, 1.0, -0.5, 1.0, 1.0, 1.0]), "feature 2"),
        (np.array([1.0, np.nan, 1.0, 1.0, 1.0, 1.0]), "feature 1"),
        (np.array([1.0, 1.0, 1.0, 1.0, 1.0, np.inf]), "feature 5"),
        (["a", "b", "c", "d", "e", "f"], "array of numbers"),
    ],
)
def test_bad_penalty_factor(factor, match):
    X, y = _data()
    with pytest.raises(ValueError, match=match):
        LogisticRegression(l1_ratio=1.0, penalty_factor=factor).fit(X, y)


def test_penalty_factor_stored_untouched_and_not_modified():
    X, y = _data()
    factor = [1.0, 0.0, 2.0, 1.0, 1.0, 1.0]
    m = LogisticRegression(l1_ratio=1.0, C=0.1, penalty_factor=factor)
    assert m.get_params()["penalty_factor"] is factor
    assert clone(m).get_params()["penalty_factor"] == factor
    arr = np.array(factor)
    X0 = X.copy()
    LogisticRegression(l1_ratio=1.0, C=0.1, penalty_factor=arr).fit(X, y)
    np.testing.assert_array_equal(arr, factor)
    np.testing.assert_array_equal(X, X0)


def test_penalty_factor_accepts_a_tensor_and_applies_to_l2():
    """penalty_factor also weights the L2 part: factor 0 on every feature equals no penalty."""
    X, y = _data()
    free = LogisticRegression(C=0.01, penalty_factor=torch.zeros(6), tol=1e-10).fit(X, y)
    none = LogisticRegression(C=np.inf, tol=1e-10).fit(X, y)
    np.testing.assert_allclose(free.coef_, none.coef_, rtol=1e-6)


def test_fitted_l1_model_has_exact_zeros_and_reports_kkt():
    X, y = _data()
    m = LogisticRegression(l1_ratio=1.0, C=0.1, tol=1e-8).fit(X, y)
    assert np.any(m.coef_ == 0) and np.any(m.coef_ != 0)
    assert m.solver_ == "cd"
    assert m.history_["gradient_norm"][-1] <= 1e-8
    obj = m.history_["objective"]
    assert np.all(np.diff(obj) <= 1e-15)  # monotone (line search)

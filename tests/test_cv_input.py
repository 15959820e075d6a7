"""LogisticRegressionCV refuses a bad grid, mixing, cv or scoring with a clear error, before
any fitting: no objective is built (the objective is where every fit starts)."""

import numpy as np
import pytest
from sklearn.model_selection import KFold

from torchlogit import LogisticRegressionCV
from torchlogit.data import ArraySource, HashFolds
from torchlogit.objective import LinearObjective


def _data(n=40, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 3))
    y = (X[:, 0] + rng.standard_normal(n) > 0).astype(int)
    return X, y


@pytest.fixture
def no_fitting(monkeypatch):
    """Any fit (any objective built) fails the test."""

    def fitted(self, *args, **kwargs):
        raise AssertionError("a fit started before the bad input was reported")

    monkeypatch.setattr(LinearObjective, "__init__", fitted)


def _three_class_with_few(n_small):
    X, y = _data(60)
    y = y.copy()
    y[:n_small] = 2
    y[n_small:][y[n_small:] == 2] = 0
    return X, y


@pytest.mark.parametrize(
    "kw, match",
    [
        (dict(Cs=0), "Cs"),
        (dict(Cs=[1.0, np.nan]), "Cs must be"),
        (dict(Cs=[1.0, np.inf]), "Cs must be"),
        (dict(Cs=[[1.0, 0.0]]), "Cs must be"),
        (dict(penalty="elasticnet", l1_ratios=[]), "l1_ratios must be given"),
        (dict(penalty="elasticnet", l1_ratios=[-0.1]), "l1_ratios must be given"),
        (dict(penalty="elasticnet", l1_ratios=[np.nan]), "l1_ratios must be given"),
        (dict(scoring="accuracy_typo"), "accuracy_typo"),
        (dict(cv=1), "cv"),
        (dict(cv=41), "41"),  # more folds than rows
        (dict(cv=HashFolds(10, seed=3)), "fold 4 has no held-out rows"),  # 40 rows, 10 hashed folds
        (
            dict(cv=[(np.arange(20), np.arange(20, 40)), (np.arange(20), np.array([], int))]),
            "empty training or held-out",
        ),
        (dict(cv=[(np.arange(20), np.arange(20, 40)), (np.arange(20), np.array([99]))]), "outside"),
    ],
)
def test_bad_parameters_fail_before_any_fit(no_fitting, kw, match):
    X, y = _data()
    with pytest.raises(ValueError, match=match):
        LogisticRegressionCV(Cs=kw.pop("Cs", [0.1, 1.0]), **kw).fit(X, y)


def test_more_folds_than_rows_of_a_class(no_fitting):
    X, y = _three_class_with_few(3)  # class 2 has 3 rows, 5 folds
    with pytest.raises(ValueError, match="5 folds but class 2 has only 3 rows"):
        LogisticRegressionCV(Cs=[1.0], cv=KFold(5)).fit(X, y)
    with pytest.raises(ValueError, match="4 folds but class 2 has only 3 rows"):
        LogisticRegressionCV(Cs=[1.0], cv=4).fit(ArraySource(X, y, chunk_rows=16))


def test_a_fold_whose_training_rows_miss_a_class(no_fitting):
    X, y = _three_class_with_few(6)  # class 2 is rows 0..5: one fold holds all of them out
    splits = [(np.arange(6, 60), np.arange(6)), (np.arange(30), np.arange(30, 60))]
    with pytest.raises(ValueError, match="fold 0's training rows have no row of class 2"):
        LogisticRegressionCV(Cs=[1.0], cv=splits).fit(X, y)


def test_zero_weight_fold(no_fitting):
    X, y = _data()
    sw = np.ones(40)
    sw[:20] = 0.0
    splits = [(np.arange(20), np.arange(20, 40)), (np.arange(20, 40), np.arange(20))]
    with pytest.raises(ValueError, match="fold 0's training rows all have zero weight"):
        LogisticRegressionCV(Cs=[1.0], cv=splits).fit(X, y, sw)


def test_good_input_does_fit():
    # the checks above do not refuse a valid problem (and the fixture really blocks fits)
    X, y = _data()
    clf = LogisticRegressionCV(Cs=[0.1, 1.0], cv=KFold(4)).fit(X, y)
    assert clf.scores_.shape == (4, 1, 2)

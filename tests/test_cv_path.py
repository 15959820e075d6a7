"""Every point of a cross-validation path is the single fit of that C on the fold's training
rows (L1 and elastic-net: the same zeros), binary and multinomial."""

import numpy as np
import pytest
from sklearn.datasets import make_classification
from sklearn.model_selection import StratifiedKFold
from sklearn.preprocessing import StandardScaler

from torchlogit import LogisticRegression, LogisticRegressionCV

CV = StratifiedKFold(3, shuffle=True, random_state=0)


def _data(n_classes, n=240, d=8, seed=2):
    X, y = make_classification(
        n, d, n_informative=4, n_classes=n_classes, n_clusters_per_class=1, random_state=seed
    )
    X = StandardScaler().fit_transform(X)
    sw = np.random.default_rng(seed).uniform(0.5, 2.0, n)
    return X, y, sw


@pytest.mark.parametrize(
    "n_classes, penalty, ratio", [(2, "l1", None), (3, "l1", None), (3, "elasticnet", 0.6)]
)
def test_path_points_are_single_fits_with_the_same_zeros(n_classes, penalty, ratio):
    X, y, sw = _data(n_classes)
    Cs = [0.02, 0.08, 0.4, 3.0]
    kw = dict(tol=1e-10, max_iter=2000)
    ratios = None if ratio is None else [ratio]
    ours = LogisticRegressionCV(Cs=Cs, cv=CV, penalty=penalty, l1_ratios=ratios, **kw)
    ours.fit(X, y, sw)
    paths = ours.coefs_paths_[:, 0]  # (folds, Cs, m, d + 1)
    assert (paths[..., :-1] == 0).any() and (paths[..., :-1] != 0).any()
    for f, (train, _) in enumerate(CV.split(X, y)):
        for k, C in enumerate(Cs):
            one = LogisticRegression(C=C, l1_ratio=1.0 if ratio is None else ratio, **kw)
            one.fit(X[train], y[train], sw[train])
            got = paths[f, k]
            np.testing.assert_allclose(got[:, :-1], one.coef_, rtol=0, atol=1e-8)
            np.testing.assert_allclose(got[:, -1], one.intercept_, rtol=0, atol=1e-8)
            assert np.array_equal(got[:, :-1] == 0, one.coef_ == 0), (f, C)

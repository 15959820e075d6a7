import numpy as np
from sklearn.datasets import make_blobs

from torchlogit import LogisticRegression


def test_two_blobs_fit_predicts_well():
    X, y = make_blobs(n_samples=400, centers=2, n_features=2, cluster_std=1.0, random_state=0)
    clf = LogisticRegression().fit(X, y)
    assert clf.coef_.shape == (1, 2)
    assert clf.score(X, y) > 0.95
    proba = clf.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=0, atol=1e-12)

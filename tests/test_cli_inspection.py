"""The numbers behind ``evaluate`` and ``report``, against scikit-learn's metrics directly."""

import math

import numpy as np
import pytest
from sklearn.datasets import make_classification
from sklearn.metrics import accuracy_score, confusion_matrix, log_loss, roc_auc_score

from torchlogit import LogisticRegression
from torchlogit.inspection import check_labels, classification_metrics, format_metrics


@pytest.fixture(scope="module")
def multiclass():
    X, y = make_classification(n_samples=200, n_features=5, n_informative=4, n_redundant=0,
                               n_classes=4, random_state=3)  # fmt: skip
    labels = np.array(["ant", "bee", "cat", "dog"])[y]
    return LogisticRegression(C=0.3).fit(X, labels), X, labels


def test_metrics_match_sklearn_multiclass(multiclass):
    clf, X, y = multiclass
    m = classification_metrics(clf, X, y)
    proba = clf.predict_proba(X)
    assert m["accuracy"] == accuracy_score(y, clf.predict(X))
    assert m["log_loss"] == pytest.approx(log_loss(y, proba), rel=1e-12)
    assert m["roc_auc"] == pytest.approx(
        roc_auc_score(y, proba, multi_class="ovr", labels=clf.classes_), rel=1e-12
    )
    np.testing.assert_array_equal(m["confusion_matrix"], confusion_matrix(y, clf.predict(X)))
    text = format_metrics(m)
    assert "accuracy" in text and "ant" in text and "dog" in text


def test_auc_is_nan_when_a_class_is_absent(multiclass):
    clf, X, y = multiclass
    keep = y != "dog"
    m = classification_metrics(clf, X[keep], y[keep])
    assert math.isnan(m["roc_auc"])
    assert m["confusion_matrix"].shape == (4, 4) and m["confusion_matrix"][3].sum() == 0
    assert np.isfinite(m["log_loss"])


def test_unknown_label_names_its_row(multiclass):
    clf, X, y = multiclass
    y = y.copy()
    y[7] = "eel"
    with pytest.raises(ValueError, match=r"row 8: label 'eel' is not one of the model's classes"):
        check_labels(clf, y)


def test_plots_cap_the_number_of_class_curves(tmp_path):
    from torchlogit.inspection import plot_roc

    rng = np.random.default_rng(0)
    proba = rng.dirichlet(np.ones(12), size=300)
    y = rng.integers(0, 12, size=300)
    path = plot_roc(y, proba, np.arange(12), tmp_path / "roc.png")
    assert path.read_bytes()[:4] == b"\x89PNG"

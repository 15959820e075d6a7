"""The report's standard-error section (#16): the table of ``coef_table`` on the training
rows and a forest plot, or a sentence saying why not."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from torchlogit import LogisticRegression
from torchlogit.inspection import write_report


def _data(n=300, seed=0):
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(rng.standard_normal((n, 3)), columns=["a", "b", "c"])
    y = (X["a"] - X["b"] + rng.logistic(size=n) > 0).astype(int)
    return X, y


def test_in_sample_report_shows_the_coef_table_and_a_forest_plot(tmp_path):
    X, y = _data()
    clf = LogisticRegression(C=np.inf, tol=1e-10).fit(X, y)
    page = write_report(clf, X, y, tmp_path / "r", in_sample=True)
    html = page.read_text()
    assert (tmp_path / "r" / "forest.png").exists() and 'src="forest.png"' in html
    t = clf.coef_table(X, y)
    assert f"{t.loc['a', 'std_err']:.5g}" in html and f"{t.loc['b', 'p_value']:.5g}" in html


def test_held_out_without_training_rows_or_l1_says_why(tmp_path):
    X, y = _data()
    clf = LogisticRegression(C=np.inf).fit(X, y)
    html = write_report(clf, X, y, tmp_path / "held", in_sample=False).read_text()
    assert "pass the training file with --train" in html
    assert not (tmp_path / "held" / "forest.png").exists()
    with warnings.catch_warnings():  # penalty= is deprecated in scikit-learn >= 1.8's API
        warnings.simplefilter("ignore", FutureWarning)
        l1 = LogisticRegression("l1", C=0.5).fit(X, y)
    html = write_report(l1, X, y, tmp_path / "l1", in_sample=True).read_text()
    assert "penalty=None" in html and "Forest plot: not drawn" in html


def test_multinomial_forest_has_a_row_per_class_and_term(tmp_path):
    X, _ = _data()
    y = np.digitize(X["a"] + X["c"], [-0.5, 0.5])
    clf = LogisticRegression(C=np.inf, tol=1e-10).fit(X, y)
    html = write_report(clf, X, y, tmp_path / "m", in_sample=True).read_text()
    assert "1 · a" in html and "2 · c" in html and (tmp_path / "m" / "forest.png").exists()


def test_quasi_separated_terms_are_named_in_a_note(tmp_path):
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"a": rng.standard_normal(400), "sep": rng.standard_normal(400)})
    X.loc[:59, "sep"] = 0.0  # ties at sep = 0 hold both classes; sep > 0 => y = 1
    y = (X["sep"] > 0).to_numpy().astype(int)
    y[:60] = rng.integers(0, 2, 60)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf = LogisticRegression(C=np.inf, tol=1e-10).fit(X, y)
    html = write_report(clf, X, y, tmp_path / "q", in_sample=True).read_text()
    assert 'class="note">note: Perfect separation or prediction detected' in html
    assert "separated along sep:" in html and "along a:" not in html

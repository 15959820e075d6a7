"""What the report says (issue #12): which data and whether in-sample, class balance,
per-class precision / recall / F1, the coefficient table with the intercept and non-zero
count, only non-default settings, placeholders and no leaked warnings; column names with
``$`` (#13 item 16)."""

import re
import warnings

import numpy as np
import pytest

pd = pytest.importorskip("pandas")

from torchlogit import LogisticRegression  # noqa: E402
from torchlogit.cli import main  # noqa: E402
from torchlogit.inspection import write_report  # noqa: E402


def _frame(n=200, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 4))
    df = pd.DataFrame(X, columns=["$x$", "a$b", "c", "d"])
    df["y"] = np.where(X[:, 0] - X[:, 1] + rng.standard_normal(n) > 0, "pos", "neg")
    return df


def test_report_says_in_sample_and_shows_held_out_beside(tmp_path, capsys):
    df = _frame()
    df.iloc[:150].to_csv(tmp_path / "train.csv", index=False)
    df.iloc[150:].to_csv(tmp_path / "test.csv", index=False)
    model = tmp_path / "m.safetensors"
    argv = ["fit", str(tmp_path / "train.csv"), "--target", "y", "--out", str(model), "-q"]
    assert main([*argv, "--C", "0.5"]) == 0
    assert main(["report", str(model), str(tmp_path / "train.csv"), "--out",
                 str(tmp_path / "r1")]) == 0  # fmt: skip
    page = (tmp_path / "r1" / "index.html").read_text()
    assert "in-sample</span>" in page and "150 rows" in page and "target column <b>y</b>" in page
    argv = ["report", str(model), str(tmp_path / "test.csv"), "--train"]
    assert main([*argv, str(tmp_path / "train.csv"), "--out", str(tmp_path / "r2")]) == 0
    page = (tmp_path / "r2" / "index.html").read_text()
    assert "held-out</span>" in page and "this data (held-out)" in page
    assert "training data (in-sample)" in page
    assert "$x$" in page and "a$b" in page  # names with $ shown as written, plots drawn
    assert (tmp_path / "r2" / "coefficients.png").stat().st_size > 0


def test_report_tables(tmp_path):
    from sklearn.metrics import precision_recall_fscore_support

    df = _frame(300, seed=1)
    X, y = df[["$x$", "a$b", "c", "d"]], df["y"].to_numpy()
    clf = LogisticRegression(l1_ratio=1.0, C=0.05, solver="cd").fit(X, y)
    page = write_report(clf, X, y, tmp_path / "r").read_text()
    # class balance
    for c in ("neg", "pos"):
        n = int(np.sum(y == c))
        assert re.search(rf"<td class=\"l\">{c}</td><td>{n}</td><td>{n / len(y):.1%}</td>", page)
    # per-class precision / recall / F1 from scikit-learn
    p, r, f, s = precision_recall_fscore_support(y, clf.predict(X), labels=clf.classes_)
    for k in range(len(clf.classes_)):
        assert f"<td>{p[k]:.3f}</td><td>{r[k]:.3f}</td><td>{f[k]:.3f}</td><td>{s[k]}</td>" in page
    # coefficients with the intercept and the non-zero count
    nz = int(np.count_nonzero(clf.coef_))
    assert nz < 4 and f"<b>{nz} of 4</b> coefficients are non-zero" in page
    assert f'<td class="l">(intercept)</td><td>{clf.intercept_[0]:.5g}</td>' in page
    # only the settings that differ from the defaults, in plain words
    settings = page.split("Settings (non-default only)")[1].split("</table>")[0]
    assert ">C<" in settings and ">l1_ratio<" in settings and ">solver<" in settings
    assert ">tol<" not in settings and ">max_iter<" not in settings


def test_one_class_data_gives_placeholders_and_no_warnings(tmp_path):
    df = _frame()
    X, y = df[["$x$", "a$b", "c", "d"]], df["y"].to_numpy()
    clf = LogisticRegression().fit(X, y)
    keep = y == "pos"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        page = write_report(clf, X[keep], y[keep], tmp_path / "r").read_text()
    assert [str(w.message) for w in caught] == []
    assert "ROC curve: not drawn" in page and "Precision–recall curve: not drawn" in page
    assert "the data hold only class pos" in page and "n/a (class neg absent)" in page
    assert not (tmp_path / "r" / "roc.png").exists()

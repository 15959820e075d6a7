"""``torchlogit report`` on a cross-validated model: the CV table, the CV curve and the
coefficient paths, their numbers against the model's ``scores_`` / ``coefs_paths_`` and the
min / 1se choices against the estimator's ``C_`` and the rule's definition."""

import re

import numpy as np
import pytest

pd = pytest.importorskip("pandas")
pytest.importorskip("pyarrow")
pytest.importorskip("matplotlib")

import torchlogit  # noqa: E402
from torchlogit.cli import main  # noqa: E402
from torchlogit.inspection import cv_summary, format_cv_table, plot_cv_curve, plot_cv_paths  # noqa: E402

PNG = b"\x89PNG\r\n\x1a\n"


def _data(n=240, n_classes=2, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 4))
    W = rng.standard_normal((n_classes, 4)) * [1.5, 1.0, 0.3, 0.0]
    y = (X @ W.T + rng.gumbel(size=(n, n_classes))).argmax(axis=1)
    return pd.DataFrame(X, columns=["a", "b", "c", "d"]), y


def _one_se(model, r=None):
    """The 1se choice from its definition (glmnet's lambda.1se), independently of the code."""
    scores = model.scores_
    F = scores.shape[0]
    mean = scores.mean(axis=0)
    r0, k0 = np.unravel_index(np.argmax(mean), mean.shape)
    se = scores[:, r0, k0].std(ddof=1) / np.sqrt(F)
    ok = np.flatnonzero(mean[r0] >= mean[r0, k0] - se)
    return int(r0), int(ok[np.argmin(model.Cs_[ok])]), int(k0)


@pytest.mark.parametrize(
    "kw",
    [
        dict(Cs=10, selection="1se"),
        dict(Cs=10, penalty="l1", selection="1se"),
        dict(Cs=10, penalty="l1", selection="min"),
        dict(Cs=[0.05, 0.2, 1, 5], penalty="elasticnet", l1_ratios=[0.3, 0.8], selection="1se"),
    ],
)
def test_the_summary_choices_are_the_estimators(kw):
    X, y = _data(n_classes=3 if "l1_ratios" in kw else 2)
    model = torchlogit.LogisticRegressionCV(cv=4, **kw).fit(X, y)
    s = cv_summary(model)
    r, k = s[model.selection]
    assert s["Cs"][k] == model.C_
    if "l1_ratios" in kw:
        assert s["l1_ratios"][r] == model.l1_ratio_
    r1, k1, k0 = _one_se(model)
    assert s["1se"] == (r1, k1) and s["min"] == (r1, k0)
    np.testing.assert_allclose(s["mean"], model.scores_.mean(axis=0), rtol=0, atol=1e-15)
    np.testing.assert_allclose(s["coef_paths"], model.coefs_paths_.mean(axis=0), atol=1e-15)


def test_report_of_a_cv_model_has_the_table_and_both_figures(tmp_path, capsys):
    X, y = _data(n=300)
    df = X.assign(y=y)
    data = tmp_path / "train.parquet"
    df.to_parquet(data, index=False)
    model_path = tmp_path / "m.safetensors"
    argv = ["fit", str(data), "--target", "y", "--out", str(model_path), "--cv", "4",
            "--Cs", "8", "--penalty", "l1", "--selection", "1se", "-q"]  # fmt: skip
    assert main(argv) == 0
    out = tmp_path / "report"
    assert main(["report", str(model_path), str(data), "--out", str(out)]) == 0
    capsys.readouterr()
    page = (out / "index.html").read_text()
    for name in ("cv_curve.png", "cv_paths.png"):
        assert (out / name).read_bytes().startswith(PNG)
        assert f'src="{name}"' in page
    assert "<h2>Cross-validation</h2>" in page
    model = torchlogit.load(model_path)
    section = page.split("<h2>Cross-validation</h2>")[1].split("<h2>")[0]
    cells = re.findall(r"<tr>(.*?)</tr>", section, re.S)[1:]  # the header row first
    rows = [re.findall(r"<td[^>]*>(.*?)</td>", c) for c in cells]
    mean = model.scores_[:, 0].mean(axis=0)
    assert len(rows) == len(model.Cs_)
    for k, row in enumerate(rows):
        assert float(row[0]) == pytest.approx(model.Cs_[k], rel=1e-3)
        assert float(row[1]) == pytest.approx(mean[k], rel=1e-5)
    _, k1, k0 = _one_se(model)
    assert k1 != k0  # the case tells the two rules apart
    assert rows[k1][-1] == "1se (chosen)" and rows[k0][-1] == "min"
    assert "C (cross-validated)" in page and f"{model.C_:.4g}, selection 1se" in page
    # a plain model's report has no CV section
    plain = tmp_path / "plain.safetensors"
    assert main(["fit", str(data), "--target", "y", "--out", str(plain), "-q"]) == 0
    assert main(["report", str(plain), str(data), "--out", str(tmp_path / "r2")]) == 0
    assert "Cross-validation" not in (tmp_path / "r2" / "index.html").read_text()
    assert not (tmp_path / "r2" / "cv_curve.png").exists()


@pytest.fixture
def drawn(monkeypatch):
    """The figures the plot functions save (matplotlib's Figure.savefig, recorded)."""
    from matplotlib.figure import Figure

    figures = []
    save = Figure.savefig

    def record(self, *args, **kwargs):
        figures.append(self)
        return save(self, *args, **kwargs)

    monkeypatch.setattr(Figure, "savefig", record)
    return figures


def test_the_curve_and_paths_plot_the_models_numbers(tmp_path, drawn):
    X, y = _data(n_classes=3)
    model = torchlogit.LogisticRegressionCV(Cs=6, cv=3, penalty="l1", selection="1se").fit(X, y)
    s = cv_summary(model)
    plot_cv_curve(s, tmp_path / "curve.png", scoring="neg_log_loss", selection="1se")
    plot_cv_paths(s, ["a", "b", "c", "d"], model.classes_, tmp_path / "paths.png")
    curve, paths = drawn
    ax = curve.axes[0]
    x = np.log10(model.Cs_)
    F = model.scores_.shape[0]
    (container,) = ax.containers  # the error bars
    line = container.lines[0]
    np.testing.assert_allclose(line.get_xdata(), x)
    np.testing.assert_allclose(line.get_ydata(), model.scores_[:, 0].mean(axis=0))
    segments = container.lines[2][0].get_segments()
    half = [(seg[1][1] - seg[0][1]) / 2 for seg in segments]
    np.testing.assert_allclose(half, model.scores_[:, 0].std(axis=0, ddof=1) / np.sqrt(F))
    _, k1, k0 = _one_se(model)
    vertical = sorted(ln.get_xdata()[0] for ln in ax.lines if len(set(ln.get_xdata())) == 1)
    np.testing.assert_allclose(vertical, sorted([x[k0], x[k1]]))
    panels = [a for a in paths.axes if a.get_visible()]
    assert len(panels) == 3  # one per class's logit
    mean_paths = model.coefs_paths_.mean(axis=0)[0]  # (Cs, 3, d + 1)
    for j, panel in enumerate(panels):
        drawn_paths = [ln for ln in panel.lines if len(ln.get_xdata()) == len(x)]
        assert len(drawn_paths) == 4  # every feature, no intercept
        for i, ln in enumerate(drawn_paths):
            np.testing.assert_allclose(ln.get_ydata(), mean_paths[:, j, i])


def test_text_table_has_one_row_per_grid_point():
    X, y = _data()
    model = torchlogit.LogisticRegressionCV(
        Cs=[0.1, 1.0], cv=3, penalty="elasticnet", l1_ratios=[0.5, 1.0]
    ).fit(X, y)
    lines = format_cv_table(model).splitlines()
    assert lines[0].split()[:2] == ["C", "l1_ratio"] and len(lines) == 5
    assert sum("(chosen)" in line for line in lines) == 1

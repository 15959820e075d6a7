"""``torchlogit summary``: the estimator's summary on a file's rows, in the command's words."""

from __future__ import annotations

import numpy as np
import pytest

from torchlogit.cli import main

sm = pytest.importorskip("statsmodels.api")


@pytest.fixture
def spector(tmp_path):
    data = sm.datasets.spector.load_pandas().data
    path = tmp_path / "spector.csv"
    data.assign(unit=np.arange(len(data)) % 8).to_csv(path, index=False)
    model = tmp_path / "m.safetensors"
    argv = ["fit", str(path), "--target", "GRADE", "--exclude", "unit", "--penalty", "none"]
    assert main([*argv, "--tol", "1e-10", "--out", str(model), "--quiet"]) == 0
    return data, path, model


def test_summary_prints_statsmodels_standard_errors(spector, capsys):
    data, path, model = spector
    capsys.readouterr()
    assert main(["summary", str(model), str(path), "--cov-type", "HC0"]) == 0
    out = capsys.readouterr().out
    X = sm.add_constant(data[["GPA", "TUCE", "PSI"]])
    ref = sm.Logit(data["GRADE"], X).fit(disp=0, cov_type="HC0")
    rows = {line.split()[0]: line.split() for line in out.splitlines() if line.strip()}
    for name, se in zip(["intercept", "GPA", "TUCE", "PSI"], ref.bse, strict=True):
        assert float(rows[name][2]) == pytest.approx(se, rel=1e-3)  # printed to 4 digits
    assert "Covariance type   HC0" in out


def test_summary_cluster_needs_groups_in_flags(spector, capsys):
    _, path, model = spector
    assert main(["summary", str(model), str(path), "--cov-type", "cluster"]) == 1
    assert "--cov-type cluster and --groups COL go together" in capsys.readouterr().err
    assert (
        main(["summary", str(model), str(path), "--cov-type", "cluster", "--groups", "unit"]) == 0
    )
    assert main(["summary", str(model), str(path), "--cov-type", "cluster", "--groups", "x"]) == 1
    assert "no column 'x' (--groups)" in capsys.readouterr().err


def test_summary_of_collinear_columns_names_them(tmp_path, capsys):
    import pandas as pd

    rng = np.random.default_rng(0)
    df = pd.DataFrame({"a": rng.standard_normal(200), "b": rng.standard_normal(200)})
    df["c"] = df["a"] + 2 * df["b"]  # statsmodels: a bare "Singular matrix"
    df["y"] = (df["a"] + rng.logistic(size=200) > 0).astype(int)
    path, model = tmp_path / "col.csv", tmp_path / "col.safetensors"
    df.to_csv(path, index=False)
    argv = ["fit", str(path), "--target", "y", "--penalty", "none", "--out", str(model)]
    assert main([*argv, "--quiet"]) == 0
    capsys.readouterr()
    assert main(["summary", str(model), str(path)]) == 1
    err = capsys.readouterr().err
    assert "these terms are collinear" in err and "{a, b, c}" in err and "Traceback" not in err

"""The command line: fit / predict / evaluate / report / demo on generated CSV and Parquet."""

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pd = pytest.importorskip("pandas")
pytest.importorskip("pyarrow")

import torchlogit  # noqa: E402
from torchlogit.cli import COMMANDS, build_parser, main  # noqa: E402

SRC = Path(__file__).resolve().parents[1] / "src"


def _frame(n=240, d=3, n_classes=2, seed=0, labels=None):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    W = rng.standard_normal((n_classes, d)) * 2
    y = (X @ W.T + rng.gumbel(size=(n, n_classes))).argmax(axis=1)
    df = pd.DataFrame(X, columns=[f"f{j}" for j in range(d)])
    df["target"] = np.asarray(labels)[y] if labels is not None else y
    return df


def _write(df, path):
    if str(path).endswith(".csv"):
        df.to_csv(path, index=False)
    else:
        df.to_parquet(path, index=False)
    return path


@pytest.fixture(params=["csv", "parquet"])
def fmt(request):
    return request.param


def test_fit_predict_evaluate_report(tmp_path, fmt, capsys):
    df = _frame(labels=np.array(["no", "yes"]))
    data = _write(df, tmp_path / f"train.{fmt}")
    model = tmp_path / "model.safetensors"
    assert main(["fit", str(data), "--target", "target", "--out", str(model), "--C", "0.5"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"\[newton\] iter +0 +objective", out)  # per-iteration progress
    clf = torchlogit.load(model)
    n_iter = int(clf.n_iter_[0])
    assert f"{n_iter} iterations" in out
    assert f"objective {clf.history_['objective'][-1]:.10g}" in out
    assert re.search(r"time \d+\.\d+ s", out)
    X = df[["f0", "f1", "f2"]]
    acc = float(np.mean(clf.predict(X) == df["target"].to_numpy()))
    assert f"training accuracy {acc:.4f}" in out
    assert clf.C == 0.5 and clf.verbose == 0
    assert list(clf.feature_names_in_) == ["f0", "f1", "f2"]
    # the same fit in Python gives the same coefficients
    ref = torchlogit.LogisticRegression(C=0.5).fit(X, df["target"])
    np.testing.assert_allclose(clf.coef_, ref.coef_, rtol=1e-12, atol=1e-14)

    for out_fmt in ("csv", "parquet"):
        pred = tmp_path / f"pred.{out_fmt}"
        assert main(["predict", str(model), str(data), "--out", str(pred), "--keep", "f0"]) == 0
        got = pd.read_csv(pred) if out_fmt == "csv" else pd.read_parquet(pred)
        assert list(got.columns) == ["f0", "proba_no", "proba_yes", "label"]
        np.testing.assert_allclose(
            got[["proba_no", "proba_yes"]].to_numpy(), clf.predict_proba(X), rtol=1e-15, atol=0
        )
        np.testing.assert_array_equal(got["label"].to_numpy(), clf.predict(X))

    capsys.readouterr()
    assert main(["evaluate", str(model), str(data)]) == 0
    out = capsys.readouterr().out
    from sklearn.metrics import log_loss, roc_auc_score

    proba = clf.predict_proba(X)
    assert f"accuracy  {acc:.6f}" in out
    assert f"log-loss  {log_loss(df['target'], proba):.6f}" in out
    assert f"ROC AUC   {roc_auc_score(df['target'] == 'yes', proba[:, 1]):.6f}" in out
    assert re.search(r"no +\d+ +\d+", out) and re.search(r"yes +\d+ +\d+", out)

    report = tmp_path / "report"
    assert main(["report", str(model), str(data), "--out", str(report)]) == 0
    page = (report / "index.html").read_text()
    pngs = sorted(p.name for p in report.glob("*.png"))
    # in-sample (DATA is the training file) and L2: the standard-error forest plot too
    assert pngs == sorted(
        ["objective.png", "roc.png", "precision_recall.png", "calibration.png", "coefficients.png",
         "forest.png"]
    )  # fmt: skip
    for name in pngs:
        assert f'src="{name}"' in page
        assert (report / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "Confusion matrix" in page


def test_multiclass_two_features_report_has_decision_boundary(tmp_path, fmt):
    df = _frame(n=300, d=2, n_classes=3)
    data = _write(df, tmp_path / f"train.{fmt}")
    model = tmp_path / "m.safetensors"
    assert main(["fit", str(data), "--target", "target", "--out", str(model), "--quiet"]) == 0
    clf = torchlogit.load(model)
    assert clf.classes_.tolist() == [0, 1, 2]
    report = tmp_path / "r"
    assert main(["report", str(model), str(data), "--out", str(report)]) == 0
    assert (report / "decision_boundary.png").exists()
    assert 'src="decision_boundary.png"' in (report / "index.html").read_text()


def test_fit_options_pass_through(tmp_path):
    df = _frame()
    data = _write(df, tmp_path / "train.csv")
    model = tmp_path / "m.safetensors"
    argv = ["fit", str(data), "--target", "target", "--out", str(model), "--quiet"]
    argv += ["--penalty", "none", "--solver", "lbfgs", "--max-iter", "60", "--tol", "1e-7"]
    argv += ["--features", "f0", "f2", "--dtype", "float32", "--class-weight", "balanced"]
    argv += ["--device", "cpu"]
    assert main(argv) == 0
    clf = torchlogit.load(model)
    p = clf.get_params()
    assert p["C"] == np.inf and p["solver"] == "lbfgs" and p["max_iter"] == 60
    assert p["tol"] == 1e-7 and p["dtype"] == "float32" and p["class_weight"] == "balanced"
    assert list(clf.feature_names_in_) == ["f0", "f2"] and clf.coef_.dtype == np.float32
    assert main([*argv[:6], "--no-intercept", "--quiet", "--force"]) == 0
    assert torchlogit.load(model).fit_intercept is False


def test_penalty_options_reach_the_estimator():
    """l1 / elastic-net reach LogisticRegression unchanged (their solvers live elsewhere)."""
    from torchlogit.cli._fit import estimator_from_args

    parser = build_parser()
    args = parser.parse_args(
        [
            "fit",
            "d.csv",
            "--target",
            "y",
            "--out",
            "m",
            "--penalty",
            "elasticnet",
            "--l1-ratio",
            "0.3",
            "--C",
            "2",
            "--solver",
            "fista",
            "--max-iter",
            "7",
            "--tol",
            "0.01",
        ]
    )
    p = estimator_from_args(args).get_params()
    # --penalty reaches the estimator in scikit-learn 1.8+'s words (penalty is deprecated)
    assert (p["penalty"], p["l1_ratio"], p["C"], p["solver"]) == ("deprecated", 0.3, 2.0, "fista")
    assert (p["max_iter"], p["tol"], p["verbose"]) == (7, 0.01, 1)


@pytest.mark.parametrize("command", ["fit", "predict", "evaluate", "report", "demo"])
def test_help_on_every_command(command, capsys):
    assert command in COMMANDS
    with pytest.raises(SystemExit) as info:
        main([command, "--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: torchlogit {command}")


def _fails(argv, capsys, *, match):
    """The command exits non-zero with one line on stderr that matches ``match``."""
    code = main(argv)
    err = capsys.readouterr().err
    assert code != 0
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    assert re.search(match, lines[0]), lines[0]
    return lines[0]


@pytest.fixture
def fitted(tmp_path):
    df = _frame()
    data = _write(df, tmp_path / "train.csv")
    model = tmp_path / "m.safetensors"
    assert main(["fit", str(data), "--target", "target", "--out", str(model), "--quiet"]) == 0
    return df, model


def test_bad_training_files(tmp_path, capsys, fmt):
    df = _frame()
    out = tmp_path / "m.safetensors"
    good = _write(df, tmp_path / f"good.{fmt}")
    _fails(
        ["fit", str(good), "--target", "label", "--out", str(out)],
        capsys,
        match=r"good\.\w+: no column 'label' \(the columns are 'f0', 'f1', 'f2', 'target",
    )

    bad = df.astype({"f1": object})
    bad.loc[16, "f1"] = "abc"
    path = _write(bad.astype({"f1": str}), tmp_path / f"text.{fmt}")
    where = r"row 17 \(line 18\)" if fmt == "csv" else r"row 17"
    _fails(
        ["fit", str(path), "--target", "target", "--out", str(out)],
        capsys,
        match=rf"text\.\w+: column 'f1', {where}: 'abc' is not a number",
    )

    bad = df.copy()
    bad.loc[4, "f2"] = np.nan
    path = _write(bad, tmp_path / f"nan.{fmt}")
    _fails(
        ["fit", str(path), "--target", "target", "--out", str(out)],
        capsys,
        match=r"column 'f2', row 5.*missing value",
    )

    bad = df.astype({"target": float})
    bad.loc[9, "target"] = np.nan
    path = _write(bad, tmp_path / f"nolabel.{fmt}")
    _fails(
        ["fit", str(path), "--target", "target", "--out", str(out)],
        capsys,
        match=r"column 'target', row 10.*missing label",
    )

    path = _write(df.iloc[:0], tmp_path / f"header_only.{fmt}")
    _fails(
        ["fit", str(path), "--target", "target", "--out", str(out)],
        capsys,
        match=r"header_only\.\w+: .*no data rows",
    )
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def test_empty_and_unreadable_files(tmp_path, capsys):
    out = tmp_path / "m.safetensors"
    (tmp_path / "empty.csv").write_text("")
    _fails(
        ["fit", str(tmp_path / "empty.csv"), "--target", "y", "--out", str(out)],
        capsys,
        match=r"empty\.csv: the file is empty",
    )
    (tmp_path / "junk.parquet").write_bytes(b"not parquet at all")
    _fails(
        ["fit", str(tmp_path / "junk.parquet"), "--target", "y", "--out", str(out)],
        capsys,
        match=r"junk\.parquet: cannot read it as PARQUET",
    )
    _fails(
        ["fit", str(tmp_path / "nope.csv"), "--target", "y", "--out", str(out)],
        capsys,
        match=r"nope\.csv: no such file",
    )
    (tmp_path / "data.xlsx").write_text("a,b")
    _fails(
        ["fit", str(tmp_path / "data.xlsx"), "--target", "y", "--out", str(out)],
        capsys,
        match=r"data\.xlsx: unknown file type",
    )
    (tmp_path / "one_class.csv").write_text("a,y\n1,0\n2,0\n")
    _fails(
        ["fit", str(tmp_path / "one_class.csv"), "--target", "y", "--out", str(out)],
        capsys,
        match=r"only one class",
    )
    assert not out.exists()


def test_bad_prediction_inputs_leave_no_output(tmp_path, capsys, fitted):
    df, model = fitted
    pred = tmp_path / "pred.csv"
    short = _write(df.drop(columns=["f2"]), tmp_path / "short.csv")
    _fails(
        ["predict", str(model), str(short), "--out", str(pred)],
        capsys,
        match=r"short\.csv: the model needs 3 feature columns and 1 are missing \('f2",
    )
    bad = df.astype({"f0": object})
    bad.loc[2, "f0"] = "x"
    bad = _write(bad.astype({"f0": str}), tmp_path / "bad.csv")
    _fails(
        ["predict", str(model), str(bad), "--out", str(pred)],
        capsys,
        match=r"bad\.csv: column 'f0', row 3 \(line 4\): 'x' is not a number",
    )
    _fails(
        ["predict", str(bad), str(short), "--out", str(pred)],
        capsys,
        match=r"bad\.csv: is a data table, not a model; the first argument must be a model",
    )
    assert not pred.exists()

    # a model without feature names checks the number of columns
    X = df[["f0", "f1", "f2"]].to_numpy()
    torchlogit.LogisticRegression().fit(X, df["target"]).save(tmp_path / "nonames.safetensors")
    wide = df.assign(f3=1.0)
    wide = _write(wide.drop(columns=["target"]), tmp_path / "wide.parquet")
    _fails(
        ["predict", str(tmp_path / "nonames.safetensors"), str(wide), "--out", str(pred)],
        capsys,
        match=r"wide\.parquet: has 4 feature columns but the model expects",
    )
    assert not pred.exists()

    # unknown labels when evaluating; no target recorded
    other = _write(df.assign(target=df["target"] + 5), tmp_path / "other.csv")
    _fails(
        ["evaluate", str(model), str(other)],
        capsys,
        match=r"other\.csv: column 'target', row 1: label 5 is not one of .*\[0, 1",
    )
    _fails(
        ["evaluate", str(tmp_path / "nonames.safetensors"), str(other)],
        capsys,
        match=r"does not record its target column; give it with --target",
    )
    report = tmp_path / "report"
    _fails(["report", str(model), str(other), "--out", str(report)], capsys, match="label 5")
    assert not report.exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_failed_report_leaves_nothing(tmp_path, capsys, fitted, monkeypatch):
    df, model = fitted
    data = _write(df, tmp_path / "d.parquet")
    from torchlogit.inspection import _plots

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(_plots, "plot_calibration", broken)
    _fails(
        ["report", str(model), str(data), "--out", str(tmp_path / "rep")], capsys, match="disk full"
    )
    assert not (tmp_path / "rep").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_warnings_are_one_line(tmp_path, capsys):
    df = _frame(n=200)
    data = _write(df, tmp_path / "d.csv")
    argv = ["fit", str(data), "--target", "target", "--out", str(tmp_path / "m.safetensors")]
    argv += ["--quiet"]
    assert main([*argv, "--max-iter", "1", "--solver", "lbfgs"]) == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("torchlogit fit: warning: solver 'lbfgs' did not")


def test_demo_writes_report(tmp_path, capsys):
    report = tmp_path / "demo-report"
    assert main(["demo", "--report-dir", str(report)]) == 0
    out = capsys.readouterr().out
    assert "breast cancer" in out and "torchlogit" in out and "scikit-learn" in out
    assert f"report on the breast-cancer fit: {report / 'index.html'}" in out
    page = (report / "index.html").read_text()
    for name in ("objective", "roc", "precision_recall", "calibration", "coefficients"):
        assert (report / f"{name}.png").exists() and f'src="{name}.png"' in page
    assert "worst radius" in page or (report / "coefficients.png").stat().st_size > 0


def test_subprocess_python_m_torchlogit(tmp_path):
    df = _frame(labels=np.array([False, True]))
    data = _write(df, tmp_path / "train.parquet")
    env = dict(os.environ, PYTHONPATH=str(SRC) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    env.pop("TORCHLOGIT_TRACEBACK", None)
    script = (
        "from torchlogit.cli import main; import sys\n"
        "for argv in sys.argv[1:]:\n"
        "    code = main(argv.split('|'))\n"
        "    print('EXIT', code, flush=True)\n"
    )
    model, pred = tmp_path / "m.safetensors", tmp_path / "p.parquet"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "torchlogit",
            "fit",
            str(data),
            "--target",
            "target",
            "--out",
            str(model),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert "training accuracy" in done.stdout and model.exists()
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            script,
            f"predict|{model}|{data}|--out|{pred}",
            f"evaluate|{model}|{tmp_path / 'missing.csv'}",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert done.stdout.split("EXIT")[1:] == [" 0\n", " 1\n"], done.stdout + done.stderr
    assert pd.read_parquet(pred)["label"].dtype == bool
    assert (
        done.stderr.strip()
        == f"torchlogit evaluate: error: {tmp_path / 'missing.csv'}: no such file"
    )

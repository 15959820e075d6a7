"""``torchlogit fit --cv``: the command line's choice, table and model file against
``LogisticRegressionCV`` in Python on the same data and folds, and against scikit-learn's
``LogisticRegressionCV`` on a fixed small case; the 1se rule recomputed here from its
definition; bad flags as one-line errors."""

import os
import re
import shutil
import socket
import subprocess
import warnings
from pathlib import Path

import numpy as np
import pytest

pd = pytest.importorskip("pandas")
pytest.importorskip("pyarrow")

import torchlogit  # noqa: E402
from torchlogit.cli import main  # noqa: E402
from torchlogit.data import HashFolds  # noqa: E402

FEATURES = ["a", "b", "c", "d"]
SRC = Path(__file__).resolve().parents[1] / "src"


def _frame(n=240, seed=0, n_classes=2):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, len(FEATURES))) * [1.0, 2.0, 0.5, 3.0] + [0.0, 1.0, -2.0, 5.0]
    W = np.array([[0.9, -0.4, 0.6, 0.0], [-0.3, 0.2, 0.0, 0.1], [0.0, 0.3, -0.8, 0.0]])
    z = X @ W[: max(n_classes, 2)].T
    if n_classes == 2:
        y = (z[:, 0] - 0.2 + rng.logistic(size=n) > 0).astype(int)
    else:
        y = (z + rng.gumbel(size=z.shape)).argmax(axis=1)
    df = pd.DataFrame(X, columns=FEATURES)
    df["y"] = y
    return df


@pytest.fixture
def data(tmp_path):
    df = _frame()
    path = tmp_path / "train.parquet"
    df.to_parquet(path, index=False)
    return df, path


def _fit(path, out, *flags, capsys=None):
    code = main(["fit", str(path), "--target", "y", "--out", str(out), *flags])
    assert code == 0
    return capsys.readouterr().out if capsys is not None else None


def _table(out):
    """The printed CV table: ``(header, rows)``; each row's cells split on 2+ spaces."""
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.lstrip().startswith("C  "))
    header = re.split(r"\s{2,}", lines[start].strip())
    rows = []
    for line in lines[start + 1 :]:
        if not line.strip() or line.startswith("chosen"):
            break
        rows.append(re.split(r"\s{2,}", line.strip()))
    return header, rows


@pytest.mark.parametrize("selection", ["min", "1se"])
def test_cli_choice_equals_python_on_the_same_folds(data, tmp_path, selection, capsys):
    df, path = data
    out = _fit(path, tmp_path / "m.safetensors", "--cv", "4", "--Cs", "8", "--selection",
               selection, "-q", capsys=capsys)  # fmt: skip
    got = torchlogit.load(tmp_path / "m.safetensors")
    ref = torchlogit.LogisticRegressionCV(Cs=8, cv=4, selection=selection)
    ref.fit(df[FEATURES], df["y"])
    assert type(got) is torchlogit.LogisticRegressionCV and got.selection == selection
    assert got.C_ == ref.C_
    np.testing.assert_array_equal(got.Cs_, ref.Cs_)
    np.testing.assert_allclose(got.scores_, ref.scores_, rtol=0, atol=1e-12)
    np.testing.assert_allclose(got.coefs_paths_, ref.coefs_paths_, rtol=0, atol=1e-10)
    np.testing.assert_allclose(got.coef_, ref.coef_, rtol=0, atol=1e-10)
    assert f"chosen (--selection {selection}): C {ref.C_:.6g};" in out


def test_streamed_cli_uses_hashed_row_folds(data, tmp_path, capsys):
    df, path = data
    out = _fit(path, tmp_path / "m.safetensors", "--cv", "3", "--Cs", "0.01,0.1,1,10",
               "--chunk-rows", "50", capsys=capsys)  # fmt: skip
    got = torchlogit.load(tmp_path / "m.safetensors")
    ref = torchlogit.LogisticRegressionCV(Cs=[0.01, 0.1, 1, 10], cv=HashFolds(3))
    ref.fit(df[FEATURES], df["y"])
    assert got.C_ == ref.C_
    np.testing.assert_allclose(got.scores_, ref.scores_, rtol=0, atol=1e-10)
    assert "3 folds by a hash of the row position" in out
    meta = torchlogit.io.read_metadata(tmp_path / "m.safetensors")["user"]
    assert meta["cv_folds"] == "3 folds by a hash of the row position"


def test_cli_equals_sklearn_on_a_fixed_small_case(data, tmp_path, capsys):
    from sklearn.linear_model import LogisticRegressionCV as SkCV
    from sklearn.model_selection import StratifiedKFold

    df, path = data
    Cs = [0.003, 0.03, 0.3, 3.0]
    _fit(path, tmp_path / "m.safetensors", "--cv", "5", "--Cs", ",".join(map(str, Cs)),
         "--tol", "1e-10", capsys=capsys)  # fmt: skip
    got = torchlogit.load(tmp_path / "m.safetensors")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        sk = SkCV(Cs=Cs, cv=StratifiedKFold(5), scoring="neg_log_loss", solver="newton-cholesky",
                  tol=1e-10, max_iter=1000, use_legacy_attributes=False)  # fmt: skip
        sk.fit(df[FEATURES].to_numpy(), df["y"].to_numpy())
    assert got.C_ == sk.C_
    np.testing.assert_allclose(got.scores_, sk.scores_, rtol=0, atol=1e-7)
    np.testing.assert_allclose(got.coef_, sk.coef_, rtol=0, atol=1e-6)


def test_the_table_is_scores_with_the_min_and_1se_rows_by_definition(tmp_path, capsys):
    df = _frame(n=300, seed=3)
    path = tmp_path / "train.csv"
    df.to_csv(path, index=False)
    out = _fit(path, tmp_path / "m.safetensors", "--cv", "5", "--Cs", "12", "--penalty",
               "l1", "--selection", "1se", capsys=capsys)  # fmt: skip
    model = torchlogit.load(tmp_path / "m.safetensors")
    header, rows = _table(out)
    assert header == ["C", "mean neg_log_loss", "± SE", "non-zeros (fold mean)", "choice"]
    scores = model.scores_[:, 0, :]  # (folds, Cs)
    F = scores.shape[0]
    mean, se = scores.mean(axis=0), scores.std(axis=0, ddof=1) / np.sqrt(F)
    paths = model.coefs_paths_[:, 0, :, :, : len(FEATURES)]
    nonzeros = np.array([[np.count_nonzero(paths[f, k]) for k in range(12)] for f in range(F)])
    assert len(rows) == 12
    for k, row in enumerate(rows):
        assert float(row[0]) == pytest.approx(model.Cs_[k], rel=1e-3)
        assert float(row[1]) == pytest.approx(mean[k], rel=1e-5)
        assert float(row[2]) == pytest.approx(se[k], rel=1e-2)
        assert float(row[3]) == pytest.approx(nonzeros[:, k].mean(), abs=0.05)
    best = int(np.argmax(mean))
    one_se = min(np.flatnonzero(mean >= mean[best] - se[best]), key=lambda k: model.Cs_[k])
    assert one_se != best  # the case tells the two rules apart
    marks = {k: row[4] for k, row in enumerate(rows) if len(row) > 4}
    assert marks == {best: "min", one_se: "1se (chosen)"}
    assert model.C_ == model.Cs_[one_se]
    assert nonzeros[:, 0].mean() == 0  # the L1 grid starts where every weight is zero


def test_elastic_net_grid_has_an_l1_ratio_column(data, tmp_path, capsys):
    df, path = data
    out = _fit(path, tmp_path / "m.safetensors", "--cv", "3", "--Cs", "0.05,0.5,5",
               "--penalty", "elasticnet", "--l1-ratios", "0.2,0.9", capsys=capsys)  # fmt: skip
    got = torchlogit.load(tmp_path / "m.safetensors")
    ref = torchlogit.LogisticRegressionCV(
        Cs=[0.05, 0.5, 5], cv=3, penalty="elasticnet", l1_ratios=[0.2, 0.9]
    ).fit(df[FEATURES], df["y"])
    assert (got.C_, got.l1_ratio_) == (ref.C_, ref.l1_ratio_)
    header, rows = _table(out)
    assert header[:2] == ["C", "l1_ratio"] and len(rows) == 6
    assert [float(r[1]) for r in rows] == [0.2] * 3 + [0.9] * 3
    assert f"l1-ratio {ref.l1_ratio_:g}" in out


def test_model_file_keeps_the_cv_attributes_and_predictions(data, tmp_path, capsys):
    df, path = data
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing is dropped from the file
        _fit(path, tmp_path / "m.safetensors", "--cv", "3", "--Cs", "5", capsys=capsys)
    got = torchlogit.load(tmp_path / "m.safetensors")
    ref = torchlogit.LogisticRegressionCV(Cs=5, cv=3).fit(df[FEATURES], df["y"])
    for name in ("Cs_", "scores_", "coefs_paths_", "n_iter_", "l1_ratios_"):
        a, b = getattr(got, name), getattr(ref, name)
        assert a.shape == b.shape and a.dtype == b.dtype, name
    assert list(got.l1_ratios_) == [None]
    again = tmp_path / "again.safetensors"
    got.save(again)
    back = torchlogit.load(again)
    for name in ("Cs_", "scores_", "coefs_paths_", "n_iter_", "l1_ratios_", "C_", "l1_ratio_"):
        np.testing.assert_array_equal(getattr(back, name), getattr(got, name))
    np.testing.assert_array_equal(back.predict_proba(df[FEATURES]), got.predict_proba(df[FEATURES]))
    np.testing.assert_allclose(got.predict_proba(df[FEATURES]), ref.predict_proba(df[FEATURES]),
                               rtol=0, atol=1e-10)  # fmt: skip


def test_standardize_maps_every_path_point_to_the_original_columns(data, tmp_path, capsys):
    """A path point on the raw columns gives the logits of the standardised fit's point."""
    df, path = data
    _fit(path, tmp_path / "m.safetensors", "--cv", "3", "--Cs", "4", "--standardize",
         capsys=capsys)  # fmt: skip
    got = torchlogit.load(tmp_path / "m.safetensors")
    X = df[FEATURES].to_numpy()
    Z = (X - X.mean(axis=0)) / X.std(axis=0)
    ref = torchlogit.LogisticRegressionCV(Cs=4, cv=3).fit(Z, df["y"].to_numpy())
    assert got.C_ == ref.C_
    raw = got.coefs_paths_[..., 0, :]  # (folds, 1, Cs, d + 1)
    std = ref.coefs_paths_[..., 0, :]
    np.testing.assert_allclose(raw[..., :-1] @ X.T + raw[..., -1:], std[..., :-1] @ Z.T
                               + std[..., -1:], rtol=0, atol=1e-9)  # fmt: skip


def test_show_names_the_choice(data, tmp_path, capsys):
    _, path = data
    model = tmp_path / "m.safetensors"
    _fit(path, model, "--cv", "3", "--Cs", "6", "--selection", "1se", "-q", capsys=capsys)
    got = torchlogit.load(model)
    assert main(["show", str(model)]) == 0
    out = capsys.readouterr().out
    assert f"penalty        l2, C {got.C_:g}" in out
    assert f"C_ {got.C_:.6g} by --selection 1se" in out
    assert "3 stratified folds (rows in file order), 6 values of C" in out
    refit = len(got.history_["objective"]) - 1  # the refit's iterations, not the folds'
    assert f"{refit} iterations on all rows (fold paths: at most {got.n_iter_.max()}" in out


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--cv", "1"], "--cv must be a whole number of folds, at least 2; got '1'"),
        (["--cv", "five"], "--cv must be a whole number of folds"),
        (["--cv", "3", "--Cs", "0"], "--Cs must be a count"),
        (["--cv", "3", "--Cs", "0.1,x"], "--Cs must be a count"),
        (["--cv", "3", "--Cs", "0.1,-1"], "--Cs must be a count"),
        (["--cv", "3", "--Cs", "1,inf"], "--Cs must be a count"),
        (["--cv", "3", "--selection", "max"], "--selection must be min or 1se; got 'max'"),
        (["--cv", "3", "--scoring", "nope"], "--scoring must be a scikit-learn scorer name"),
        (["--Cs", "5"], "--Cs needs --cv K"),
        (["--selection", "1se"], "--selection needs --cv K"),
        (["--cv", "3", "--C", "2"], "--C is what --cv chooses"),
        (["--cv", "3", "--penalty", "none"], "--penalty none has no C to choose"),
        (["--cv", "3", "--penalty", "elasticnet"], "needs --l1-ratios"),
        (["--cv", "3", "--penalty", "elasticnet", "--l1-ratios", "0.5,2"], "--l1-ratios must"),
        (["--cv", "3", "--l1-ratios", "0.5"], "--l1-ratios is only used with --penalty elastic"),
        (["--cv", "3", "--penalty", "elasticnet", "--l1-ratio", "0.5"], "not --l1-ratio"),
        (["--cv", "3", "--checkpoint-dir", "ck"], "--checkpoint-dir is not available with --cv"),
    ],
)
def test_bad_cv_flags_are_one_line_errors(data, tmp_path, flags, message, capsys):
    _, path = data
    out = tmp_path / "m.safetensors"
    code = main(["fit", str(path), "--target", "y", "--out", str(out), *flags])
    err = capsys.readouterr().err
    assert code == 1
    assert err.startswith("torchlogit fit: error: ") and err.count("\n") == 1, err
    assert message in err and "Traceback" not in err
    assert not out.exists()


@pytest.mark.distributed
@pytest.mark.skipif(shutil.which("torchrun") is None, reason="torchrun not on PATH")
def test_torchrun_cv_equals_one_streamed_process(tmp_path, capsys):
    """Under torchrun the folds are hashed row positions, as one process streaming the files."""
    df = _frame(n=300, seed=5)
    parts = tmp_path / "parts"
    parts.mkdir()
    for i, (a, b) in enumerate([(0, 120), (120, 300)]):
        df.iloc[a:b].to_parquet(parts / f"p{i}.parquet", index=False)
    flags = ["--target", "y", "--cv", "3", "--Cs", "5", "-q"]
    env = dict(os.environ, PYTHONPATH=str(SRC), GLOO_SOCKET_IFNAME="lo", OMP_NUM_THREADS="1")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cmd = ["torchrun", "--nproc-per-node=2", "--rdzv-backend=c10d",
           f"--rdzv-endpoint=127.0.0.1:{port}", "-m", "torchlogit", "fit",
           str(parts / "*.parquet"), "--out", str(tmp_path / "tr.safetensors"), *flags]  # fmt: skip
    proc = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=200)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    one = tmp_path / "one.safetensors"
    _fit(str(parts / "*.parquet"), one, *flags[2:], "--chunk-rows", "70")
    got, ref = torchlogit.load(tmp_path / "tr.safetensors"), torchlogit.load(one)
    assert got.C_ == ref.C_
    np.testing.assert_allclose(got.scores_, ref.scores_, rtol=0, atol=1e-10)
    meta = torchlogit.io.read_metadata(tmp_path / "tr.safetensors")["user"]
    assert meta["cv_folds"] == "3 folds by a hash of the row position"

"""The first hour of a new user at the command line (issue #12): the model is shown, messages
speak in flags, obvious next steps are hinted, Ctrl-C is one line, --help is fast."""

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

pd = pytest.importorskip("pandas")

import torchlogit  # noqa: E402
from torchlogit.cli import main  # noqa: E402

SRC = Path(__file__).resolve().parents[1] / "src"


def _env():
    env = dict(os.environ, PYTHONPATH=str(SRC))
    env.pop("TORCHLOGIT_TRACEBACK", None)
    return env


@pytest.fixture
def table(tmp_path):
    rng = np.random.default_rng(1)
    n = 300
    X = rng.standard_normal((n, 3)) * [1.0, 100.0, 0.01] + [5.0, -300.0, 2.0]
    df = pd.DataFrame(X, columns=["a", "b", "c"])
    df.insert(0, "id", [f"r{i}" for i in range(n)])
    df["w"] = rng.uniform(0.5, 2.0, n)
    z = (X[:, 0] - 5) + (X[:, 1] + 300) / 100 + rng.standard_normal(n)
    df["y"] = np.where(z > 0, "yes", "no")
    path = tmp_path / "t.csv"
    df.to_csv(path, index=False)
    return path, df


def _one_error(capsys):
    err = capsys.readouterr().err.strip().splitlines()
    assert err and "Traceback" not in "\n".join(err)
    return err[-1]


def test_show_prints_the_model_and_its_coefficients(tmp_path, table, capsys):
    path, df = table
    out = tmp_path / "m.safetensors"
    argv = ["fit", str(path), "--target", "y", "--exclude", "id", "--out", str(out)]
    assert main([*argv, "--weight", "w", "--penalty", "l1", "--C", "0.05", "-q"]) == 0
    capsys.readouterr()
    assert main(["show", str(out)]) == 0
    text = capsys.readouterr().out
    clf = torchlogit.load(out)
    assert "LogisticRegression (2 classes" in text and "penalty        l1, C 0.05" in text
    assert "classes        no, yes" in text and "features       3" in text
    assert f"trained on     {path}, 300 rows, target 'y', weights from 'w'" in text
    assert re.search(r"fit +\w+: \d+ iterations, converged", text)
    assert re.search(rf"\(intercept\) +{clf.intercept_[0]:.6g}\b", text)
    for j, name in enumerate(["a", "b", "c"]):
        assert re.search(rf"\n{name} +{clf.coef_[0, j]:.6g}\b", text)
    nz = int(np.count_nonzero(clf.coef_))
    assert f"{nz} of 3 coefficients are non-zero" in text
    # the weights reached the fit: the same as fitting in Python with sample_weight
    ref = torchlogit.LogisticRegression(l1_ratio=1.0, C=0.05).fit(
        df[["a", "b", "c"]], df["y"], sample_weight=df["w"].to_numpy()
    )
    np.testing.assert_allclose(clf.coef_, ref.coef_, rtol=1e-10, atol=1e-12)


def test_fit_ends_with_the_largest_coefficients(tmp_path, table, capsys):
    path, _ = table
    out = tmp_path / "m.safetensors"
    assert main(["fit", str(path), "--target", "y", "--exclude", "id", "w", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "coefficients (on the original columns; largest first):" in text
    assert "(intercept)" in text and text.rstrip().endswith(f"model written to {out}")


def test_standardize_saves_original_scale_coefficients(tmp_path, table, capsys):
    from sklearn.linear_model import LogisticRegression as Sk

    path, df = table
    out = tmp_path / "m.safetensors"
    argv = ["fit", str(path), "--target", "y", "--exclude", "id", "w", "--out", str(out)]
    assert main([*argv, "--standardize", "--tol", "1e-10", "-q"]) == 0
    X = df[["a", "b", "c"]].to_numpy()
    mu, sd = X.mean(axis=0), X.std(axis=0)
    ref = Sk(C=1.0, tol=1e-12, max_iter=1000).fit((X - mu) / sd, df["y"])
    clf = torchlogit.load(out)
    np.testing.assert_allclose(clf.coef_[0], ref.coef_[0] / sd, rtol=1e-6)
    np.testing.assert_allclose(clf.intercept_[0], ref.intercept_[0] - (ref.coef_[0] / sd) @ mu,
                               rtol=1e-6)  # fmt: skip
    np.testing.assert_allclose(clf.predict_proba(df[["a", "b", "c"]]),
                               ref.predict_proba((X - mu) / sd), atol=1e-7)  # fmt: skip
    meta = torchlogit.io.read_metadata(out)["user"]["standardize"]
    assert meta["features"] == ["a", "b", "c"]
    np.testing.assert_allclose(meta["means"], mu) and np.testing.assert_allclose(meta["scales"], sd)


def test_non_number_column_hints_exclude(tmp_path, table, capsys):
    path, _ = table
    out = tmp_path / "m.safetensors"
    assert main(["fit", str(path), "--target", "y", "--out", str(out)]) == 1
    line = _one_error(capsys)
    assert "column 'id'" in line and line.endswith("add --exclude id)")
    assert not out.exists()


def test_swapped_model_and_data_say_so(tmp_path, table, capsys):
    path, _ = table
    assert main(["predict", str(path), str(path), "--out", str(tmp_path / "p.csv")]) == 1
    assert "the first argument must be a model file" in _one_error(capsys)
    other = tmp_path / "data.bin"
    other.write_bytes(path.read_bytes())  # a data file without a data file's name
    assert main(["evaluate", str(other), str(path)]) == 1
    line = _one_error(capsys)
    assert "the first argument must be a model file" in line


@pytest.mark.parametrize(
    "extra, expected",
    [
        (["--penalty", "elasticnet"], "--penalty elasticnet needs --l1-ratio"),
        (["--l1-ratio", "0.5"], "--l1-ratio is only used with --penalty elasticnet"),
        (["--max-iter", "-1"], "--max-iter must be >= 0; got -1"),
        (["--C", "0"], "--C must be a positive number"),
        (["--timeout", "nan"], "--timeout must be a positive number of seconds; got nan"),
        (["--timeout", "0"], "--timeout must be a positive number of seconds"),
    ],
)
def test_messages_speak_in_flags(tmp_path, table, capsys, extra, expected):
    path, _ = table
    argv = ["fit", str(path), "--target", "y", "--exclude", "id", "--out"]
    assert main([*argv, str(tmp_path / "m.safetensors"), *extra]) == 1
    line = _one_error(capsys)
    assert expected in line
    assert not re.search(r"\w+=|None|max_iter|l1_ratio", line), line


def test_no_convergence_warning_in_flags_and_fail_flag(tmp_path, table, capsys):
    path, _ = table
    out = tmp_path / "m.safetensors"
    argv = ["fit", str(path), "--target", "y", "--exclude", "id", "--out", str(out), "-q"]
    argv += ["--solver", "lbfgs", "--max-iter", "1"]
    assert main(argv) == 0
    warning = capsys.readouterr().err.strip().splitlines()[0]
    assert "--max-iter" in warning and "--standardize" in warning
    assert "max_iter" not in warning and "StandardScaler" not in warning
    assert main([*argv, "--force", "--fail-on-no-convergence"]) == 1
    assert "did not converge" in _one_error(capsys)


def test_python_words_translated():
    from torchlogit.cli._vocabulary import to_cli

    msg = (
        "the training data are perfectly separable and penalty=None: ... depend on tol and "
        "max_iter. Use penalty='l2' (any finite C) for a unique solution."
    )
    assert to_cli(msg) == (
        "the training data are perfectly separable and --penalty none: ... depend on --tol "
        "and --max-iter. Use --penalty l2 (any finite --C) for a unique solution."
    )
    sk = "The 'max_iter' parameter of LogisticRegression must be an int in the range [0, inf)."
    assert (
        to_cli(sk + " Got -1 instead.") == "--max-iter must be an int in the range [0, inf); got -1"
    )


def test_version_and_fast_help():
    done = subprocess.run([sys.executable, "-m", "torchlogit", "--version"], env=_env(),
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert done.stdout.strip() == f"torchlogit {torchlogit.__version__}"
    code = (
        "import sys, time; t = time.perf_counter()\n"
        "from torchlogit.cli import main\n"
        "try:\n    main(['fit', '--help'])\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in ('torch', 'pandas', 'sklearn', 'pyarrow') if m in sys.modules]\n"
        "print('HEAVY', heavy, time.perf_counter() - t, file=sys.stderr)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], env=_env(), capture_output=True,
                          text=True, timeout=60)  # fmt: skip
    assert "HEAVY [] " in done.stderr, done.stderr  # nothing heavy imported for --help
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "torchlogit", "fit", "--help"], env=_env(),
                   capture_output=True, timeout=60, check=True)  # fmt: skip
    assert time.perf_counter() - t0 < 1.5  # 0.1 s measured; slack for a loaded machine


def test_ctrl_c_is_one_line_and_exit_130(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((4000, 5))
    df = pd.DataFrame(X, columns=[f"f{j}" for j in range(5)])
    df["y"] = (X[:, 0] + rng.standard_normal(4000) > 0).astype(int)
    df.to_csv(tmp_path / "d.csv", index=False)
    out = tmp_path / "m.safetensors"
    code = (
        "import signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler)\n"
        "from torchlogit.cli import main; sys.exit(main(sys.argv[1:]))"
    )
    argv = ["fit", str(tmp_path / "d.csv"), "--target", "y", "--out", str(out)]
    argv += ["--solver", "sgd", "--tol", "0", "--max-iter", "100000"]
    proc = subprocess.Popen([sys.executable, "-u", "-c", code, *argv], env=_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        for _ in range(3):  # wait until the solver is iterating
            assert "iter" in proc.stdout.readline()
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 130
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert re.fullmatch(
        r"torchlogit fit: interrupted at iteration \d+; nothing written; rerun with "
        r"--checkpoint-dir DIR to be able to resume",
        lines[0],
    )
    assert not out.exists() and [p.name for p in tmp_path.iterdir()] == ["d.csv"]


def test_resume_and_finished_checkpoint_say_so(tmp_path, table, capsys):
    path, _ = table
    out, ckpt = tmp_path / "m.safetensors", tmp_path / "ckpt"
    argv = ["fit", str(path), "--target", "y", "--exclude", "id", "w", "--out", str(out)]
    argv += ["--checkpoint-dir", str(ckpt), "--solver", "lbfgs", "-q", "--force"]
    assert main([*argv, "--max-iter", "2"]) == 0
    capsys.readouterr()
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert f"resuming from iteration 2 in {ckpt}" in text
    n_iter = int(torchlogit.load(out).n_iter_[0])
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert (
        f"the checkpoint in {ckpt} is of a fit that already converged at iteration {n_iter}" in text
    )


def test_log_lines_never_land_inside_a_progress_bar():
    import contextlib
    import io

    from tqdm import tqdm

    from torchlogit.cli._interrupt import log_above_progress_bars

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf), log_above_progress_bars():
        bar = tqdm(total=10, file=buf, desc="pass 1", mininterval=0, ascii=True)
        bar.update(3)
        print("[newton] iter    1  objective 0.5")
        bar.update(3)
        bar.close()
    (line,) = [x for x in buf.getvalue().split("\n") if "iter" in x]
    assert line.split("\r")[-1].startswith("[newton] iter"), repr(line)


def test_target_type_str_keeps_labels_as_written(tmp_path, capsys):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((150, 2))
    labels = np.array(["1", "01", "007"])[rng.integers(0, 3, 150)]
    df = pd.DataFrame(X, columns=["a", "b"]).assign(y=labels)
    df.to_csv(tmp_path / "d.csv", index=False)
    out = tmp_path / "m.safetensors"
    argv = ["fit", str(tmp_path / "d.csv"), "--target", "y", "--out", str(out), "-q"]
    assert main([*argv, "--target-type", "str"]) == 0
    clf = torchlogit.load(out)
    assert clf.classes_.tolist() == ["007", "01", "1"]  # three classes, not 1 and 7
    capsys.readouterr()
    assert main(["evaluate", str(out), str(tmp_path / "d.csv")]) == 0  # read back the same way
    assert main([*argv, "--force", "--target-type", "int", "--target", "a"]) == 1
    assert "is not an int (--target-type int)" in _one_error(capsys)


def test_output_piped_into_head_stops_quietly(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((60, 4000))  # 4000 coefficient lines: more than a pipe holds
    y = rng.integers(0, 2, 60)
    with pytest.warns(UserWarning):  # 5 iterations do not converge; not what is tested
        clf = torchlogit.LogisticRegression(solver="lbfgs", max_iter=5).fit(X, y)
    clf.save(tmp_path / "m.safetensors")
    cmd = f'"{sys.executable}" -m torchlogit show "{tmp_path / "m.safetensors"}" | head -3'
    done = subprocess.run(["bash", "-c", f"set -o pipefail; {cmd}"], env=_env(),
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.stdout.splitlines()[0].startswith("model file")
    assert done.stderr == "" and done.returncode == 141

"""The output-path guard (issue #12 "data loss", #13 items 1, 3, 4, 12, 13): the command line
never overwrites an input, never replaces an existing file without --force, writes only
regular files, checks the output before any work, and leaves no temporary file behind on
any exit path. Each test fails on the main branch before the guard."""

import os
import signal
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

pd = pytest.importorskip("pandas")

import torchlogit  # noqa: E402
from torchlogit.cli import main  # noqa: E402

SRC = Path(__file__).resolve().parents[1] / "src"


def _data(path, n=120, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 3))
    df = pd.DataFrame(X, columns=["a", "b", "c"])
    df["y"] = (X[:, 0] + 0.5 * rng.standard_normal(n) > 0).astype(int)
    df.to_csv(path, index=False)
    return path


def _error(capsys):
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "Traceback" not in err[0], err
    return err[0]


def _no_temp_files(folder):
    return [p.name for p in Path(folder).iterdir() if p.name.startswith(".")] == []


@pytest.fixture
def data(tmp_path):
    return _data(tmp_path / "train.csv")


@pytest.fixture
def model(tmp_path, data):
    out = tmp_path / "m.safetensors"
    assert main(["fit", str(data), "--target", "y", "--out", str(out), "--quiet"]) == 0
    return out


def test_fit_out_equal_to_its_training_data_is_refused(tmp_path, data, capsys):
    before = data.read_bytes()
    assert main(["fit", str(data), "--target", "y", "--out", str(data), "--force"]) == 1
    assert "safetensors" in _error(capsys)
    link = tmp_path / "model.safetensors"
    link.symlink_to(data)  # the same file under a model file's name
    assert main(["fit", str(data), "--target", "y", "--out", str(link), "--force"]) == 1
    assert "is one of this command's inputs" in _error(capsys)
    assert data.read_bytes() == before and link.is_symlink()


def test_predict_out_equal_to_its_input_is_refused(tmp_path, data, model, capsys):
    before = data.read_bytes()
    assert main(["predict", str(model), str(data), "--out", str(data), "--force"]) == 1
    assert "is one of this command's inputs" in _error(capsys)
    assert data.read_bytes() == before


@pytest.mark.parametrize("name", ["model.pkl", "model", "model.csv"])
def test_model_file_must_be_named_safetensors(tmp_path, data, capsys, name):
    out = tmp_path / name
    assert main(["fit", str(data), "--target", "y", "--out", str(out)]) == 1
    assert "use a name ending in .safetensors" in _error(capsys)
    assert not out.exists()


def test_directory_output_gets_a_sentence(tmp_path, data, model, capsys):
    folder = tmp_path / "somedir.safetensors"
    folder.mkdir()
    assert main(["fit", str(data), "--target", "y", "--out", str(folder), "--force"]) == 1
    line = _error(capsys)
    assert "is a directory; give a file name inside it" in line
    assert "Errno" not in line and list(folder.iterdir()) == []
    plain = tmp_path / "somedir"
    plain.mkdir()
    assert main(["fit", str(data), "--target", "y", "--out", str(plain)]) == 1
    assert _error(capsys).endswith(f"such as {plain / 'output.safetensors'}")
    (tmp_path / "p.csv").mkdir()
    assert main(["predict", str(model), str(data), "--out", str(tmp_path / "p.csv")]) == 1
    assert "is a directory" in _error(capsys)


def test_existing_output_needs_force_and_keeps_its_mode(tmp_path, data, model, capsys):
    before = model.read_bytes()
    os.chmod(model, 0o600)
    argv = ["fit", str(data), "--target", "y", "--out", str(model), "--quiet", "--C", "0.1"]
    assert main(argv) == 1
    assert "already exists; add --force to replace it" in _error(capsys)
    assert model.read_bytes() == before
    assert main([*argv, "--force"]) == 0
    assert torchlogit.load(model).C == 0.1
    assert stat.S_IMODE(model.stat().st_mode) == 0o600  # not widened to 0644
    pred = tmp_path / "p.csv"
    pred.write_text("precious\n")
    os.chmod(pred, 0o640)
    assert main(["predict", str(model), str(data), "--out", str(pred)]) == 1
    assert pred.read_text() == "precious\n"
    assert main(["predict", str(model), str(data), "--out", str(pred), "--force"]) == 0
    assert stat.S_IMODE(pred.stat().st_mode) == 0o640
    assert _no_temp_files(tmp_path)


def test_symlink_to_a_device_and_fifo_are_refused(tmp_path, data, model, capsys):
    link = tmp_path / "null.safetensors"
    link.symlink_to("/dev/null")
    assert main(["fit", str(data), "--target", "y", "--out", str(link), "--force"]) == 1
    assert "is a device; torchlogit writes only regular files" in _error(capsys)
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode) and link.is_symlink()
    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)
    assert main(["predict", str(model), str(data), "--out", str(fifo), "--force"]) == 1
    assert "FIFO" in _error(capsys)
    from torchlogit.io import OutputPathError

    clf = torchlogit.load(model)
    with pytest.raises(OutputPathError, match="is a device"):
        clf.save(link)  # the library's own save goes through the same guard


def test_symlink_to_a_regular_file_is_written_through(tmp_path, data, model, capsys):
    real = tmp_path / "real.safetensors"
    real.write_bytes(b"old")
    link = tmp_path / "link.safetensors"
    link.symlink_to(real)
    assert main(["fit", str(data), "--target", "y", "--out", str(link), "--quiet", "--force"]) == 0
    assert link.is_symlink() and torchlogit.load(real).n_features_in_ == 3


def test_output_checked_before_any_work(tmp_path, capsys):
    bad = tmp_path / "bad.csv"
    bad.write_text("a,y\nx,1\n")  # would fail when read
    out = tmp_path / "no" / "such" / "folder" / "m.safetensors"
    assert main(["fit", str(bad), "--target", "y", "--out", str(out)]) == 1
    line = _error(capsys)  # the output's problem, not the data's: nothing was read
    assert "folder'" in line and "does not exist" in line and "not a number" not in line


def test_predict_keep_never_overwrites_a_kept_column(tmp_path, data, model, capsys):
    pred = tmp_path / "p.csv"
    for col in ("label", "proba_1"):
        df = pd.read_csv(data).assign(**{col: "mine"})
        src = tmp_path / f"with_{col}.csv"
        df.to_csv(src, index=False)
        assert main(["predict", str(model), str(src), "--out", str(pred), "--keep", col]) == 1
        line = _error(capsys)
        assert f"--keep {col}: the output already has a column '{col}'" in line
        assert not pred.exists()


def test_report_out_follows_the_same_rules(tmp_path, data, model, capsys):
    afile = tmp_path / "afile"
    afile.write_text("x")
    assert main(["report", str(model), str(data), "--out", str(afile)]) == 1
    assert "exists and is not a folder" in _error(capsys) and afile.read_text() == "x"
    rep = tmp_path / "rep"
    assert main(["report", str(model), str(data), "--out", str(rep)]) == 0
    capsys.readouterr()
    assert main(["report", str(model), str(data), "--out", str(rep)]) == 1
    assert "already holds a report" in _error(capsys)
    assert main(["report", str(model), str(data), "--out", str(rep), "--force"]) == 0
    # an input that sits where the report writes a file is never replaced
    inside = rep / "roc.png"
    pd.read_csv(data).to_csv(tmp_path / "copy.csv", index=False)
    inside.unlink()
    os.symlink(tmp_path / "copy.csv", inside)
    before = (tmp_path / "copy.csv").read_bytes()
    capsys.readouterr()
    code = main(["report", str(model), str(inside), "--out", str(rep), "--force"])
    assert code == 1 and "is one of this command's inputs" in _error(capsys)
    assert (tmp_path / "copy.csv").read_bytes() == before


def test_sigterm_during_a_write_removes_the_temporary_file(tmp_path):
    from torchlogit.io import atomic_path

    class Term(Exception):
        pass

    def handler(signum, frame):
        raise Term

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        with pytest.raises(Term), atomic_path(tmp_path / "out.bin") as tmp:
            tmp.write_bytes(b"x" * 1000)
            os.kill(os.getpid(), signal.SIGTERM)  # the guard removes tmp, then our handler
        assert signal.getsignal(signal.SIGTERM) is handler  # restored after the write
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert list(tmp_path.iterdir()) == []


def test_killed_save_leaves_no_temporary_file(tmp_path):
    """A process killed by SIGTERM mid-save dies of the signal and leaves nothing behind."""
    script = textwrap.dedent(
        """
        import os, signal, sys
        from torchlogit.io import atomic_path
        with atomic_path(sys.argv[1]) as tmp:
            tmp.write_bytes(b"x" * 10_000_000)
            os.kill(os.getpid(), signal.SIGTERM)
        """
    )
    env = dict(os.environ, PYTHONPATH=str(SRC))
    done = subprocess.run([sys.executable, "-c", script, str(tmp_path / "model.safetensors")],
                          env=env, timeout=120)  # fmt: skip
    assert done.returncode == -signal.SIGTERM
    assert list(tmp_path.iterdir()) == []


def test_ctrl_c_during_save_removes_the_temporary_file(tmp_path):
    from torchlogit.io import atomic_path

    with pytest.raises(KeyboardInterrupt), atomic_path(tmp_path / "m.safetensors") as tmp:
        tmp.write_bytes(b"partial")
        raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []


def test_disk_full_is_one_line(tmp_path, data):
    """A file-size limit (as a full disk) during the model write: one line, no temp file."""
    out = tmp_path / "m.safetensors"
    script = textwrap.dedent(
        """
        import resource, signal, sys
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        from torchlogit.cli import main
        resource.setrlimit(resource.RLIMIT_FSIZE, (600, 600))
        sys.exit(main(sys.argv[1:]))
        """
    )
    env = dict(os.environ, PYTHONPATH=str(SRC))
    env.pop("TORCHLOGIT_TRACEBACK", None)
    argv = ["fit", str(data), "--target", "y", "--out", str(out), "--quiet"]
    done = subprocess.run([sys.executable, "-c", script, *argv], env=env, capture_output=True,
                          text=True, timeout=300)  # fmt: skip
    assert done.returncode == 1, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "nothing was written" in lines[0], done.stderr
    assert not out.exists() and _no_temp_files(tmp_path)


def test_disk_full_error_names_the_output(tmp_path, monkeypatch):
    import errno

    from torchlogit.io import atomic_path

    with pytest.raises(OSError, match=r"m\.bin: the disk is full; nothing was written"):
        with atomic_path(tmp_path / "m.bin") as tmp:
            tmp.write_bytes(b"x")
            raise OSError(errno.ENOSPC, "No space left on device")
    assert list(tmp_path.iterdir()) == []

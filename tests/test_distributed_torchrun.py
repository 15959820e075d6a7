"""``torchrun`` end to end on small Parquet files, and a worker killed mid-fit (SIGKILL).

torchrun rendezvouses on 127.0.0.1 (a free port); gloo talks over the loopback interface.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import textwrap
from pathlib import Path

import numpy as np
import pytest

from torchlogit import LogisticRegression

pytestmark = [
    pytest.mark.distributed,
    pytest.mark.skipif(shutil.which("torchrun") is None, reason="torchrun not on PATH"),
]

SRC = Path(__file__).resolve().parents[1] / "src"
# Uneven files: one file holds a single row, so with 3 ranks one shard is tiny.
SPLITS = [(0, 1), (1, 250), (250, 330), (330, 600)]


@pytest.fixture(scope="module")
def parquet_dir(tmp_path_factory):
    import pandas as pd

    rng = np.random.default_rng(1)
    n, d = SPLITS[-1][1], 5
    X = rng.standard_normal((n, d))
    logits = X @ rng.standard_normal((d, 3)) + rng.gumbel(size=(n, 3))
    y = np.array(["red", "green", "blue"])[np.argmax(logits, axis=1)]
    df = pd.DataFrame(X, columns=[f"x{i}" for i in range(d)])
    df["label"] = y
    out = tmp_path_factory.mktemp("parquet")
    for i, (a, b) in enumerate(SPLITS):
        df.iloc[a:b].to_parquet(out / f"part-{i}.parquet")
    return out, df


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _torchrun(script_args, nproc, tmp_path, *, max_restarts=0, timeout=150):
    env = dict(os.environ, PYTHONPATH=str(SRC), GLOO_SOCKET_IFNAME="lo", OMP_NUM_THREADS="1")
    cmd = [
        "torchrun",
        f"--nproc-per-node={nproc}",
        f"--max-restarts={max_restarts}",
        "--rdzv-backend=c10d",
        f"--rdzv-endpoint=127.0.0.1:{_free_port()}",
        *script_args,
    ]
    proc = subprocess.run(
        cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=timeout
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


def _reference(df, **params):
    X, y = df.drop(columns="label"), df["label"].to_numpy()
    return LogisticRegression(distributed=False, **params).fit(X, y)


def test_torchrun_fit_command_equals_one_process(parquet_dir, tmp_path):
    import torchlogit

    data, df = parquet_dir
    args = ["-m", "torchlogit", "fit", str(data / "*.parquet"), "--target", "label"]
    args += ["--out", "model.safetensors", "--C", "0.5", "--tol", "1e-12", "--quiet"]
    proc = _torchrun(args, 3, tmp_path)
    assert "fitted 600 rows x 5 features on 3 processes" in proc.stdout
    assert proc.stdout.count("model written to") == 1  # rank 0 only
    model = torchlogit.load(tmp_path / "model.safetensors")
    ref = _reference(df, C=0.5, tol=1e-12)
    np.testing.assert_allclose(model.coef_, ref.coef_, rtol=0, atol=1e-10)
    np.testing.assert_allclose(model.intercept_, ref.intercept_, rtol=0, atol=1e-10)
    np.testing.assert_array_equal(model.classes_, ref.classes_)
    np.testing.assert_array_equal(model.feature_names_in_, [f"x{i}" for i in range(5)])


def test_fit_command_reads_a_glob_of_files_in_one_process(parquet_dir, tmp_path, capsys):
    from torchlogit.cli import main

    data, df = parquet_dir
    out = tmp_path / "m.safetensors"
    assert main(["fit", str(data / "*.parquet"), "--target", "label", "--out", str(out)]) == 0
    assert "fitted 600 rows x 5 features, classes" in capsys.readouterr().out
    import torchlogit

    ref = _reference(df)
    np.testing.assert_allclose(torchlogit.load(out).coef_, ref.coef_, rtol=0, atol=1e-10)


KILLER = """
    import os, signal, sys

    import torchlogit.solvers._checkpoint as checkpoint
    from torchlogit.cli import main

    save = checkpoint.Checkpoint.save
    attempt = os.environ.get("TORCHELASTIC_RESTART_COUNT", "0")

    def save_then_die(self, n_iter, *args, **kwargs):
        save(self, n_iter, *args, **kwargs)
        print(f"rank {os.environ['RANK']} attempt {attempt} saved iteration {n_iter}", flush=True)
        if n_iter == 2 and os.environ["RANK"] == "1" and attempt == "0":
            os.kill(os.getpid(), signal.SIGKILL)  # mid-fit, right after its checkpoint

    checkpoint.Checkpoint.save = save_then_die
    sys.exit(main())
"""


@pytest.mark.parametrize("stream", [False, True])
def test_worker_killed_mid_fit_is_restarted_and_resumes(parquet_dir, tmp_path, stream):
    import torchlogit

    data, df = parquet_dir
    script = tmp_path / "fit_and_kill.py"
    script.write_text(textwrap.dedent(KILLER))
    args = [str(script), "fit", str(data / "*.parquet"), "--target", "label", "--quiet"]
    args += ["--out", "model.safetensors", "--tol", "1e-12", "--checkpoint-dir", "ckpt"]
    args += ["--timeout", "60"] + (["--chunk-rows", "64"] if stream else [])
    proc = _torchrun(args, 2, tmp_path, max_restarts=2)
    log = proc.stdout + proc.stderr
    assert "exitcode: -9" in log  # rank 1 was SIGKILLed ...
    assert "rank 0 attempt 1 saved iteration 3" in log  # ... and the restart resumed at 3
    assert "attempt 1 saved iteration 1" not in log
    model = torchlogit.load(tmp_path / "model.safetensors")
    ref = _reference(df, tol=1e-12)
    assert model.n_iter_[0] == ref.n_iter_[0]  # Newton: the iterates of an uninterrupted fit
    np.testing.assert_allclose(model.coef_, ref.coef_, rtol=0, atol=1e-10)
    np.testing.assert_allclose(model.intercept_, ref.intercept_, rtol=0, atol=1e-10)

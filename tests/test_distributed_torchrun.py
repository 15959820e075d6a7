"""``torchrun`` end to end on small Parquet files, and a worker killed mid-fit (SIGKILL).

torchrun rendezvouses on 127.0.0.1 (a free port); gloo talks over the loopback interface.
"""

from __future__ import annotations

import json
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


def _load_model(path):
    from safetensors import safe_open

    with safe_open(str(path), framework="np") as fh:
        meta = json.loads(fh.metadata()["torchlogit"])
        return fh.get_tensor("coef"), fh.get_tensor("intercept"), meta


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
    from torchlogit.distributed.run import main

    def kill_rank_1_once(n_iter, clf):
        first_attempt = os.environ.get("TORCHELASTIC_RESTART_COUNT", "0") == "0"
        if n_iter == 2 and os.environ["RANK"] == "1" and first_attempt:
            os.kill(os.getpid(), signal.SIGKILL)

    sys.exit(main(callback=kill_rank_1_once))
"""


def test_worker_killed_mid_fit_is_restarted_and_resumes(parquet_dir, tmp_path):
    data, df = parquet_dir
    script = tmp_path / "fit_and_kill.py"
    script.write_text(textwrap.dedent(KILLER))
    args = [str(script), str(data / "*.parquet"), "--target", "label", "--out", "model"]
    args += ["--tol", "1e-12", "--checkpoint-dir", "ckpt", "--timeout", "60"]
    proc = _torchrun(args, 2, tmp_path, max_restarts=2)
    assert "resuming from iteration 2" in proc.stdout + proc.stderr
    report = json.loads((tmp_path / "model.report.json").read_text())
    assert report["resumed_from_iteration"] == 2
    # Sorted files, every 2nd to each rank: {0, 2}, {1, 3}.
    assert report["rows_per_rank"] == [1 + 80, 249 + 270] and report["converged"]
    coef, intercept, _ = _load_model(tmp_path / "model")
    ref = _reference(df, tol=1e-12)
    assert report["n_iter"] == ref.n_iter_[0]  # Newton: the same iterates as uninterrupted
    np.testing.assert_allclose(coef, ref.coef_, rtol=0, atol=1e-10)
    np.testing.assert_allclose(intercept, ref.intercept_, rtol=0, atol=1e-10)

"""Checkpoints: a fit resumed from ``checkpoint_dir`` ends where an uninterrupted fit ends."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.datasets import make_classification
from sklearn.exceptions import ConvergenceWarning

from _streaming_helpers import write_parquet
from torchlogit import LogisticRegression
from torchlogit.data import ParquetSource
from torchlogit.solvers import Checkpoint
from torchlogit.solvers._checkpoint import read_verified

SRC = str(Path(__file__).resolve().parents[1] / "src")
TESTS = str(Path(__file__).resolve().parent)


@pytest.fixture(autouse=True)
def _one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture
def files(tmp_path):
    X, y = make_classification(900, 8, n_informative=5, n_classes=3, random_state=2)
    write_parquet(tmp_path / "pq", X, y, row_group_size=128)
    return tmp_path / "pq"


def _est(solver, max_iter=200, **kw):
    return LogisticRegression(C=10.0, solver=solver, tol=1e-10, max_iter=max_iter, **kw)


@pytest.mark.parametrize("solver", ["newton", "lbfgs", "sgd", "adam"])
def test_resume_after_max_iter_equals_uninterrupted(solver, files, tmp_path):
    src = lambda: ParquetSource(files, target="label", chunk_rows=200)  # noqa: E731
    opts = {"batch_size": 64} if solver in ("sgd", "adam") else None
    full = _est(solver, solver_options=opts, max_iter=12 if opts else 200)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        full.fit(src())
        ckpt = tmp_path / "ckpt"
        _est(solver, solver_options=opts, max_iter=4, checkpoint_dir=ckpt).fit(src())
        resumed = _est(solver, solver_options=opts, max_iter=full.max_iter, checkpoint_dir=ckpt)
        resumed.fit(src())
    np.testing.assert_array_equal(resumed.coef_, full.coef_)
    np.testing.assert_array_equal(resumed.intercept_, full.intercept_)
    assert resumed.n_iter_[0] == full.n_iter_[0]
    assert len(resumed.history_["objective"]) == len(full.history_["objective"])
    assert len(resumed.passes_) < len(full.passes_)  # it did not start over


def test_checkpoint_of_another_problem_is_not_used(files, tmp_path):
    src = ParquetSource(files, target="label", chunk_rows=200)
    ckpt = tmp_path / "ckpt"
    _est("lbfgs", checkpoint_dir=ckpt).fit(src)
    with pytest.warns(UserWarning, match="belongs to another problem"):
        other = LogisticRegression(C=0.1, solver="lbfgs", tol=1e-10, checkpoint_dir=ckpt).fit(src)
    ref = LogisticRegression(C=0.1, solver="lbfgs", tol=1e-10).fit(src)
    np.testing.assert_array_equal(other.coef_, ref.coef_)


def test_checkpoint_file_is_safetensors_without_pickle(files, tmp_path):
    src = ParquetSource(files, target="label", chunk_rows=200)
    _est("lbfgs", checkpoint_dir=tmp_path / "c").fit(src)
    names = sorted(os.listdir(tmp_path / "c"))
    assert names == ["checkpoint.safetensors"]  # no temporary file left behind
    from safetensors import safe_open

    with safe_open(str(tmp_path / "c" / names[0]), framework="pt") as fh:
        keys = set(fh.keys())
    assert {"coef", "state.s", "state.y"} <= keys


_CHILD = """
import os, signal, sys
sys.path[:0] = [{src!r}, {tests!r}]
import torch
torch.set_num_threads(1)
from torchlogit import LogisticRegression
from torchlogit.data import ParquetSource

class Killed(ParquetSource):
    passes = 0
    def _chunks(self):
        Killed.passes += 1
        for i, chunk in enumerate(super()._chunks()):
            if Killed.passes == {kill_pass} and i == 2:
                os.kill(os.getpid(), signal.SIGKILL)  # mid-pass, mid-iteration
            yield chunk

src = Killed({files!r}, target="label", chunk_rows=200)
LogisticRegression(C=10.0, solver={solver!r}, tol=1e-10, max_iter=200,
                   checkpoint_dir={ckpt!r}).fit(src)
print("not killed")
"""


@pytest.mark.parametrize("solver", ["lbfgs", "newton"])
def test_resume_after_sigkill(solver, files, tmp_path):
    ckpt = str(tmp_path / "ckpt")
    code = _CHILD.format(
        src=SRC, tests=TESTS, kill_pass=6, files=str(files), solver=solver, ckpt=ckpt
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == -signal.SIGKILL, proc.stdout + proc.stderr
    src = ParquetSource(files, target="label", chunk_rows=200)
    state = Checkpoint(ckpt, meta={}).path
    assert state.exists()
    resumed = _est(solver, checkpoint_dir=ckpt).fit(src)
    full = _est(solver).fit(src)
    np.testing.assert_array_equal(resumed.coef_, full.coef_)
    np.testing.assert_array_equal(resumed.intercept_, full.intercept_)
    assert resumed.n_iter_[0] == full.n_iter_[0]
    assert len(resumed.passes_) < len(full.passes_)


def test_resume_keeps_the_grown_hessian_sample(tmp_path):
    """A streamed Newton fit whose row sample grew before the interruption resumes with the
    grown sample: the same steps, bit for bit, as the uninterrupted fit."""
    X, y = make_classification(6000, 8, n_informative=5, random_state=4)
    write_parquet(tmp_path / "pq", X, y, row_group_size=500)
    src = lambda: ParquetSource(tmp_path / "pq", target="label", chunk_rows=700)  # noqa: E731
    opts = {"hessian_rows": 30}  # a 0.5 % sample: it grows within the first iterations
    full = _est("newton", solver_options=opts).fit(src())
    ckpt = tmp_path / "ckpt"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        _est("newton", solver_options=opts, max_iter=3, checkpoint_dir=ckpt).fit(src())
    doc, _ = read_verified(Checkpoint(ckpt, meta={}).path)
    assert doc["scalars"]["fraction"] > 30 / 6000  # it had grown before the interruption
    resumed = _est("newton", solver_options=opts, checkpoint_dir=ckpt).fit(src())
    np.testing.assert_array_equal(resumed.coef_, full.coef_)
    np.testing.assert_array_equal(resumed.intercept_, full.intercept_)
    assert resumed.n_iter_[0] == full.n_iter_[0]

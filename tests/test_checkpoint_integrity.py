"""Damaged checkpoints (#13 items 6 and 14): never resumed, always reported with the file named.

A checkpoint with NaN coefficients used to be resumed and produce a NaN model; a truncated,
empty or mis-keyed one gave a traceback without the file's name; a folder in its place gave
"No such device (os error 19)". Each now ends in a one-line ``ValueError`` that names the
file, and the engine refuses to return non-finite coefficients whatever the solver did.
"""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
import torch
from sklearn.exceptions import ConvergenceWarning

from torchlogit import LogisticRegression
from torchlogit.solvers import SOLVERS, Checkpoint, LBFGSSolver


def _data(n=200, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 3))
    return X, (X @ [1.0, -1.0, 0.5] + rng.logistic(size=n) > 0).astype(int)


def _fit(ckpt, max_iter=100):
    X, y = _data()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return LogisticRegression(
            solver="lbfgs", tol=1e-10, max_iter=max_iter, checkpoint_dir=ckpt
        ).fit(X, y)


def _interrupted(tmp_path):
    ckpt = tmp_path / "ckpt"
    _fit(ckpt, max_iter=3)
    return ckpt, ckpt / "checkpoint.safetensors"


def _rewrite(path, edit_tensors=None, edit_doc=None, *, rechecksum: bool):
    """Rewrite the checkpoint with edited tensors / document (a valid safetensors file)."""
    from safetensors import safe_open
    from safetensors.torch import save_file

    from torchlogit.solvers._checkpoint import checksum

    with safe_open(str(path), framework="pt") as fh:
        doc = json.loads(fh.metadata()["torchlogit"])
        tensors = {k: fh.get_tensor(k) for k in fh.keys()}  # noqa: SIM118
    if edit_tensors:
        edit_tensors(tensors)
    if edit_doc:
        edit_doc(doc)
    if rechecksum:
        doc.pop("sha256", None)
        doc["sha256"] = checksum(doc, tensors)
    save_file(tensors, str(path), metadata={"torchlogit": json.dumps(doc)})


def _nan_coef(tensors):
    tensors["coef"].view(-1)[0] = float("nan")


def test_checkpoint_with_nan_and_its_old_checksum_is_refused(tmp_path):
    ckpt, path = _interrupted(tmp_path)
    _rewrite(path, _nan_coef, rechecksum=False)
    with pytest.raises(ValueError, match="checkpoint .*checkpoint.safetensors.* checksum"):
        _fit(ckpt)


def test_checkpoint_with_nan_and_a_recomputed_checksum_is_refused(tmp_path):
    ckpt, path = _interrupted(tmp_path)
    _rewrite(path, _nan_coef, rechecksum=True)
    with pytest.raises(ValueError, match=r"checkpoint.safetensors.* non-finite .*\['coef'\]"):
        _fit(ckpt)


def test_checkpoint_with_nan_in_the_solver_state_is_refused(tmp_path):
    ckpt, path = _interrupted(tmp_path)

    def edit(tensors):
        name = next(k for k in tensors if k.startswith("state."))
        tensors[name].view(-1)[0] = float("inf")

    _rewrite(path, edit, rechecksum=True)
    with pytest.raises(ValueError, match="checkpoint.safetensors.* non-finite"):
        _fit(ckpt)


def test_checkpoint_without_checksum_is_refused(tmp_path):
    ckpt, path = _interrupted(tmp_path)
    _rewrite(path, edit_doc=lambda d: d.pop("sha256"), rechecksum=False)
    with pytest.raises(ValueError, match="checkpoint.safetensors.* no checksum"):
        _fit(ckpt)


@pytest.mark.parametrize("keep", [0, 7, 100, -10])
def test_truncated_or_empty_checkpoint_names_the_file(tmp_path, keep):
    ckpt, path = _interrupted(tmp_path)
    data = path.read_bytes()
    path.write_bytes(data[:keep] if keep >= 0 else data[:keep])
    with pytest.raises(ValueError, match=r"checkpoint '.*checkpoint\.safetensors' ") as err:
        _fit(ckpt)
    assert "\n" not in str(err.value)
    assert "delete it" in str(err.value)


def test_misskeyed_checkpoint_names_the_file(tmp_path):
    ckpt, path = _interrupted(tmp_path)

    def rename(tensors):
        tensors["weights"] = tensors.pop("coef")

    _rewrite(path, rename, rechecksum=True)
    with pytest.raises(ValueError, match="checkpoint.safetensors.* lacks a field"):
        _fit(ckpt)
    from safetensors.torch import save_file

    save_file({"coef": torch.zeros(1, 4)}, str(path), metadata={"other": "x"})
    with pytest.raises(ValueError, match="checkpoint.safetensors.* no torchlogit metadata"):
        _fit(ckpt)
    save_file({"coef": torch.zeros(1, 4)}, str(path), metadata={"torchlogit": "{not json"})
    with pytest.raises(ValueError, match="checkpoint.safetensors.* corrupt metadata"):
        _fit(ckpt)


def test_folder_in_place_of_the_checkpoint_names_it(tmp_path):
    ckpt = tmp_path / "ckpt"
    (ckpt / "checkpoint.safetensors").mkdir(parents=True)
    with pytest.raises(ValueError, match="checkpoint.safetensors' is not a regular file"):
        _fit(ckpt)
    afile = tmp_path / "file"
    afile.write_text("x")
    with pytest.raises(ValueError, match="checkpoint_dir .*file' is not a folder"):
        _fit(afile)


def test_non_finite_iterate_is_not_saved(tmp_path):
    ck = Checkpoint(tmp_path, meta={})
    from torchlogit.solvers import History

    ck.save(1, torch.zeros(1, 3), History(), {})
    ck.save(2, torch.full((1, 3), float("nan")), History(), {})
    assert ck.load().n_iter == 1 and ck.n_saved == 1


def test_undamaged_resume_still_matches(tmp_path):
    ckpt, _ = _interrupted(tmp_path)
    resumed = _fit(ckpt)
    ref = _fit(tmp_path / "fresh")
    # in memory, a resumed L-BFGS run agrees to the last bits (not bit for bit)
    np.testing.assert_allclose(resumed.coef_, ref.coef_, rtol=1e-12, atol=0)


@pytest.fixture
def nan_solver():
    class NaNSolver(LBFGSSolver):
        name = "nan-out"

        def solve(self, objective, coef0, resume=None):
            result = super().solve(objective, coef0, resume=resume)
            result.coef.view(-1)[-1] = float("nan")
            return result

    SOLVERS["nan-out"] = NaNSolver
    yield "nan-out"
    del SOLVERS["nan-out"]


def test_engine_refuses_a_non_finite_model(nan_solver):
    X, y = _data()
    est = LogisticRegression(solver=nan_solver)
    with pytest.raises(ValueError, match="non-finite coefficients"):
        est.fit(X, y)
    assert not hasattr(est, "coef_")


def test_partial_fit_refuses_a_non_finite_model():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((300, 3)) * 100
    y = (X[:, 0] > 0).astype(int)
    opts = {"eta0": 1e300, "learning_rate": "constant"}
    est = LogisticRegression(solver="sgd", solver_options=opts)
    # The solver's divergence check (#13 item 8) stops it first, with the same non-finite
    # finding; the engine's own check is the last line (test_engine_refuses_a_non_finite_model).
    with pytest.raises(ValueError, match="'sgd' diverged in epoch 1: a non-finite objective"):
        est.partial_fit(X, y, classes=[0, 1])
    assert not hasattr(est, "coef_")


def test_a_failed_checkpoint_write_names_the_file_and_leaves_no_temporary(tmp_path, monkeypatch):
    import errno

    import safetensors.torch

    from torchlogit.solvers import History

    ck = Checkpoint(tmp_path, meta={})
    ck.save(1, torch.zeros(1, 3), History(), {})

    def full(tensors, filename, metadata=None):
        with open(filename, "wb") as fh:
            fh.write(b"partial")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(safetensors.torch, "save_file", full)
    with pytest.raises(ValueError, match=r"cannot write checkpoint '.*checkpoint.safetensors'"):
        ck.save(2, torch.ones(1, 3), History(), {})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint.safetensors"]
    assert ck.load().n_iter == 1


def test_a_damaged_checkpoint_never_wins_the_distributed_resume(tmp_path):
    """``distributed`` resumes every rank from the most advanced rank's file: a file whose
    metadata claims a later iteration but whose checksum fails must count as no checkpoint
    (it would otherwise be copied over every rank's good one)."""
    from torchlogit.solvers import stored_iteration

    good_dir, good = _interrupted(tmp_path / "good")
    n_good = stored_iteration(good)
    assert n_good == 3
    bad_dir, bad = _interrupted(tmp_path / "bad")

    def claim_later(doc):
        doc["n_iter"] = 10_000

    _rewrite(bad, edit_doc=claim_later, rechecksum=False)
    assert stored_iteration(bad) == -1
    assert stored_iteration(tmp_path / "missing" / "checkpoint.safetensors") == -1
    # ... while a correctly checksummed later checkpoint does count
    _rewrite(bad, edit_doc=claim_later, rechecksum=True)
    assert stored_iteration(bad) == 10_000

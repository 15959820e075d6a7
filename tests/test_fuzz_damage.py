"""Random damage to checkpoints and chunk-cache entries (#13): a clear error or the right fit.

With a fixed seed, a few hundred damaged copies — bytes flipped, files truncated or extended,
NaN written into a tensor (with and without a recomputed checksum), metadata / header edits —
are each handed to a fit. Every one must end either in a one-line ``ValueError`` that names
the damaged file, or in the coefficients of an undamaged fit. Nothing else: no other
exception type, no NaN model, no stale data.
"""

from __future__ import annotations

import json
import shutil
import struct
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning

from torchlogit import LogisticRegression
from torchlogit.data import CSVSource

SEED = 20261130


def _data(n=150):
    rng = np.random.default_rng(1)
    X = rng.standard_normal((n, 3))
    return X, (X @ [1.0, -1.0, 0.5] + rng.logistic(size=n) > 0).astype(int)


def _quiet():
    ctx = warnings.catch_warnings()
    ctx.__enter__()
    warnings.simplefilter("ignore", ConvergenceWarning)
    warnings.simplefilter("ignore", UserWarning)
    return ctx


# --------------------------------------------------------------------------- damage
def _flip(raw: bytes, rng) -> bytes:
    b = bytearray(raw)
    for _ in range(int(rng.integers(1, 4))):
        i = int(rng.integers(len(b)))
        b[i] ^= int(rng.integers(1, 256))
    return bytes(b)


def _truncate(raw: bytes, rng) -> bytes:
    return raw[: int(rng.integers(0, len(raw)))]


def _extend(raw: bytes, rng) -> bytes:
    return raw + rng.bytes(int(rng.integers(1, 64)))


def _nan_at_end(raw: bytes, rng) -> bytes:
    """Overwrite one float64 near the end (the tensors' data) with NaN or infinity."""
    k = int(rng.integers(1, 5))
    i = len(raw) - 8 * k
    value = [float("nan"), float("inf"), -float("inf")][int(rng.integers(3))]
    return raw[:i] + struct.pack("<d", value) + raw[i + 8 :]


DAMAGE = [_flip, _truncate, _extend, _nan_at_end]


# --------------------------------------------------------------------------- checkpoints
def _fit_ckpt(ckpt):
    X, y = _data()
    est = LogisticRegression(solver="lbfgs", tol=1e-10, max_iter=200, checkpoint_dir=ckpt)
    return est.fit(X, y)


def _checkpoint_edits(path, rng):
    """A header edit: one field of the JSON document changed, the file otherwise valid."""
    from safetensors import safe_open
    from safetensors.torch import save_file

    with safe_open(str(path), framework="pt") as fh:
        doc = json.loads(fh.metadata()["torchlogit"])
        tensors = {k: fh.get_tensor(k) for k in fh.keys()}  # noqa: SIM118
    choice = int(rng.integers(4))
    if choice == 0:
        doc["n_iter"] = int(rng.integers(-5, 500))
    elif choice == 1:
        doc["meta"]["C"] = float(rng.uniform(0, 5))
    elif choice == 2:
        doc.pop(["scalars", "history", "n_iter"][int(rng.integers(3))])
    else:
        coef = tensors["coef"]
        coef.view(-1)[int(rng.integers(coef.numel()))] = float("nan")
    save_file(tensors, str(path), metadata={"torchlogit": json.dumps(doc)})


def test_fuzz_checkpoints(tmp_path):
    rng = np.random.default_rng(SEED)
    base = tmp_path / "base"
    ctx = _quiet()
    try:
        LogisticRegression(solver="lbfgs", tol=1e-10, max_iter=4, checkpoint_dir=base).fit(*_data())
        raw = (base / "checkpoint.safetensors").read_bytes()
        want = _fit_ckpt(tmp_path / "fresh").coef_
        outcomes = {"error": 0, "fit": 0}
        for case in range(160):
            ckpt = tmp_path / f"c{case}"
            ckpt.mkdir()
            path = ckpt / "checkpoint.safetensors"
            if case % 5 == 4:
                path.write_bytes(raw)
                _checkpoint_edits(path, rng)
            else:
                path.write_bytes(DAMAGE[case % 4](raw, rng))
            try:
                got = _fit_ckpt(ckpt).coef_
            except ValueError as exc:
                assert str(path) in str(exc) and "\n" not in str(exc), (case, str(exc))
                outcomes["error"] += 1
                continue
            np.testing.assert_allclose(got, want, rtol=1e-7, atol=1e-9, err_msg=f"case {case}")
            outcomes["fit"] += 1
    finally:
        ctx.__exit__(None, None, None)
    assert outcomes["error"] > 100  # nearly every damage is caught


# --------------------------------------------------------------------------- chunk cache
def _write_csv(path):
    X, y = _data(900)
    lines = ["a,b,c,label"] + [
        f"{r[0]:.6f},{r[1]:.6f},{r[2]:.6f},{t}" for r, t in zip(X, y, strict=True)
    ]
    path.write_text("\n".join(lines) + "\n")


def _fit_csv(data, cache):
    src = CSVSource(data, target="label", chunk_rows=64, cache_dir=cache)
    return LogisticRegression(solver="lbfgs", tol=1e-10, max_iter=200).fit(src)


def _npy_header_edit(raw: bytes, rng) -> bytes:
    """Change the shape or dtype written in a ``.npy`` header (same header length)."""
    end = raw.index(b"\n")
    head = raw[:end].decode("latin1")
    swaps = [("<f8", "<f4"), ("<i8", "<f8"), ("<f8", ">f8"), ("False", "True ")]
    for old, new in swaps[int(rng.integers(len(swaps))) :] + swaps:
        if old in head:
            head = head.replace(old, new, 1)
            break
    return head.encode("latin1") + raw[end:]


def test_fuzz_chunk_cache(tmp_path):
    rng = np.random.default_rng(SEED + 1)
    data = tmp_path / "d.csv"
    _write_csv(data)
    ctx = _quiet()
    try:
        base = tmp_path / "base"
        _fit_csv(data, base)
        (entry,) = [p for p in base.iterdir() if p.is_dir()]
        files = sorted(p.name for p in entry.iterdir())
        want = _fit_csv(data, None).coef_
        for case in range(60):
            cache = tmp_path / f"k{case}"
            shutil.copytree(base, cache)
            target = cache / entry.name / files[int(rng.integers(len(files)))]
            raw = target.read_bytes()
            kinds = [*DAMAGE, _npy_header_edit]
            damage = kinds[case % len(kinds)]
            if damage is _npy_header_edit and target.suffix != ".npy":
                damage = _flip
            target.write_bytes(damage(raw, rng))
            try:
                got = _fit_csv(data, cache).coef_
            except ValueError as exc:
                assert str(target) in str(exc), (case, str(exc))
                continue
            # chunks from the cache are C-ordered: the fit to the last bits, as undamaged
            np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12, err_msg=f"case {case}")
    finally:
        ctx.__exit__(None, None, None)

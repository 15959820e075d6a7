"""What names a problem for a checkpoint, so that a checkpoint is resumed only by its own fit.

The key holds the solver and its options, the classes, the coefficient shape, the penalty
(``C``, ``l1_ratio``, the strengths, a hash of ``penalty_factor`` and of the bounds),
``class_weight``, ``fit_intercept``, the feature names, ``S`` and a fingerprint of the data's
content (:func:`data_fingerprint`); not ``tol`` / ``max_iter``, which a rerun may change.
In a distributed fit every part is the same on every rank (sums go through the reducer), so
a checkpoint copied between ranks matches.
"""

from __future__ import annotations

import hashlib
import json

import numpy as np
import torch

from ..data import StreamingData, linear_predict, transpose_matmul


def _files(fingerprint) -> list:
    """The ``(path, size, mtime_ns)`` entries of a source's fingerprint; the object ids of
    arrays in memory are left out (their content hash stands for them)."""
    return [
        list(map(str, f))
        for f in fingerprint
        if isinstance(f, tuple) and len(f) == 3 and isinstance(f[0], str)
    ]


def _quantize(v: torch.Tensor) -> list[int]:
    """``v`` (float64, 1-D) to integers at 1e-7 of its largest entry: robust to the last
    bits of a sum that another reduction order (threads, device) would round differently."""
    v = v.detach().to("cpu", torch.float64)
    scale = float(v.abs().max()) if v.numel() else 0.0
    if not np.isfinite(scale):  # overflowed: keep the values as they are
        return [repr(x) for x in v.tolist()]
    if scale == 0:
        return [0] * v.numel()
    return [int(x) for x in torch.round(v / scale * 1e7).tolist()]


def _hash_array(a) -> str | None:
    if a is None:
        return None
    return hashlib.sha256(np.asarray(a, dtype=np.float64).tobytes()).hexdigest()


def data_fingerprint(objective, n_classes: int) -> str:
    """A hash of the training rows (features, labels, weights, offsets), cheap to compute.

    For rows in memory: the per-class weighted sums ``M^T X`` (``M = onehot(y) * s``: the
    gradient at zero, one pass over ``X``), the per-class weights ``M^T 1``, and ``M^T r``,
    ``M^T r^2`` for ``r = X G`` with a fixed pseudo-random ``G`` of two columns (one more
    pass), and ``M^T o`` when there is an offset. The sums see every row, so an edit anywhere
    changes them; the squares catch moves between rows that keep the sums. They are
    quantised at 1e-7 of their largest entry before hashing, so a resume on another number
    of threads still matches. Row order does not count (it does not change the problem).

    For streamed rows: the source's fingerprint (file names, sizes, modification times), its
    column selection and the content hash of the validation pass (the files' sha256, or the
    rows of arrays in memory), so a rewrite that keeps size and mtime is another problem.
    Sums go through the objective's ``reduce``: every rank computes the same fingerprint.
    """
    data = objective.data
    if isinstance(data, StreamingData):
        ident = {
            "files": _files(data.summary.fingerprint),
            "selection": data.source.selection(),
            "content": getattr(data.summary, "content", None),
        }
        digest = hashlib.sha256(json.dumps(ident, sort_keys=True, default=str).encode()).digest()
        words = [int.from_bytes(digest[i : i + 2], "big") for i in range(0, 32, 2)]
        device = data.device
        vec = torch.tensor(words, dtype=torch.float64)
        vec = objective.reduce(vec.to(device if device.type != "mps" else "cpu"))
        return hashlib.sha256(repr([int(x) for x in vec.tolist()]).encode()).hexdigest()
    parts = None
    for batch in data.batches():
        X, y, s = batch.X, batch.y, batch.sample_weight
        M = torch.nn.functional.one_hot(y, n_classes).to(s.dtype) * s.unsqueeze(1)
        gen = torch.Generator(device="cpu").manual_seed(20240917)
        G = torch.randn(X.shape[1], 2, generator=gen, dtype=torch.float64)
        r = linear_predict(X, G.to(device=M.device, dtype=M.dtype).T)
        got = [
            transpose_matmul(X, M).reshape(-1),
            M.sum(0),
            (M.T @ r).reshape(-1),
            (M.T @ (r * r)).reshape(-1),
            torch.tensor([float(X.shape[0]), float(X.shape[1])], dtype=M.dtype, device=M.device),
        ]
        if batch.offset is not None:
            got.append((M.T @ batch.offset.to(M.dtype)).reshape(-1))
        got = [g.to(torch.float64) if M.device.type != "mps" else g.cpu().double() for g in got]
        parts = got if parts is None else [a + b for a, b in zip(parts, got, strict=True)]
    parts = [objective.reduce(p) for p in parts]
    q = [_quantize(p) for p in parts]
    return hashlib.sha256(repr(q).encode()).hexdigest()


def _class_weight_key(class_weight):
    if isinstance(class_weight, dict):
        return sorted((str(k), float(v)) for k, v in class_weight.items())
    return class_weight


def problem_key(spec, training, objective, solver_name: str) -> dict:
    """The checkpoint's problem description (see the module docstring)."""
    penalty = objective.penalty
    factor = getattr(penalty, "factor", None)
    factor_key = None
    if factor is not None:
        raw = factor.detach().to("cpu", torch.float64).numpy().tobytes()
        factor_key = hashlib.sha256(raw).hexdigest()
    names = training.feature_names
    classes = training.classes
    meta = {
        "solver": solver_name,
        "solver_options": spec.solver_options or {},
        "classes": [str(c) for c in np.asarray(classes).tolist()],
        "coef_shape": list(objective.coef_shape),
        "fit_intercept": bool(objective.fit_intercept),
        "l1": penalty.l1,
        "l2": penalty.l2,
        "C": float(spec.C),
        "penalty": str(spec.penalty),
        "l1_ratio": None if spec.l1_ratio is None else float(spec.l1_ratio),
        "penalty_factor": factor_key,
        "class_weight": _class_weight_key(spec.class_weight),
        "feature_names": None if names is None else [str(n) for n in names],
        "weight_sum": float(training.weight_sum),
        "data": data_fingerprint(objective, len(classes)),
    }
    if spec.lower_bounds is not None or spec.upper_bounds is not None:
        meta["bounds"] = [_hash_array(spec.lower_bounds), _hash_array(spec.upper_bounds)]
    meta["rows"] = int(training.n_samples)
    if training.streamed and not training.distributed:
        data = training.data
        meta["files"] = _files(data.summary.fingerprint)
        meta["class_weights"] = [float(c) for c in data.class_weights]
    return meta

"""The estimator's streaming paths: fit on a source, checkpoints, progress, ``partial_fit``.

Kept apart from ``_logistic.py`` so that the estimator class stays one screen of
orchestration; every function here takes the estimator and sets its attributes as ``fit``
does.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import warnings

import numpy as np
import torch
from sklearn.exceptions import ConvergenceWarning

from .. import solvers as _solvers
from ..data import (
    InMemoryData,
    StreamingData,
    class_weight_per_sample,
    resolve_device,
    resolve_dtype,
    validate_sample_weight,
    validate_X,
)
from ..data._design import linear_predict, transpose_matmul
from ..objective import LinearObjective, make_loss
from ..objective._lookahead import LookaheadObjective


def fit_source(est, source, y, sample_weight):
    """``est.fit(source)``: validate the source (one pass), then fit on its chunks."""
    if y is not None or sample_weight is not None:
        raise ValueError(
            "with a data source, labels and weights come from the source (its target= and "
            "weight= columns): call fit(source) without y or sample_weight"
        )
    device = resolve_device(est.device)
    dtype = None if est.dtype is None else resolve_dtype(est.dtype, None)
    data = source.open(
        class_weight=est.class_weight, dtype=dtype, device=device, verbose=est.verbose
    )
    est.n_features_in_ = data.n_features
    if data.feature_names is not None:
        est.feature_names_in_ = np.asarray(data.feature_names, dtype=object)
    elif hasattr(est, "feature_names_in_"):
        del est.feature_names_in_
    d = data.n_features
    penalty = est._make_penalty(data.weight_sum, d, data.dtype, data.device)
    objective = LinearObjective(
        make_loss(len(data.classes)), data, penalty, fit_intercept=est.fit_intercept, n_features=d
    )
    est._run_solver(objective, penalty, data.classes, n_samples=data.n_rows, sparse=False)
    est._warn_if_separable(objective, data)
    est.n_rows_ = data.n_rows
    est.passes_ = list(data.passes)
    return est


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


def _data_fingerprint(objective, n_classes: int) -> str:
    """A hash of the training rows (features, labels, weights), cheap to compute.

    For rows in memory: the per-class weighted sums ``M^T X`` (``M = onehot(y) * s``: the
    gradient at zero, one pass over ``X``), the per-class weights ``M^T 1``, and ``M^T r``,
    ``M^T r^2`` for ``r = X G`` with a fixed pseudo-random ``G`` of two columns (one more
    pass). The sums see every row, so an edit anywhere (a label, a weight, a value, even one
    that keeps the column sums) changes them; the squares catch moves between rows that
    keep the sums. They are quantised at 1e-7 of their largest entry before hashing, so
    a resume on another number of threads still matches (a near-tie may still miss and
    start afresh: safe). Row order does not count (it does not change the problem).

    For streamed rows: the source's fingerprint (file names, sizes, modification times), its
    column selection and, for arrays in memory, the content hash of the validation pass.

    In a distributed fit the vector is summed over the ranks with the objective's reduce,
    so every rank computes the same fingerprint (checkpoints are copied between ranks).
    """
    data = objective.data
    local = getattr(data, "local", data)
    if isinstance(local, StreamingData):
        ident = {
            "files": _files(local.summary.fingerprint),
            "selection": local.source.selection(),
            "content": getattr(local.summary, "content", None),
        }
        digest = hashlib.sha256(json.dumps(ident, sort_keys=True, default=str).encode()).digest()
        words = [int.from_bytes(digest[i : i + 2], "big") for i in range(0, 32, 2)]
        device = local.device
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
        got = [g.to(torch.float64) if M.device.type != "mps" else g.cpu().double() for g in got]
        parts = got if parts is None else [a + b for a, b in zip(parts, got, strict=True)]
    parts = [objective.reduce(p) for p in parts]
    q = [_quantize(p) for p in parts]
    return hashlib.sha256(repr(q).encode()).hexdigest()


def _class_weight_key(class_weight):
    if isinstance(class_weight, dict):
        return sorted((str(k), float(v)) for k, v in class_weight.items())
    return class_weight


def _problem_meta(est, objective, classes, solver_name: str) -> dict:
    """What identifies a problem for a checkpoint (not tol / max_iter: those may change).

    The solver, the classes, the penalty (``C``, ``l1_ratio``, the strengths, a hash of
    ``penalty_factor``), ``class_weight``, ``fit_intercept``, the feature names and a
    fingerprint of the data's content (:func:`_data_fingerprint`): a checkpoint written for
    other data of the same shape is never resumed.
    """
    data = objective.data
    penalty = objective.penalty
    factor = getattr(penalty, "factor", None)
    names = getattr(est, "feature_names_in_", None)
    factor_key = None
    if factor is not None:
        raw = factor.detach().to("cpu", torch.float64).numpy().tobytes()
        factor_key = hashlib.sha256(raw).hexdigest()
    meta = {
        "solver": solver_name,
        "solver_options": est.solver_options or {},
        "classes": [str(c) for c in np.asarray(classes).tolist()],
        "coef_shape": list(objective.coef_shape),
        "fit_intercept": bool(objective.fit_intercept),
        "l1": penalty.l1,
        "l2": penalty.l2,
        "C": float(est.C),
        "penalty": str(est.penalty),
        "l1_ratio": None if est.l1_ratio is None else float(est.l1_ratio),
        "penalty_factor": factor_key,
        "class_weight": _class_weight_key(est.class_weight),
        "feature_names": None if names is None else [str(n) for n in names],
        "weight_sum": float(data.weight_sum),
        "data": _data_fingerprint(objective, len(classes)),
    }
    if isinstance(data, StreamingData):
        meta["rows"] = data.n_rows
        meta["files"] = _files(data.summary.fingerprint)
        meta["class_weights"] = [float(c) for c in data.class_weights]
    else:
        meta["rows"] = int(data.n_samples)
    return meta


def solver_extras(est, objective, classes, solver_name: str):
    """``(solver kwargs, resume state or None, objective to solve)`` for ``_run_solver``."""
    kwargs = dict(est.solver_options or {})
    resume = None
    if est.checkpoint_dir is not None:
        ckpt = _solvers.Checkpoint(
            est.checkpoint_dir, _problem_meta(est, objective, classes, solver_name)
        )
        resume = ckpt.load()
        solver_cls = _solvers.get_solver(solver_name)
        if resume is not None and "resume" not in inspect.signature(solver_cls.solve).parameters:
            warnings.warn(
                f"solver {solver_name!r} cannot continue from a checkpoint; starting afresh",
                UserWarning,
                stacklevel=4,
            )
            resume = None
        elif resume is None and ckpt.stored_meta() is not None:
            warnings.warn(
                f"{ckpt.path} belongs to another problem (data, penalty or solver differ); "
                "starting afresh and overwriting it",
                UserWarning,
                stacklevel=4,
            )
        kwargs["checkpoint"] = ckpt
    data = objective.data
    if isinstance(data, StreamingData):
        max_iter = est.max_iter

        def progress(it, coef, history):
            data.progress_label = f"iteration {it + 1} of at most {max_iter}"
            return False

        kwargs.setdefault("callback", progress)
        progress(resume.n_iter if resume else 0, None, None)
        if solver_name == "newton":
            objective = LookaheadObjective(objective)
    return kwargs, resume, objective


class _KeepState:
    """A checkpoint kept in memory: how ``partial_fit`` carries a stochastic solver's state."""

    def __init__(self):
        self.state: dict = {}

    def save(self, n_iter, coef, history, state):
        self.state = state


def partial_fit(est, X, y, classes=None, sample_weight=None):
    """One epoch of ``"sgd"`` / ``"adam"`` on ``(X, y)``, continuing from the last call.

    The penalty is scikit-learn's ``r(W) / (C S)`` with ``S`` the total sample weight seen
    so far, so the model tracks the fit on all the data seen. The solver is ``"adam"`` when
    ``solver="adam"``, else ``"sgd"`` (with a constant step here unless ``solver_options``
    asks for ``learning_rate="invscaling"``). As in scikit-learn, the first call on an
    unfitted estimator needs ``classes``; after ``fit`` it continues from the fitted model.
    ``class_weight="balanced"`` is computed on each call's batch.
    """
    est._check_params()
    first = not hasattr(est, "classes_")
    if first:
        if classes is None:
            raise ValueError("classes must be given on the first call to partial_fit")
        classes = np.unique(np.asarray(classes))
        if len(classes) < 2:
            raise ValueError(f"partial_fit needs at least 2 classes, got {classes!r}")
    else:
        if classes is not None and not np.array_equal(np.unique(classes), est.classes_):
            raise ValueError(
                f"classes={classes!r} differs from the classes seen before: {est.classes_!r}"
            )
        classes = est.classes_
    name = "adam" if est.solver == "adam" else "sgd"
    device = resolve_device(est.device, X) if first else est._coef.device
    dtype = None if first else est._coef.dtype
    Xt, _ = validate_X(est, X, reset=first, dtype=dtype or est.dtype, device=device)
    y_np = np.asarray(y.detach().cpu().numpy() if hasattr(y, "detach") else y).reshape(-1)
    if y_np.shape[0] != Xt.shape[0]:
        raise ValueError(f"X has {Xt.shape[0]} rows but y has {y_np.shape[0]}")
    idx = np.clip(np.searchsorted(classes, y_np), 0, len(classes) - 1)
    unknown = classes[idx] != y_np
    if np.any(unknown):
        raise ValueError(f"label {y_np[unknown][0]!r} is not in classes {classes!r}")
    sw = validate_sample_weight(sample_weight, Xt.shape[0])
    if est.class_weight == "balanced":  # from this batch: classes absent from it weigh 1
        counts = np.bincount(idx, weights=sw, minlength=len(classes))
        present = counts > 0
        cw = np.ones(len(classes))
        cw[present] = counts.sum() / (present.sum() * counts[present])
        sw = sw * cw[idx]
    else:
        sw = sw * class_weight_per_sample(est.class_weight, classes, idx, sw)
    state = {} if first else getattr(est, "_partial", {})
    if state.get("coef") is not getattr(est, "_coef", None):  # fit() ran since: start afresh
        state = {}
    total = state.get("weight_sum", 0.0) + float(sw.sum())
    if not total > 0:
        raise ValueError("every sample seen so far has zero weight")
    data = InMemoryData(
        Xt, torch.from_numpy(idx).to(device), torch.from_numpy(sw).to(Xt.device, Xt.dtype)
    )
    d = Xt.shape[1]
    penalty = est._make_penalty(total, d, Xt.dtype, device)
    objective = LinearObjective(
        make_loss(len(classes)), data, penalty, fit_intercept=est.fit_intercept, n_features=d
    )
    keep = _KeepState()
    options = dict(est.solver_options or {}) if est.solver in ("sgd", "adam") else {}
    if name == "sgd":  # an online stream has no epochs to decay the step over
        options.setdefault("learning_rate", "constant")
    solver = _solvers.get_solver(name)(
        tol=0.0, max_iter=1, verbose=est.verbose, checkpoint=keep, **options
    )
    coef0 = torch.zeros(objective.coef_shape, dtype=Xt.dtype, device=device)
    resume = None
    if not first:
        resume = _solvers.ResumeState(est._coef, 0, {}, state.get("solver", {}))
    result = solver.solve(objective, coef0, resume=resume)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est._set_fitted(result, objective, classes, name)
    est.n_iter_ = np.array([state.get("n_calls", 0) + 1], dtype=np.int32)
    est._partial = {
        "weight_sum": total,
        "solver": keep.state,
        "n_calls": state.get("n_calls", 0) + 1,
        "coef": est._coef,
    }
    return est

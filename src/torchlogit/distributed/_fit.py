"""Data-parallel ``fit``: each rank holds some rows, every rank ends with the same model.

With ``R`` ranks holding disjoint row sets ``I_1, ..., I_R`` the averaged objective is

.. math::

    f(W, b) = \\frac{1}{S} \\sum_{r=1}^{R} \\sum_{i \\in I_r} s_i \\, \\ell(y_i, W x_i + b)
              + r_{smooth}(W), \\qquad S = \\sum_r \\sum_{i \\in I_r} s_i ,

so value, gradient and Hessian are sums of per-rank sums: :class:`LinearObjective` computes
each rank's sum and passes it through ``reduce`` (an all-reduce), and the solvers see the
global objective without knowing it. What must be global *before* the solver starts is
computed here, collectively:

- the classes: the union of the labels every rank saw (a rank may hold one row, or no row
  of some class);
- the class weights: ``"balanced"`` uses the global weighted class counts
  ``n_k = sum_{i: y_i = k} s_i`` (scikit-learn's ``S / (K n_k)``);
- ``S``, the number of rows, and agreement on the number of features, feature names and
  dtype: any disagreement, or a validation error on any rank, stops every rank with an error
  (never a hang: every collective has a timeout).

The result equals a one-process fit on all the rows, up to the rounding of the summation
order. The solver's floats come from reduced sums, which are bitwise identical on every
rank, so every rank takes the same steps; the coefficients are checked to be identical on
every rank at the end.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.distributed as dist

from .. import solvers as _solvers
from ..data import (
    InMemoryData,
    class_weight_per_sample,
    resolve_device,
    validate_sample_weight,
    validate_X_y,
)
from ..data._labels import check_labels
from ..objective import LinearObjective, make_loss
from ..objective._lookahead import LookaheadObjective
from ._checkpoint import per_rank_checkpoints
from ._comm import Communicator, DistributedError, check_same_tensor
from ._source import is_source, open_sharded_source


def is_active(option) -> bool:
    """Whether a fit with ``distributed=option`` runs collectively.

    ``"auto"``: when the default process group is initialised; ``True``: always (an error
    when no group exists); ``False``: never (each process fits its own rows alone).
    """
    if option is False:
        return False
    initialised = dist.is_available() and dist.is_initialized()
    if option is True and not initialised:
        raise DistributedError(
            "distributed=True, but torch.distributed is not initialised: launch with torchrun "
            "and call torch.distributed.init_process_group (or use "
            "torchlogit.distributed.distributed_context) before fit"
        )
    return initialised


class ShardedData:
    """This rank's rows, with the *global* weight sum ``S`` the objective divides by."""

    def __init__(self, local, weight_sum: float, n_samples: int):
        self.local = local
        self.weight_sum = float(weight_sum)
        self.n_samples = int(n_samples)  # over all ranks
        self.local_weight_sum = float(local.weight_sum)

    def batches(self):
        return self.local.batches()

    def __getattr__(self, name):  # dtype, device, passes, ... of the local data
        if name == "local":
            raise AttributeError(name)
        return getattr(self.local, name)


def _local_labels(y_np) -> np.ndarray:
    """The distinct labels of this rank's rows, checked as :func:`encode_labels` checks them
    (except that one rank may hold a single class)."""
    y = check_labels(y_np)
    return np.unique(y)


def _local_sample_weight(sample_weight, n: int) -> np.ndarray:
    """As :func:`validate_sample_weight`, but a rank whose rows all weigh 0 is fine (``S`` is
    checked globally)."""
    if isinstance(sample_weight, torch.Tensor):
        sample_weight = sample_weight.detach().cpu().numpy()
    if sample_weight is not None and not np.isscalar(sample_weight):
        arr = np.asarray(sample_weight)
        if arr.ndim == 1 and arr.shape[0] == n and arr.dtype.kind in "iuf" and np.all(arr == 0):
            return np.zeros(n)
    return validate_sample_weight(sample_weight, n)


def _check_schema(comm: Communicator, meta: list[dict]) -> None:
    """Every rank must see the same features, in the same order, in the same dtype."""
    for key, what in (
        ("n_features", "number of features"),
        ("feature_names", "feature names"),
        ("dtype", "dtype"),
        ("device_type", "device type"),
    ):
        values = [m[key] for m in meta]
        if any(v != values[0] for v in values):
            per_rank = "; ".join(
                f"rank {r}: {v if key != 'feature_names' else _short(v)}"
                for r, v in enumerate(values)
            )
            raise ValueError(
                f"the ranks' training data disagree on the {what} ({per_rank}); every rank "
                "must hold the same columns"
            )


def _short(names):
    if names is None:
        return "none"
    names = list(names)
    return repr(names if len(names) <= 6 else names[:6] + ["..."])


def _global_classes(label_sets: list[np.ndarray]) -> np.ndarray:
    try:
        classes = np.unique(np.concatenate([np.asarray(c) for c in label_sets]))
    except TypeError as exc:
        kinds = sorted({np.asarray(c).dtype.kind for c in label_sets})
        raise ValueError(
            f"the ranks' labels cannot be ordered together (dtype kinds {kinds}): every rank "
            "must use the same label type"
        ) from exc
    if classes.shape[0] < 2:
        raise ValueError(
            "This solver needs samples of at least 2 classes in the data, but the data "
            f"(all ranks together) contains only one class: {classes[0]!r}"
        )
    return classes


def _class_weights(comm, class_weight, classes, y_index, sw) -> np.ndarray:
    """Each local row's class weight, from global counts where they matter."""
    if class_weight is None:
        return np.ones_like(sw)
    if isinstance(class_weight, str) and class_weight == "balanced":
        K = classes.shape[0]
        local = torch.from_numpy(np.bincount(y_index, weights=sw, minlength=K).astype(np.float64))
        counts = comm.all_reduce_sum(local).numpy()
        with np.errstate(divide="ignore", invalid="ignore"):
            per_class = counts.sum() / (K * counts)
        # As class_weight_per_sample: a class whose rows all weigh 0 stays absent (weight 0).
        per_class[~np.isfinite(per_class)] = 0.0
        return per_class[y_index]
    return class_weight_per_sample(class_weight, classes, y_index, sw)


def _open_arrays(estimator, X, y, sample_weight, comm: Communicator):
    """This rank's arrays as :class:`InMemoryData` with global classes and class weights.

    Returns ``(local data, global classes, per-rank metadata)``.
    """
    device = resolve_device(estimator.device, X)
    with comm.agree("validating the training data"):
        Xt, y_np, _ = validate_X_y(estimator, X, y, dtype=estimator.dtype, device=device)
        labels = _local_labels(y_np)
        sw = _local_sample_weight(sample_weight, Xt.shape[0])
    names = getattr(estimator, "feature_names_in_", None)
    meta = comm.all_gather_object(
        {
            "n_features": int(Xt.shape[1]),
            "feature_names": None if names is None else [str(n) for n in names],
            "dtype": str(Xt.dtype),
            "device_type": Xt.device.type,
            "n_samples": int(Xt.shape[0]),
            "labels": labels,
        }
    )
    _check_schema(comm, meta)
    classes = _global_classes([m["labels"] for m in meta])
    y_index = np.searchsorted(classes, np.asarray(y_np).reshape(-1)).astype(np.int64)
    sw = sw * _class_weights(comm, estimator.class_weight, classes, y_index, sw)
    local = InMemoryData(
        Xt,
        torch.from_numpy(y_index).to(device),
        torch.from_numpy(sw).to(device=device, dtype=Xt.dtype),
    )
    return local, classes, meta


def _solver_name(estimator, objective, penalty, n_samples: int) -> str:
    if estimator.solver != "auto":
        return estimator.solver
    m, p = objective.coef_shape
    return _solvers.choose_solver(
        n_samples=n_samples, n_parameters=m * p, penalty=penalty, sparse=False
    )


def fit_distributed(estimator, X, y, sample_weight=None, *, communicator=None):
    """Fit ``estimator`` (a :class:`~torchlogit.LogisticRegression`) on this rank's rows.

    Every rank of the process group must call it, each with its own rows; each returns the
    estimator fitted on all the rows. ``communicator`` defaults to the default group.
    Sets ``estimator.distributed_info_``: ``world_size``, ``rows_per_rank``, and what the
    solver's reductions sent per rank (``bytes_reduced`` over ``n_reductions`` all-reduces;
    ``payload_counts``: bytes -> number of all-reduces of that size), and
    ``max_rank_difference``, the largest difference of any rank's coefficients from rank 0's
    (0 when the ranks took bitwise identical steps; every rank keeps rank 0's).
    """
    if estimator.solver != "auto" and "batch_value_gradient" in getattr(
        _solvers.get_solver(estimator.solver), "requires", ()
    ):
        # Mini-batch solvers step on one rank's batch at a time: nothing to all-reduce, so the
        # ranks would drift apart. Every rank has the same parameters, so every rank stops here.
        raise ValueError(
            f"solver={estimator.solver!r} is a mini-batch solver and does not run data-parallel; "
            "use a full-batch solver ('auto', 'newton', 'lbfgs', 'cd', 'fista', 'newton-cg') "
            "inside a process group, or pass distributed=False for a local fit"
        )
    comm = communicator or Communicator()
    if is_source(X):  # each rank streams its own files
        local, classes, meta = open_sharded_source(estimator, X, y, sample_weight, comm)
        dtype, device, n_features = local.dtype, local.device, local.n_features
        S = float(local.weight_sum)  # already over all ranks
    else:
        local, classes, meta = _open_arrays(estimator, X, y, sample_weight, comm)
        batch = next(iter(local.batches()))
        dtype, device, n_features = batch.X.dtype, batch.X.device, batch.X.shape[1]
        local_sum = torch.tensor([float(local.weight_sum)], dtype=torch.float64)
        S = float(comm.all_reduce_sum(local_sum)[0])
    if not S > 0:
        raise ValueError("every sample (on every rank) has zero weight after class_weight")
    n_samples = sum(m["n_samples"] for m in meta)
    data = ShardedData(local, S, n_samples)
    penalty = estimator._make_penalty(S, n_features, dtype, device)
    objective = LinearObjective(
        make_loss(len(classes)),
        data,
        penalty,
        fit_intercept=estimator.fit_intercept,
        n_features=n_features,
        reduce=comm.all_reduce_sum,
    )
    bytes0, calls0, sizes0 = comm.n_bytes, comm.n_reductions, comm.payload_counts.copy()
    solved = objective
    if is_source(X) and _solver_name(estimator, objective, penalty, n_samples) == "newton":
        # Streamed Newton: the line search's pass also computes (g, H), as for one process.
        solved = LookaheadObjective(objective)
    with per_rank_checkpoints(estimator, comm):
        estimator._run_solver(solved, penalty, classes, n_samples=n_samples, sparse=False)
    # What the solver exchanged: one payload per pass (value, gradient, Hessian sums).
    estimator.distributed_info_ = {
        "world_size": comm.world_size,
        "rows_per_rank": [m["n_samples"] for m in meta],
        "bytes_reduced": comm.n_bytes - bytes0,
        "n_reductions": comm.n_reductions - calls0,
        "payload_counts": dict(comm.payload_counts - sizes0),
    }
    estimator._coef, diff = check_same_tensor(comm, estimator._coef, "the fitted coefficients")
    estimator.distributed_info_["max_rank_difference"] = diff
    if diff > 0:  # last-bit drift between ranks: every rank keeps rank 0's coefficients
        coef = estimator._coef.cpu().numpy()
        estimator.coef_ = np.ascontiguousarray(coef[:, :n_features])
        if estimator.fit_intercept:
            estimator.intercept_ = coef[:, n_features].copy()
    if is_source(X):
        estimator.n_rows_ = n_samples
        estimator.passes_ = list(local.passes)  # this rank's passes over its files
    _warn_if_separable(comm, estimator, objective, data)
    return estimator


def _warn_if_separable(comm, estimator, objective, data) -> None:
    """The estimator's separability warning, decided on the global minimum margin."""
    if objective.penalty.l1 > 0 or objective.penalty.l2 > 0:  # penalty=None or C=inf
        return
    worst = torch.tensor([-float("inf")], dtype=torch.float64)
    for batch in data.batches():
        raw = objective.raw_prediction(batch.X, estimator._coef)
        if raw.shape[1] == 1:
            margin = (batch.y.to(raw.dtype) * 2 - 1) * raw[:, 0]
        else:
            true = raw.gather(1, batch.y.unsqueeze(1))[:, 0]
            other = raw.scatter(1, batch.y.unsqueeze(1), float("-inf")).amax(dim=1)
            margin = true - other
        keep = batch.sample_weight > 0
        if bool(keep.any()):
            worst = torch.maximum(worst, -margin[keep].min().double().cpu().reshape(1))
    min_margin = -float(comm.all_reduce_max(worst)[0])
    if min_margin > 0 and data.local_weight_sum > 0:
        # Separable over all ranks, hence on this rank's rows: the estimator's own check
        # (on the local rows) now reaches the same verdict and warns with its own category.
        estimator._warn_if_separable(objective, data)

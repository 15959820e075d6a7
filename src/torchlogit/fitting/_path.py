"""Regularisation paths and cross-validation folds, on one prepared training set.

A *path* fits one spec at every ``C`` of a grid, from the strongest penalty (smallest ``C``)
to the weakest, each fit started from the previous solution (a warm start: along the path
the optimum moves little, so each point costs a few iterations). The points are the
engine's own fits (:func:`~torchlogit.fitting.fit`), so every solver, penalty, bound and
data kind works as in a single fit.

A *fold* is expressed as per-row weights on the same prepared data, nothing copied
(:mod:`torchlogit.data`'s folds: index pairs, or a hash of the row position for a stream
and for the ranks of a distributed fit, whose sums go through the reducer): fold ``f``'s
training problem is

.. math::

    \\min_{W, b}\\; C \\sum_i s_i\\, t_{fi}\\, \\mathrm{logloss}(y_i, z_i) + r(W),
    \\qquad t_{fi} = 0 \\text{ for the held-out rows of fold } f, \\; 1 \\text{ otherwise},

with ``s_i`` the prepared weights (sample times class weight) and ``S_f = sum_i s_i t_fi``
the divisor of the averaged objective. This is scikit-learn's fit on the training rows
(``LogisticRegressionCV`` fits ``X[train]`` with ``sample_weight[train]``, class weights
computed on all rows): a row of weight zero changes neither the objective nor its minimiser.
The held-out rows' raw predictions ``X W^T + b (+ o)`` come from the same rows (one more
pass for a stream), for every ``C`` of a fold in one product ``X [W_1 ... W_L]^T``; on many
ranks they are gathered, so every rank scores every held-out row.

Folds stacked: with a smooth penalty (L2) and no bounds, on rows in memory on one process,
and a full-batch solver that is not proximal (declared capabilities), every fold's problem at
one ``C`` is solved as one (:func:`stacked_path`): the folds' coefficients stacked ``(F m,
p)``, one product ``X [W_1 ... W_F]^T`` per pass for every fold
(:class:`~torchlogit.objective.FoldStackedObjective`, whose docstring gives the objective and
why its stopping rule solves each fold at least as tightly as its own fit). Otherwise each
fold runs its own path.

For an L1 / elastic-net penalty each point after the first is fitted on the columns the
sequential strong rule keeps, checked on the others (:mod:`._screening`). Before any fit the
folds are checked (:func:`check_folds`): every fold has held-out rows and trains on every
class.

The grid for L1 / elastic-net starts at ``C_min`` (:func:`min_C`), glmnet's ``lambda_max``
in scikit-learn's parametrisation: every penalised coefficient is zero for ``C <= C_min``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import torch

from .. import data as _data
from .. import solvers as _solvers
from ..data import linear_predict
from ._engine import HESSIAN_MAX_BYTES, build_objective, build_penalty, choose, fit, hessian_bytes
from ._result import FitResult
from ._screening import fit_screened


def first_row(training) -> int:
    """The position of this process's first row among every rank's rows."""
    return int(sum(training.rows_per_rank[: training.reducer.rank]))


def _label(c) -> str:
    """A class label as the user wrote it (``2``, ``'spam'``), not NumPy's repr."""
    return repr(c.item() if isinstance(c, np.generic) else c)


def check_folds(training, folds) -> np.ndarray:
    """Every fold's ``S_f`` over every rank, from one pass over the rows; a ValueError that
    says what is wrong, before any fitting, when ``folds`` has more folds than a class has
    rows, a fold has no held-out row, or a fold's training rows miss a class or weigh zero."""
    K = len(training.classes)
    parts = _data.fold_counts(training.data, folds, n_classes=K, start=first_row(training))
    flat = torch.from_numpy(np.concatenate([np.ravel(a).astype(np.float64) for a in parts]))
    flat = training.reducer.all_reduce_sum(flat).numpy()
    F = folds.n_folds
    train_weight = flat[: F * K].reshape(F, K)
    held_rows = flat[F * K : 2 * F * K].reshape(F, K)
    class_rows = flat[2 * F * K :]
    names = training.classes
    few = np.flatnonzero(class_rows < F)
    if few.size:
        k = int(few[0])
        raise ValueError(
            f"cv has {F} folds but class {_label(names[k])} has only {int(class_rows[k])} rows of "
            "positive weight: use fewer folds (every fold must be able to train on and hold "
            "out each class)"
        )
    sums = train_weight.sum(axis=1)
    for f in range(F):
        if held_rows[f].sum() == 0:
            raise ValueError(f"cross-validation fold {f} has no held-out rows")
        if not sums[f] > 0:
            raise ValueError(f"cross-validation fold {f}'s training rows all have zero weight")
        missing = np.flatnonzero(~(train_weight[f] > 0))
        if missing.size:
            raise ValueError(
                f"cross-validation fold {f}'s training rows have no row of class "
                f"{_label(names[int(missing[0])])} (of positive weight): its model could not "
                "predict that class"
            )
    return sums


def fold_training(training, folds, fold: int, weight_sum: float):
    """The training set of fold ``fold``: the same prepared rows, those outside its training
    mask weighted zero (:func:`~torchlogit.data.fold_data`), ``S = S_f``."""
    data = _data.fold_data(
        training.data, folds, fold, weight_sum=weight_sum, start=first_row(training)
    )
    return dataclasses.replace(training, data=data, weight_sum=float(weight_sum))


def fit_path(spec, training, Cs, *, warm_start=None, screening=True, columns=None):
    """One fit of ``spec`` at each ``C`` of ``Cs``, returned in the order of ``Cs``.

    The fits run in increasing ``C`` (strongest penalty first), each warm-started from the
    previous one; the first from ``warm_start = (coef, classes)`` when given. Every point
    is the engine's fit of ``dataclasses.replace(spec, C=C)`` to its ``tol``.

    With ``screening`` and a penalty that selects features (an L1 part), each point after
    the first is fitted on the columns the sequential strong rule keeps, with a KKT check on
    the others over the full data and a refit when one is violated
    (:func:`~torchlogit.fitting.fit_screened`): the same minimiser, fewer columns touched.
    ``columns``, a list, receives the number of feature columns each point's last fit ran
    on (in the order of ``Cs``).
    """
    Cs = np.asarray(Cs, dtype=np.float64)
    out: list[FitResult | None] = [None] * len(Cs)
    counts = [0] * len(Cs)
    warm = warm_start
    screen = (
        screening
        and build_penalty(dataclasses.replace(spec, C=float(Cs.max())), training).selects_features
    )
    previous = None
    for k in np.argsort(Cs, kind="stable"):
        point = dataclasses.replace(spec, C=float(Cs[k]))
        if screen:
            previous = fit_screened(point, training, previous, warm_start=warm)
            result, counts[k] = previous.result, previous.n_columns
        else:
            result, counts[k] = fit(point, training, warm_start=warm), training.n_features
        out[k] = result
        warm = (result.coef, result.classes)
    if columns is not None:
        columns.extend(counts)
    return out


#: A Hessian-building solver factors the stacked ``(F m p)``-square matrix, zero blocks and
#: all (``(F m p)^3 / 3`` flops), where the folds' Grams cost ``~ F n (m p)^2 / 2``: folds are
#: stacked for it only while ``F^2 m p * STACKED_FACTOR_ROWS <= n``, the factorisation at
#: most ~1/12 of the Grams (B6: 25 * 101 * 8 = 20,200 <= 200,000).
STACKED_FACTOR_ROWS = 8
#: ... unless the stacked matrix is this small (a factorisation of milliseconds).
STACKED_FACTOR_FREE = 1024


@dataclass
class PathPoint:
    """One fold's fit at one ``C`` of a stacked path: its ``(m, p)`` block and the stacked
    fit's iterations."""

    coef: torch.Tensor
    n_iter: int


def stacked_path(spec, training, folds, sums, Cs) -> list[list[PathPoint]] | None:
    """Every fold's path from one stacked fit per ``C`` (``[fold][C index]``), or None when
    the problem is not one the stacked form serves: no penalty, one not smooth or with
    bounds, rows streamed or on several ranks, more folds than a label code holds, or a
    solver (the one a single fold would get) that is proximal or steps on mini-batches, or
    one that builds a Hessian too large to factor stacked (:data:`STACKED_FACTOR_ROWS`).

    The stacked objective's divisor is ``S = min_f S_f`` (``sums``): each fold is then
    solved at least as tightly as its own fit at the same ``tol``. Warm starts along the
    grid, from the strongest penalty, as :func:`fit_path`.
    """
    Cs = np.asarray(Cs, dtype=np.float64)
    top = dataclasses.replace(spec, C=float(Cs.max()))
    penalty = build_penalty(top, training)
    if not (spec.penalized and penalty.is_smooth) or penalty.has_bounds or training.distributed:
        return None  # unpenalised: each fold's own separability check (engine) stays per fold
    one = fold_training(training, folds, 0, sums[0])
    name = choose(top, one, build_objective(top, one, penalty), penalty)
    cls = _solvers.get_solver(name)
    if cls.capabilities.proximal or cls.capabilities.minibatch:
        return None
    F, m = folds.n_folds, training.n_outputs
    shape = (F * m, training.n_features + int(spec.fit_intercept))
    size = hessian_bytes(cls, shape, training.dtype, training.device)
    n_par = shape[0] * shape[1]
    if size is not None and (
        size > HESSIAN_MAX_BYTES
        or (n_par > STACKED_FACTOR_FREE and F * n_par * STACKED_FACTOR_ROWS > training.n_samples)
    ):
        return None
    S = float(np.min(sums))
    K = len(training.classes)
    data = _data.stacked_fold_data(training.data, folds, n_classes=K, weight_sum=S)
    if data is None:
        return None
    stacked = dataclasses.replace(training, data=data, weight_sum=S)
    if _solvers.resolve_alias(spec.solver, n_classes=K) == "auto":
        spec = dataclasses.replace(spec, solver=name)
    out = [[None] * len(Cs) for _ in range(F)]
    warm = None
    for k in np.argsort(Cs, kind="stable"):
        result = fit(dataclasses.replace(spec, C=float(Cs[k])), stacked, warm_start=warm)
        for f in range(F):
            out[f][k] = PathPoint(result.coef[f * m : (f + 1) * m], int(result.n_iter))
        warm = (result.coef, result.classes)
    return out


def null_model(spec, training) -> FitResult:
    """The fit whose penalised coefficients are all zero (the unpenalised ones, intercept and
    features of ``penalty_factor`` 0, fitted): an L1 fit at a ``C`` small enough that the
    proximal step zeroes every penalised entry."""
    null = dataclasses.replace(
        spec,
        penalty="l1",
        l1_ratio=None,
        C=1e-12,
        tol=1e-10,
        max_iter=max(spec.max_iter, 1000),
        verbose=0,
    )
    return fit(null, training)


def min_C(spec, training, l1_ratio: float, *, null: FitResult | None = None) -> float:
    """``C_min = l1_ratio / (S lambda_max)``: every penalised coefficient is zero for
    ``C <= C_min`` (:meth:`~torchlogit.objective.ElasticNetPenalty.lambda_max` of the data
    term's gradient at the null model, :func:`null_model`). The same number as
    :func:`torchlogit.l1_min_c` on the same data and ``penalty_factor``."""
    null = null_model(spec, training) if null is None else null
    data_term = dataclasses.replace(spec, penalty=None)
    penalty = build_penalty(dataclasses.replace(spec, penalty="l1", l1_ratio=None), training)
    objective = build_objective(data_term, training, build_penalty(data_term, training))
    _, grad = objective.value_gradient(null.coef)
    top = penalty.lambda_max(grad)
    if not top > 0:
        raise ValueError(
            "the gradient of the null model is zero for every penalised feature: the "
            "weights are zero for every C, no grid of C can be built from the data"
        )
    return float(l1_ratio) / (training.weight_sum * top)


def held_out(training, folds, fold: int, coefs: list[torch.Tensor]):
    """Fold ``fold``'s held-out rows on this process, from one pass: their raw predictions
    ``X W_l^T + b_l (+ o)`` for every coefficient block ``W_l`` (``(m, p)`` each), computed as
    one product of X with the stacked blocks, ``(L, n_test, m)``; their class indices, their
    prepared weights ``s_i`` and their positions among this process's rows (NumPy)."""
    d = training.n_features
    stacked = torch.cat(coefs, dim=0)  # (L m, p)
    raws, ys, ws, where = [], [], [], []
    position = first_row(training)
    for batch in training.data.batches():
        n = batch.n_samples
        _, held = folds.masks(fold, position, n)
        rows = np.flatnonzero(held)
        position += n
        if rows.size == 0:
            continue
        raw = linear_predict(batch.X, stacked[:, :d])
        if stacked.shape[1] > d:
            raw = raw + stacked[:, d]
        idx = torch.as_tensor(rows, device=raw.device)
        raw = raw[idx].reshape(rows.size, len(coefs), -1).permute(1, 0, 2)
        if batch.offset is not None:
            raw = raw + batch.offset[idx].unsqueeze(0)
        raws.append(raw.double().cpu())
        ys.append(batch.y[idx].cpu().numpy())
        ws.append(batch.sample_weight[idx].double().cpu().numpy())
        where.append(rows + (position - n - first_row(training)))
    if not raws:
        m = stacked.shape[0] // len(coefs)
        return torch.zeros(len(coefs), 0, m, dtype=torch.float64), *(np.zeros(0),) * 3
    return torch.cat(raws, dim=1), np.concatenate(ys), np.concatenate(ws), np.concatenate(where)


def cv_choices(scores, Cs) -> dict[str, tuple[int, int]]:
    """The ``"min"`` and ``"1se"`` grid points ``(l1_ratio index, C index)`` of fold scores
    ``scores`` ``(n_folds, n_l1_ratios, n_Cs)`` (larger is better) over the grid ``Cs``.

    ``min``: the largest summed score (ties: the first in C-major order, as scikit-learn).
    ``1se`` (glmnet's ``lambda.1se``): at min's ``l1_ratio``, the smallest ``C`` whose mean
    score is at least min's mean minus min's standard error ``std(ddof=1) / sqrt(n_folds)``.
    """
    scores = np.asarray(scores, dtype=np.float64)
    Cs = np.asarray(Cs, dtype=np.float64)
    total = scores.sum(axis=0).T  # (n_Cs, n_l1_ratios): C-major
    k, r = (int(i) for i in np.unravel_index(np.argmax(total), total.shape))
    mean = scores.mean(axis=0)[r]
    se = scores[:, r, k].std(ddof=1) / np.sqrt(scores.shape[0])
    ok = np.flatnonzero(mean >= mean[k] - se)
    return {"min": (r, k), "1se": (r, int(ok[np.argmin(Cs[ok])]))}


@dataclass
class CVPaths:
    """Every fold's path: ``coefs`` ``(n_folds, n_l1_ratios, n_Cs, m, p)`` (NumPy),
    ``scores`` and ``n_iter`` ``(n_folds, n_l1_ratios, n_Cs)``."""

    coefs: np.ndarray
    scores: np.ndarray
    n_iter: np.ndarray


def cross_validate(
    spec, training, folds, Cs, l1_ratios, score, *, score_weights=None, on_fold=None
) -> CVPaths:
    """Fit every fold's path and score it on the fold's held-out rows.

    ``folds``: :class:`~torchlogit.data.IndexFolds` or :class:`~torchlogit.data.HashFolds`;
    ``l1_ratios``: the mixings to try (``[None]`` unless ``spec.penalty == "elasticnet"``);
    ``Cs``: the grid. ``score(raw, y, w)`` gets one path point's held-out raw predictions
    ``(n_test, m)`` (NumPy), class indices and weights (every rank's held-out rows, in rank
    order) and returns a float; the weights are ``score_weights(positions, y, s)`` of this
    process's held-out rows (default: the prepared weights ``s``). ``on_fold(fold, l1_index)``
    is called after each path.
    """
    F, R, L = folds.n_folds, len(l1_ratios), len(Cs)
    sums = check_folds(training, folds)
    reducer = training.reducer
    coefs, scores, n_iter = None, np.empty((F, R, L)), np.zeros((F, R, L), dtype=np.int32)
    stacked = None
    if R == 1:
        stacked = stacked_path(
            dataclasses.replace(spec, l1_ratio=l1_ratios[0]), training, folds, sums, Cs
        )
    for f in range(F):
        fold = None if stacked is not None else fold_training(training, folds, f, sums[f])
        for r, ratio in enumerate(l1_ratios):
            if stacked is not None:
                path = stacked[f]
            else:
                path = fit_path(dataclasses.replace(spec, l1_ratio=ratio), fold, Cs)
            blocks = [res.coef for res in path]
            if coefs is None:
                coefs = np.empty((F, R, L, *blocks[0].shape))
            raw, y, s, where = held_out(training, folds, f, blocks)
            w = s if score_weights is None else score_weights(where, y, s)
            if training.distributed:  # every rank scores every rank's held-out rows
                parts = reducer.all_gather_object((raw, y, w))
                raw = torch.cat([p[0] for p in parts], dim=1)
                y = np.concatenate([p[1] for p in parts])
                w = None if w is None else np.concatenate([p[2] for p in parts])
            if y.size == 0:
                raise ValueError(f"cross-validation fold {f} has no held-out rows")
            for k, res in enumerate(path):
                coefs[f, r, k] = res.coef.detach().double().cpu().numpy()
                n_iter[f, r, k] = res.n_iter
                scores[f, r, k] = float(score(raw[k].numpy(), y, w))
            if on_fold is not None:
                on_fold(f, r)
    return CVPaths(coefs=coefs, scores=scores, n_iter=n_iter)

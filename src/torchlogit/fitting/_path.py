"""Regularisation paths and cross-validation folds, on one prepared training set.

A *path* fits one spec at every ``C`` of a grid, from the strongest penalty (smallest ``C``)
to the weakest, each fit started from the previous solution (a warm start: along the path
the optimum moves little, so each point costs a few iterations). The points are the
engine's own fits (:func:`~torchlogit.fitting.fit`), so every solver, penalty, bound and
data kind works as in a single fit.

A *fold* is expressed as per-row weights on the same prepared data, nothing copied: fold
``f``'s training problem is

.. math::

    \\min_{W, b}\\; C \\sum_i s_i\\, t_{fi}\\, \\mathrm{logloss}(y_i, z_i) + r(W),
    \\qquad t_{fi} = 0 \\text{ for the held-out rows of fold } f, \\; 1 \\text{ otherwise},

with ``s_i`` the prepared weights (sample times class weight) and ``S_f = sum_i s_i t_fi``
the divisor of the averaged objective. This is scikit-learn's fit on the training rows
(``LogisticRegressionCV`` fits ``X[train]`` with ``sample_weight[train]``, class weights
computed on all rows): a row of weight zero changes neither the objective nor its minimiser.
The held-out rows' raw predictions ``X W^T + b (+ o)`` come from the same tensor, for every
``C`` of a fold in one product ``X [W_1 ... W_L]^T``.

The grid for L1 / elastic-net starts at ``C_min`` (:func:`min_C`), glmnet's ``lambda_max``
in scikit-learn's parametrisation: every penalised coefficient is zero for ``C <= C_min``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import torch

from ..data import InMemoryData, linear_predict
from ._engine import build_objective, build_penalty, fit
from ._result import FitResult


def fold_training(training, train_rows: np.ndarray):
    """The training set of one fold: ``training`` with the weights of every row not in
    ``train_rows`` (indices into this process's rows) set to zero; ``S`` is the fold's sum.

    Rows in memory only (a stream has no row-addressable weights)."""
    if training.streamed or training.distributed:
        raise ValueError("cross-validation folds need the rows in memory on one process")
    batch = training.data.batch
    keep = torch.zeros(batch.n_samples, dtype=torch.bool, device=batch.sample_weight.device)
    keep[torch.as_tensor(np.asarray(train_rows, dtype=np.int64), device=keep.device)] = True
    weights = torch.where(keep, batch.sample_weight, torch.zeros_like(batch.sample_weight))
    S = float(weights.double().sum())
    if not S > 0:
        raise ValueError("a cross-validation fold's training rows all have zero weight")
    data = InMemoryData(batch.X, batch.y, weights, offset=batch.offset, weight_sum=S)
    return dataclasses.replace(training, data=data, weight_sum=S)


def fit_path(spec, training, Cs, *, warm_start=None) -> list[FitResult]:
    """One fit of ``spec`` at each ``C`` of ``Cs``, returned in the order of ``Cs``.

    The fits run in increasing ``C`` (strongest penalty first), each warm-started from the
    previous one; the first from ``warm_start = (coef, classes)`` when given. Every point
    is the engine's fit of ``dataclasses.replace(spec, C=C)`` to its ``tol``.
    """
    Cs = np.asarray(Cs, dtype=np.float64)
    out: list[FitResult | None] = [None] * len(Cs)
    warm = warm_start
    for k in np.argsort(Cs, kind="stable"):
        result = fit(dataclasses.replace(spec, C=float(Cs[k])), training, warm_start=warm)
        out[k] = result
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
        tol=min(spec.tol, 1e-10),
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


def stacked_raw(training, coefs: list[torch.Tensor], rows: np.ndarray) -> torch.Tensor:
    """The raw predictions ``X W_l^T + b_l (+ o)`` of ``rows`` for every coefficient block
    ``W_l`` (``(m, p)`` each), from one product of X with the stacked blocks: ``(L, n_rows, m)``."""
    batch = training.data.batch
    d = training.n_features
    stacked = torch.cat(coefs, dim=0)  # (L m, p)
    raw = linear_predict(batch.X, stacked[:, :d])
    if stacked.shape[1] > d:
        raw = raw + stacked[:, d]
    idx = torch.as_tensor(np.asarray(rows, dtype=np.int64), device=raw.device)
    raw = raw[idx].reshape(len(idx), len(coefs), -1).permute(1, 0, 2)
    if batch.offset is not None:
        raw = raw + batch.offset[idx].unsqueeze(0)
    return raw


@dataclass
class CVPaths:
    """Every fold's path: ``coefs`` ``(n_folds, n_l1_ratios, n_Cs, m, p)`` (NumPy),
    ``scores`` and ``n_iter`` ``(n_folds, n_l1_ratios, n_Cs)``."""

    coefs: np.ndarray
    scores: np.ndarray
    n_iter: np.ndarray


def cross_validate(spec, training, folds, Cs, l1_ratios, score, *, on_fold=None) -> CVPaths:
    """Fit every fold's path and score it on the fold's held-out rows.

    ``folds``: ``(train_rows, test_rows)`` index pairs into the prepared rows; ``l1_ratios``:
    the mixings to try (``[None]`` unless ``spec.penalty == "elasticnet"``); ``Cs``: the grid.
    ``score(fold, test_rows, raw)`` gets the held-out raw predictions ``(n_test, m)`` of one
    path point and returns a float. ``on_fold(fold, l1_index)`` is called after each path.
    """
    F, R, L = len(folds), len(l1_ratios), len(Cs)
    m, p = None, None
    coefs, scores, n_iter = None, np.empty((F, R, L)), np.zeros((F, R, L), dtype=np.int32)
    for f, (train, test) in enumerate(folds):
        fold = fold_training(training, train)
        for r, ratio in enumerate(l1_ratios):
            path = fit_path(dataclasses.replace(spec, l1_ratio=ratio), fold, Cs)
            blocks = [res.coef for res in path]
            if coefs is None:
                m, p = blocks[0].shape
                coefs = np.empty((F, R, L, m, p))
            raw = stacked_raw(training, blocks, test)
            for k, res in enumerate(path):
                coefs[f, r, k] = res.coef.detach().double().cpu().numpy()
                n_iter[f, r, k] = res.n_iter
                scores[f, r, k] = float(score(f, test, raw[k]))
            if on_fold is not None:
                on_fold(f, r)
    return CVPaths(coefs=coefs, scores=scores, n_iter=n_iter)

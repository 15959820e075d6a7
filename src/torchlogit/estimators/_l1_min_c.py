"""``l1_min_c``: the smallest ``C`` for which an L1 / elastic-net fit has a non-zero weight.

With the averaged objective ``f(W, b) + lambda_1 sum_kj f_j |W_kj| + ...`` and
``lambda_1 = l1_ratio / (C S)`` (``S``: the sum of sample weights), ``W = 0`` (with the null
model's intercept, and the unpenalised features fitted) is optimal exactly when every
penalised gradient entry satisfies ``|g_kj| <= lambda_1 f_j`` (the L2 part has zero gradient at
0). Hence ``W = 0`` for all ``C <= C_min`` and not beyond, with

.. math::  C_{min} = \\frac{l1\\_ratio}{S \\max_{k, j: f_j > 0} |g_{kj}| / f_j}, \\qquad
           g = \\frac1S \\sum_i s_i (p_i^{null} - y_i) x_i .

This is ``lambda_max`` of glmnet in scikit-learn's ``C`` parametrisation. Without an intercept
and unit weights it equals :func:`sklearn.svm.l1_min_c` with ``loss="log"``; with
``fit_intercept=True`` the intercept here is unpenalised (liblinear, which
``sklearn.svm.l1_min_c`` targets, penalises it), so the two agree when the classes are balanced.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import torch

from .. import fitting
from ..data import ColumnSubset, prepare


def l1_min_c(
    X,
    y,
    *,
    fit_intercept: bool = True,
    sample_weight=None,
    class_weight=None,
    penalty_factor=None,
    l1_ratio: float = 1.0,
) -> float:
    """Smallest ``C`` such that ``LogisticRegression(penalty="l1" | "elasticnet", C=C)`` has a
    non-zero coefficient for every ``C > l1_min_c(...)`` and none for ``C <= l1_min_c(...)``.

    Parameters
    ----------
    X : array-like or tensor of shape (n, d)
    y : array-like of shape (n,)
    fit_intercept : bool, default=True
        The intercept is fitted and never penalised (as in :class:`LogisticRegression`).
    sample_weight : array-like of shape (n,), optional
    class_weight : dict, "balanced" or None
    penalty_factor : array-like of shape (d,), optional
        Per-feature penalty factors (0: unpenalised, fitted in the null model).
    l1_ratio : float in (0, 1], default=1.0
        Elastic-net mixing (1 for ``penalty="l1"``).

    Returns
    -------
    float
    """
    from ._logistic import LogisticRegression

    if not (0.0 < float(l1_ratio) <= 1.0):
        raise ValueError(
            f"l1_ratio must be in (0, 1] (with l1_ratio=0 no C gives all zeros), got {l1_ratio}"
        )
    training = prepare(
        X, y, sample_weight, validator=LogisticRegression(), class_weight=class_weight
    )
    d, K = training.n_features, len(training.classes)
    factor = fitting.validate_penalty_factor(penalty_factor, d)
    free = np.zeros(d, dtype=bool) if factor is None else factor == 0
    if free.all():
        raise ValueError("every feature has penalty_factor 0: no C makes the weights zero")
    unpenalised = fitting.FitSpec(penalty=None, fit_intercept=fit_intercept)
    objective = fitting.build_objective(
        unpenalised, training, fitting.build_penalty(unpenalised, training)
    )
    batch = training.data.batch
    dtype, device = training.dtype, training.device
    coef = torch.zeros(objective.coef_shape, dtype=dtype, device=device)
    y_index = batch.y.cpu().numpy()
    sw = batch.sample_weight.double().cpu().numpy()
    if free.any():  # the null model: the unpenalised features (and intercept) fitted
        cols = torch.from_numpy(np.flatnonzero(free)).to(device)
        # the same rows, only the unpenalised columns (dense or sparse: never copied whole)
        null = dataclasses.replace(
            training,
            data=ColumnSubset(training.data, cols),
            n_features=int(free.sum()),
            feature_names=None,
        )
        spec = fitting.FitSpec(penalty=None, fit_intercept=fit_intercept, tol=1e-10, max_iter=1000)
        null_coef = fitting.fit(spec, null).coef
        coef[:, cols] = null_coef[:, : int(free.sum())].to(dtype)
        if fit_intercept:
            coef[:, d] = null_coef[:, -1].to(dtype)
    elif fit_intercept:
        share = np.bincount(y_index, weights=sw, minlength=K) / sw.sum()
        if np.any(share == 0):
            raise ValueError("a class has zero total weight: the null model is degenerate")
        if K == 2:
            coef[0, d] = float(np.log(share[1] / share[0]))
        else:
            coef[:, d] = torch.as_tensor(np.log(share) - np.log(share).mean(), dtype=dtype)
    _, g = objective.value_gradient(coef)
    g = g[:, :d].abs().amax(dim=0).double().cpu().numpy()
    pen = ~free
    scale = g[pen] / (1.0 if factor is None else factor[pen])
    top = float(scale.max())
    if not top > 0:
        raise ValueError(
            "ill-posed l1_min_c: the gradient of the null model is zero for every penalised "
            "feature, so the weights are zero for every C"
        )
    return float(l1_ratio) / (training.weight_sum * top)

"""Independent NumPy / SciPy references for the L1 and elastic-net tests (no torchlogit code).

Objective (scikit-learn's scale), for weights ``s``, penalty factors ``f`` (ones by default):
``C sum_i s_i logloss_i + sum_kj f_j (l1_ratio |W_kj| + (1 - l1_ratio)/2 W_kj^2)``.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize
from scipy.special import log_softmax, softmax


def _onehot(y, K):
    Y = np.zeros((y.shape[0], K))
    Y[np.arange(y.shape[0]), y] = 1.0
    return Y


def logits(X, W, b):
    """``(n, m)`` logits for ``W`` of shape ``(m, d)`` and ``b`` of shape ``(m,)``."""
    return X @ W.T + b


def data_loss_grad(X, y01, W, b, s):
    """``sum_i s_i logloss_i`` and its gradients w.r.t. ``W`` and ``b``.

    Binary when ``W`` has one row (``y01`` in {0, 1}), multinomial (full softmax) otherwise
    (``y01`` the class indices).
    """
    Z = logits(X, W, b)
    if W.shape[0] == 1:
        z = Z[:, 0]
        loss = np.logaddexp(0.0, z) - y01 * z
        r = (1.0 / (1.0 + np.exp(-z)) - y01) * s
        return float(s @ loss), (r @ X)[None, :], np.array([r.sum()])
    K = W.shape[0]
    lp = log_softmax(Z, axis=1)
    loss = -lp[np.arange(len(y01)), y01]
    R = (softmax(Z, axis=1) - _onehot(y01, K)) * s[:, None]
    return float(s @ loss), R.T @ X, R.sum(axis=0)


def objective(X, y01, W, b, *, C, l1_ratio, s=None, factor=None):
    """scikit-learn-scale objective (see module docstring)."""
    s = np.ones(X.shape[0]) if s is None else s
    f = np.ones(X.shape[1]) if factor is None else factor
    data, _, _ = data_loss_grad(X, y01, W, b, s)
    return (
        C * data
        + l1_ratio * float((np.abs(W) * f).sum())
        + 0.5 * (1 - l1_ratio) * float((W * W * f).sum())
    )


def kkt_violation(X, y01, W, b, *, C, l1_ratio, s=None, factor=None, fit_intercept=True):
    """Largest distance of 0 to the subdifferential, divided by ``C sum s`` (averaged scale)."""
    s = np.ones(X.shape[0]) if s is None else s
    f = np.ones(X.shape[1]) if factor is None else factor
    _, gW, gb = data_loss_grad(X, y01, W, b, s)
    gW = C * gW + (1 - l1_ratio) * f * W
    t = l1_ratio * f * np.ones_like(W)
    viol_W = np.where(W == 0, np.maximum(np.abs(gW) - t, 0.0), np.abs(gW + t * np.sign(W)))
    worst = float(viol_W.max())
    if fit_intercept:
        worst = max(worst, float(np.abs(C * gb).max()))
    return worst / (C * s.sum())


def reference_fit(X, y01, n_outputs, *, C, l1_ratio, s=None, factor=None, fit_intercept=True):
    """Minimise the objective with L-BFGS-B on the split ``W = P - N`` (``P, N >= 0``).

    The split makes the L1 term linear (``sum f (P + N)``), so a smooth bound-constrained
    solver finds the exact optimum; an independent check of the proximal solvers.
    """
    n, d = X.shape
    m = n_outputs
    s = np.ones(n) if s is None else s
    f = np.ones(d) if factor is None else factor
    scale = 1.0 / (C * s.sum())

    def unpack(z):
        P = z[: m * d].reshape(m, d)
        N = z[m * d : 2 * m * d].reshape(m, d)
        b = z[2 * m * d :] if fit_intercept else np.zeros(m)
        return P, N, b

    def fun(z):
        P, N, b = unpack(z)
        W = P - N
        data, gW, gb = data_loss_grad(X, y01, W, b, s)
        val = C * data + l1_ratio * float((f * (P + N)).sum())
        val += 0.5 * (1 - l1_ratio) * float((f * W * W).sum())
        gW = C * gW + (1 - l1_ratio) * f * W
        gP = gW + l1_ratio * f
        gN = -gW + l1_ratio * f
        grad = np.concatenate([gP.ravel(), gN.ravel()] + ([C * gb] if fit_intercept else []))
        return val * scale, grad * scale

    z0 = np.zeros(2 * m * d + (m if fit_intercept else 0))
    bounds = [(0, None)] * (2 * m * d) + [(None, None)] * (m if fit_intercept else 0)
    res = minimize(
        fun,
        z0,
        jac=True,
        method="L-BFGS-B",
        bounds=bounds,
        options={"maxiter": 50_000, "maxfun": 100_000, "ftol": 1e-16, "gtol": 1e-12},
    )
    P, N, b = unpack(res.x)
    return P - N, b

"""Independent NumPy references for the objective and solver layer tests (bounds, offsets).

Written from the formulas, not from the package: the averaged objective

    f(W, b) = (1/S) sum_i s_i loss(y_i, X_i W^T + b + o_i) + l2/2 sum_kj f_j W_kj^2,

its gradient, and the KKT conditions of ``min f + l1 sum f_j |W_kj|`` over the box
``lo_j <= W_kj <= hi_j`` (intercept free).
"""

from __future__ import annotations

import numpy as np


def raw_np(X, coef, fit_intercept=True, offset=None):
    d = X.shape[1]
    raw = X @ coef[:, :d].T
    if fit_intercept:
        raw = raw + coef[:, d]
    if offset is not None:
        raw = raw + offset
    return raw


def _probs(raw):
    if raw.shape[1] == 1:
        p1 = 1.0 / (1.0 + np.exp(-raw[:, 0]))
        return np.stack([1 - p1, p1], axis=1)
    z = raw - raw.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def value_np(X, y, sw, coef, *, l2=0.0, fit_intercept=True, offset=None):
    """The averaged objective's smooth part (data term + L2) at ``coef``."""
    P = _probs(raw_np(X, coef, fit_intercept, offset))
    loss = -np.log(P[np.arange(len(y)), y])
    d = X.shape[1]
    return float(sw @ loss / sw.sum() + 0.5 * l2 * np.sum(coef[:, :d] ** 2))


def gradient_np(X, y, sw, coef, *, l2=0.0, fit_intercept=True, offset=None):
    """Gradient of :func:`value_np` w.r.t. ``coef`` (same shape)."""
    raw = raw_np(X, coef, fit_intercept, offset)
    P = _probs(raw)
    if raw.shape[1] == 1:
        G = (P[:, 1] - y)[:, None]
    else:
        G = P.copy()
        G[np.arange(len(y)), y] -= 1.0
    G = G * (sw / sw.sum())[:, None]
    d = X.shape[1]
    g = G.T @ X + l2 * np.c_[coef[:, :d]]
    if fit_intercept:
        g = np.c_[g, G.sum(axis=0)]
    return g


def kkt_violation_np(coef, grad, *, l1=0.0, lower=None, upper=None, n_features):
    """Largest violation of ``0 in grad + l1 d|w| + N_box(w)`` over all entries.

    Entry by entry: strictly inside the box, ``|g + l1 sign(w)|`` (``w != 0``) or
    ``max(|g| - l1, 0)`` (``w = 0``); at a lower bound only a gradient that still pushes the
    entry down is allowed: violation ``max(-(g + l1 s+), 0)`` with ``s+ = 1`` at 0; at an upper
    bound ``max(g + l1 s-, 0)``; at ``lower = upper`` none. Intercept: ``|g|``.
    """
    d = n_features
    worst = 0.0
    m, p = coef.shape
    for k in range(m):
        for j in range(p):
            w, g = coef[k, j], grad[k, j]
            t = l1 if j < d else 0.0
            lo = lower[j] if (lower is not None and j < d) else -np.inf
            hi = upper[j] if (upper is not None and j < d) else np.inf
            s_up = 1.0 if w == 0 else np.sign(w)
            s_down = -1.0 if w == 0 else np.sign(w)
            if lo == hi:
                v = 0.0
            elif w <= lo:
                v = max(-(g + t * s_up), 0.0)
            elif w >= hi:
                v = max(g + t * s_down, 0.0)
            elif w == 0:
                v = max(abs(g) - t, 0.0)
            else:
                v = abs(g + t * np.sign(w))
            worst = max(worst, v)
    return worst

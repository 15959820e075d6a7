"""scikit-learn's objective, computed here independently of every solver (NumPy / SciPy).

    F(w, b) = C * sum_i s_i * logloss(y_i, x_i W^T + b) + r(W)

``r = l1_ratio ||W||_1 + (1 - l1_ratio)/2 ||W||_F^2`` (``l1_ratio`` 0 is L2, 1 is L1); the
intercept ``b`` is not penalised. Two classes: one logit, ``logloss = log(1 + e^z) - y z``.
``K > 2``: the full softmax, ``logloss = logsumexp(z) - z_y``. Computed in float64 with
``logaddexp`` / ``logsumexp`` so it is exact to rounding for any logits.
"""

from __future__ import annotations

import numpy as np
from scipy.special import logsumexp


def sklearn_objective(X, y_index, coef, intercept, *, C, l1_ratio, sample_weight=None):
    """F for ``coef`` of shape ``(m, d)`` (m = 1 binary, K multinomial), ``intercept (m,)``.

    ``y_index`` holds class indices in ``[0, K)`` (the positive class is 1 when binary).
    """
    coef = np.asarray(coef, dtype=np.float64).reshape(-1, X.shape[1])
    intercept = np.asarray(intercept, dtype=np.float64).reshape(-1)
    raw = np.asarray(X @ coef.T, dtype=np.float64) + intercept
    sw = np.ones(X.shape[0]) if sample_weight is None else np.asarray(sample_weight, float)
    if coef.shape[0] == 1:
        z = raw[:, 0]
        loss = np.logaddexp(0.0, z) - (y_index == 1) * z
    else:
        loss = logsumexp(raw, axis=1) - raw[np.arange(raw.shape[0]), y_index]
    data = C * float(np.dot(sw, loss))
    reg = l1_ratio * np.abs(coef).sum() + 0.5 * (1.0 - l1_ratio) * float((coef * coef).sum())
    return data + reg


def relative_suboptimality(f, f_best):
    """``(f - f*) / |f*|`` (may be slightly negative by rounding when ``f`` is the best)."""
    return (f - f_best) / abs(f_best)

"""S1's pass timings and its independent float64 check of a fit's iterates (see s1.py)."""

from __future__ import annotations

import os
import time

import numpy as np


def pyarrow_pass(folder: str) -> float:
    """Seconds to read every column of every file with pyarrow alone (no conversion)."""
    import pyarrow.parquet as pq

    t0 = time.perf_counter()
    for f in sorted(n for n in os.listdir(folder) if n.endswith(".parquet")):
        for _ in pq.ParquetFile(os.path.join(folder, f)).iter_batches(batch_size=65_536):
            pass
    return time.perf_counter() - t0


def decode_pass(data) -> float:
    """Seconds of one pass of ``data.batches()`` that computes nothing."""
    t0 = time.perf_counter()
    for _ in data.batches():
        pass
    return time.perf_counter() - t0


def iterates_in_float64(
    folder: str, coefs: np.ndarray, C: float, n_features: int
) -> tuple[list, float, float]:
    """``(objectives, max|grad|, f*)`` in float64, by one pass of pyarrow and torch alone.

    ``objectives``: ``f(w) = mean_i [log(1 + exp(z_i)) - y_i z_i] + ||w||^2 / (2 C n)``
    (``z_i = x_i w + b``: scikit-learn's ``C sum_i loss_i + ||w||^2 / 2`` divided by ``C n``)
    of every row of ``coefs`` (``(k, d + 1)``, intercept last). At the last row: ``g``, ``H``
    (``mean_i p_i (1 - p_i) [x_i, 1][x_i, 1]^T`` plus ``I / (C n)`` off the intercept),
    ``max|g|`` and the optimum by one more Newton step, ``f* = f - g^T H^{-1} g / 2`` (the
    error is ``O(|g|^3)``): a reference that does not assume the fit converged.
    """
    import pyarrow.parquet as pq
    import torch

    W = torch.from_numpy(np.asarray(coefs, dtype=np.float64))
    p = W.shape[1]
    loss = torch.zeros(W.shape[0], dtype=torch.float64)
    grad = torch.zeros(p, dtype=torch.float64)
    hess = torch.zeros(p, p, dtype=torch.float64)
    n = 0
    for name in sorted(f for f in os.listdir(folder) if f.endswith(".parquet")):
        for batch in pq.ParquetFile(os.path.join(folder, name)).iter_batches(batch_size=65_536):
            cols = [batch.column(j).to_numpy() for j in range(n_features)]
            X = torch.from_numpy(np.column_stack([*cols, np.ones(batch.num_rows)]))
            y = torch.from_numpy(batch.column("label").to_numpy().astype(np.float64))
            z = X @ W.T
            loss += (torch.nn.functional.softplus(z) - y[:, None] * z).sum(0)
            prob = torch.sigmoid(z[:, -1])
            grad += X.T @ (prob - y)
            hess += (X * (prob * (1 - prob))[:, None]).T @ X
            n += len(y)
    ridge = torch.ones(p, dtype=torch.float64) / C
    ridge[-1] = 0.0  # the intercept is not penalised
    values = loss / n + (W**2 @ ridge) / (2 * n)
    g = (grad + ridge * W[-1]) / n
    H = hess / n + torch.diag(ridge / n)
    f_star = float(values[-1] - g @ torch.linalg.solve(H, g) / 2)
    return values.tolist(), float(g.abs().max()), f_star

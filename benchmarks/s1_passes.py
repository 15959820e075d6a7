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
) -> tuple[list, float]:
    """The objective ``mean_i log(1 + exp(z_i)) - y_i z_i + ||w||^2 / (2 C n)`` (``z = x_i w
    + b``: scikit-learn's ``C sum_i loss_i + ||w||^2 / 2`` divided by ``C n``) of every row of
    ``coefs`` (``(k, d + 1)``, intercept last), and max|grad| at the last, in float64 by one
    pass of pyarrow and torch alone."""
    import pyarrow.parquet as pq
    import torch

    W = torch.from_numpy(np.asarray(coefs, dtype=np.float64))
    loss = torch.zeros(W.shape[0], dtype=torch.float64)
    grad = torch.zeros(W.shape[1], dtype=torch.float64)
    n = 0
    for f in sorted(n for n in os.listdir(folder) if n.endswith(".parquet")):
        for batch in pq.ParquetFile(os.path.join(folder, f)).iter_batches(batch_size=65_536):
            X = torch.from_numpy(
                np.column_stack([batch.column(j).to_numpy() for j in range(n_features)])
            ).to(torch.float64)
            y = torch.from_numpy(batch.column("label").to_numpy().astype(np.float64))
            z = X @ W[:, :-1].T + W[:, -1]
            loss += (torch.nn.functional.softplus(z) - y[:, None] * z).sum(0)
            r = torch.sigmoid(z[:, -1]) - y
            grad[:-1] += X.T @ r
            grad[-1] += r.sum()
            n += len(y)
    ridge = (W[:, :-1] ** 2).sum(1) / (2 * C * n)
    grad[:-1] += W[-1, :-1] / C
    return (loss / n + ridge).tolist(), float(grad.abs().max() / n)

"""A Hessian-building solver is refused past a size, with the size and a way out (#13 item 11).

Forced ``solver="newton"`` with ~1M coefficients tried to allocate 8 TB. The engine now reads
``capabilities.hessian`` and refuses when ``(m p)^2 * itemsize`` passes
``HESSIAN_MAX_BYTES`` (16 GiB); ``"auto"`` never picks such a solver past it.
"""

from __future__ import annotations

import time

import numpy as np
import pytest

from torchlogit import LogisticRegression
from torchlogit.fitting import _engine


def test_forced_newton_with_a_million_coefficients_is_refused_at_once():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((1000, 999))
    y = np.arange(1000)  # 1000 classes x (999 features + intercept): 1e6 coefficients
    start = time.perf_counter()
    with pytest.raises(ValueError) as err:
        LogisticRegression(solver="newton").fit(X, y)
    msg = str(err.value)
    assert "'newton' builds the Hessian matrix of the 1000000 coefficients" in msg
    assert "7,450.6 GiB" in msg and "solver='lbfgs'" in msg
    assert time.perf_counter() - start < 30


def test_auto_does_not_pick_a_hessian_solver_past_the_cap(monkeypatch):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((300, 4))
    y = (X[:, 0] + rng.logistic(size=300) > 0).astype(int)
    assert LogisticRegression().fit(X, y).solver_ == "newton"
    monkeypatch.setattr(_engine, "HESSIAN_MAX_BYTES", 100)  # 5 coefficients: 200 bytes
    assert LogisticRegression().fit(X, y).solver_ == "lbfgs"
    with pytest.raises(ValueError, match=r"over the limit of 9.3\d*e-08 GiB"):
        LogisticRegression(solver="newton").fit(X, y)
    # a working-set Hessian ("cd") is not the (m p)^2 matrix: still allowed
    LogisticRegression(penalty="l1", solver="cd").fit(X, y)


def test_the_guard_sizes_a_float32_fits_hessian_in_float64():
    """Hessians of float32 data are accumulated in float64 (objective.hessian_dtype): the
    memory guard counts 8 bytes an entry for them, not 4."""
    import torch

    from torchlogit.solvers import get_solver

    hessian_bytes = _engine.hessian_bytes
    newton = get_solver("newton")
    assert hessian_bytes(newton, (3, 10), torch.float32) == 30 * 30 * 8
    assert hessian_bytes(newton, (3, 10), torch.float64) == 30 * 30 * 8

"""Streaming at decode speed: a float32 Newton fit stops at its working precision instead of
burning passes, and the prefetching pipeline gives the same numbers as a plain pass."""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pytest
import torch
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression as SkLR

from torchlogit import LogisticRegression
from torchlogit.data import ArraySource
from torchlogit.solvers import SolverCapabilities
from torchlogit.solvers._base import SolverBase, stall_window


@dataclass
class _It:
    coef: torch.Tensor
    value: float
    measure: float
    step: float = 1.0


class _Scripted(SolverBase):
    """Replays a list of ``(objective, measure)`` pairs: the stall rule on its own."""

    name = "scripted-test"

    def __init__(self, script, capabilities, **kw):
        super().__init__(**kw)
        self.script = list(script)
        self.capabilities = capabilities

    def _start(self, objective, coef, state, resumed):
        f, m = self.script.pop(0)
        return _It(coef, f, m)

    def _step(self, objective, it):
        if not self.script:
            return "script exhausted"
        it.value, it.measure = self.script.pop(0)
        return None


# a float32 Newton run after convergence: f flat at its rounding error, max|grad| wandering
# around its noise floor and now and then below its previous low (as in a streamed fit of
# 500k S1 rows at tol=1e-12: 37 passes before the fix)
_F = 0.4107964933
_FLOOR = [4.1e-9, 3.2e-9, 4.3e-9, 2.5e-9, 3.1e-9, 3.5e-9, 2.4e-9, 3.6e-9, 2.3e-9, 3.9e-9] * 4
_SCRIPT = [(0.6931, 0.12), (0.4499, 2.9e-2), (0.4108882, 1.0e-3), (0.41079655, 2.5e-5)]
_SCRIPT += [(_F, 1.6e-8)] + [(_F, m) for m in _FLOOR]


def test_newton_stalls_after_three_flat_iterations_without_halving():
    newton = SolverCapabilities(hessian=True, lookahead=True)
    assert stall_window(newton) == (3, 0.5)
    res = _Scripted(_SCRIPT, newton, tol=1e-12, max_iter=100).solve(None, torch.zeros(1, 3))
    assert not res.converged and "representable" in res.message
    # iterates 4 (1.6e-8) and 5 (4.1e-9, below half the low) progress; 6, 7, 8 do not
    assert res.n_iter == 8


def test_first_order_solvers_keep_the_patient_rule():
    """Without an exact Hessian any new low of the measure is progress (slow but real)."""
    for caps in (SolverCapabilities(), SolverCapabilities(proximal=True, hessian=True)):
        assert stall_window(caps) == (10, 1.0)
        script = [(1.0, 1.0)] + [(1.0, 0.9**k) for k in range(1, 30)]  # flat f, falling m
        res = _Scripted(script, caps, tol=1e-12, max_iter=100).solve(None, torch.zeros(1, 3))
        assert res.message == "script exhausted"
        res = _Scripted(_SCRIPT, caps, tol=1e-12, max_iter=100).solve(None, torch.zeros(1, 3))
        assert "representable" in res.message and res.n_iter > 8


def _float32_problem(n=120_000, d=12, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)).astype(np.float32)
    w = rng.normal(size=d) * 0.7
    y = (rng.random(n) < 1 / (1 + np.exp(-(X @ w + 0.3)))).astype(np.int8)
    return X, y


def test_float32_streamed_newton_stops_at_its_precision():
    """tol far below float32 precision: the fit stops a few passes after the optimum, with
    a ConvergenceWarning, at coefficients equal to scikit-learn's float64 fit to float32
    precision."""
    X, y = _float32_problem()
    src = ArraySource(X, y, chunk_rows=8192)
    with pytest.warns(ConvergenceWarning, match="representable in torch.float32"):
        ours = LogisticRegression(C=1.0, tol=1e-14, dtype="float32", max_iter=100).fit(src)
    done = LogisticRegression(C=1.0, dtype="float32").fit(ArraySource(X, y, chunk_rows=8192))
    assert done.converged_
    # Newton reaches float32's floor in a handful of iterations; then at most three more
    assert ours.n_iter_[0] <= done.n_iter_[0] + 4
    ref = SkLR(C=1.0, solver="newton-cholesky", tol=1e-12).fit(X.astype(np.float64), y)
    np.testing.assert_allclose(ours.coef_, ref.coef_, rtol=0, atol=2e-5)
    np.testing.assert_allclose(ours.intercept_, ref.intercept_, rtol=0, atol=2e-5)


def test_float64_newton_still_converges_at_tight_tol():
    X, y = _float32_problem(n=20_000)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        ours = LogisticRegression(C=1.0, tol=1e-12, dtype="float64").fit(
            ArraySource(X, y, chunk_rows=4096)
        )
    ref = SkLR(C=1.0, solver="newton-cholesky", tol=1e-12).fit(X.astype(np.float64), y)
    np.testing.assert_allclose(ours.coef_, ref.coef_, rtol=1e-9, atol=1e-12)

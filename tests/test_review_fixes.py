"""Regression tests for review findings: false convergence of the stochastic solvers, the
separability check on all-zero-weight chunks, solver option validation, and no extra pass
over a streamed source to learn its device."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

from torchlogit import LogisticRegression
from torchlogit.data import ArraySource
from torchlogit.data._streaming import StreamingData
from torchlogit.estimators._logistic import SeparableDataWarning
from torchlogit.solvers import SOLVERS
from torchlogit.solvers._stochastic import _stalled


def _binary(n=200, d=5, seed=0, separable=False):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    X = (X - X.mean(0)) / X.std(0)
    z = X @ rng.normal(size=d)
    if separable:
        y = (z > 0).astype(int)
    else:
        y = (rng.random(n) < 1 / (1 + np.exp(-z))).astype(int)
    return X, y


# ----------------------------------------------------------------- 1. stochastic stopping rule
def test_rising_objective_never_counts_as_stalled():
    assert not _stalled([18.3, 20.3, 21.6], tol=1e-4)
    assert not _stalled([1.0, 1.0 + 1e-9, 1.0 + 2e-9], tol=1e-4)  # tiny rises
    assert not _stalled([1.0, 0.99999, 1.00001], tol=1e-4)  # one rise of two
    assert not _stalled([1.0, float("nan"), float("nan")], tol=1e-4)
    assert _stalled([1.0, 0.99999, 0.99998], tol=1e-4)  # small decreases: stalled
    assert _stalled([1.0, 1.0, 1.0], tol=1e-4)
    assert not _stalled([1.0, 0.9, 0.8], tol=1e-4)  # still decreasing fast


def test_sgd_with_a_diverging_step_reports_no_convergence():
    X, y = _binary(n=100, d=20)
    options = {"eta0": 50, "batch_size": 32}  # a step far too large: the objective oscillates
    est = LogisticRegression(solver="sgd", max_iter=20, solver_options=options)
    with pytest.warns(ConvergenceWarning, match="solver 'sgd' did not converge"):
        est.fit(X, y)
    assert not est.converged_
    assert est.n_iter_[0] == 20
    obj = est.history_["objective"]
    assert any(a < b < c for a, b, c in zip(obj, obj[1:], obj[2:], strict=False))  # rose twice
    # far from the optimum, which the full-batch fit reaches
    f_opt = LogisticRegression().fit(X, y).history_["objective"][-1]
    assert est.history_["objective"][-1] > 2 * f_opt


@pytest.mark.parametrize("solver", ["sgd", "adam"])
def test_stochastic_solvers_still_converge_on_a_sane_step(solver):
    X, y = _binary(n=400)
    est = LogisticRegression(solver=solver, max_iter=300, tol=1e-3)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        est.fit(X, y)
    assert est.converged_ and est.n_iter_[0] < 300


# ----------------------------------------------------------------- 2. all-zero-weight chunk
def test_penalty_none_stream_with_a_zero_weight_first_chunk():
    X, y = _binary()
    w = np.ones(len(y))
    w[:50] = 0.0
    got = LogisticRegression(C=np.inf).fit(ArraySource(X, y, weight=w, chunk_rows=50))
    ref = LogisticRegression(C=np.inf).fit(X, y, sample_weight=w)
    np.testing.assert_allclose(got.coef_, ref.coef_, rtol=1e-5, atol=1e-7)


def test_separable_warning_ignores_zero_weight_chunks():
    X, y = _binary(separable=True)
    w = np.ones(len(y))
    w[:50] = 0.0
    with pytest.warns(SeparableDataWarning):
        LogisticRegression(C=np.inf, max_iter=20).fit(ArraySource(X, y, weight=w, chunk_rows=50))


# ----------------------------------------------------------------- 3. unknown solver options
@pytest.mark.parametrize("solver", ["lbfgs", "sgd", "auto"])
def test_unknown_solver_option_names_the_solver(solver):
    X, y = _binary()
    est = LogisticRegression(solver=solver, solver_options={"foo": 1})
    with pytest.raises(
        ValueError, match=r"solver '\w[\w-]*' does not accept the option\(s\) 'foo'"
    ):
        est.fit(X, y)


def test_unknown_solver_option_lists_the_accepted_ones():
    with pytest.raises(ValueError, match="solver 'lbfgs'.*'foo'.*memory"):
        SOLVERS["lbfgs"](foo=1)
    with pytest.raises(ValueError, match="solver 'sgd'.*eta0.*batch_size.*max_iter"):
        SOLVERS["sgd"](foo=1)
    for name, cls in SOLVERS.items():  # every registered solver takes the shared options
        cls(tol=1e-3, max_iter=2, verbose=0, callback=None, checkpoint=None)
        with pytest.raises(ValueError, match=f"solver '{name}'"):
            cls(not_an_option=True)


# ----------------------------------------------------------------- 4. lbfgs memory
@pytest.mark.parametrize("memory", [0, -3])
def test_lbfgs_memory_must_be_positive(memory):
    with pytest.raises(ValueError, match="memory must be >= 1"):
        SOLVERS["lbfgs"](memory=memory)
    X, y = _binary()
    with pytest.raises(ValueError, match="memory must be >= 1"):
        LogisticRegression(solver="lbfgs", solver_options={"memory": memory}).fit(X, y)
    SOLVERS["lbfgs"](memory=1)


# ----------------------------------------------------------------- 5. no pass to learn the device
@pytest.mark.parametrize("solver", ["auto", "lbfgs"])
def test_run_solver_reads_no_chunk_for_device_and_dtype(solver, monkeypatch):
    calls = []
    batches = StreamingData.batches

    def spy(self):
        calls.append("batches")
        return batches(self)

    from torchlogit.fitting import _engine

    initial = _engine.initial_coef

    def at_initial_coef(*args, **kwargs):
        calls.append("initial_coef")
        return initial(*args, **kwargs)

    monkeypatch.setattr(StreamingData, "batches", spy)
    monkeypatch.setattr(_engine, "initial_coef", at_initial_coef)
    X, y = _binary()
    est = LogisticRegression(solver=solver).fit(ArraySource(X, y, chunk_rows=64))
    # nothing iterated the data before the solver's own passes
    assert calls.index("initial_coef") == 0
    ref = LogisticRegression(solver=solver).fit(X, y)
    np.testing.assert_allclose(est.coef_, ref.coef_, rtol=1e-4, atol=1e-6)


def test_newton_cg_on_a_stream_equals_in_memory_and_keeps_no_chunk():
    # hessian_operator used to hold list(data.batches()): every decoded chunk of a stream.
    import torch

    from torchlogit.data import Batch, InMemoryData
    from torchlogit.objective import ElasticNetPenalty, LinearObjective, make_loss

    X, y = _binary(n=300, d=6, seed=3)
    ref = LogisticRegression(solver="newton-cg", tol=1e-10).fit(X, y)
    got = LogisticRegression(solver="newton-cg", tol=1e-10).fit(ArraySource(X, y, chunk_rows=64))
    np.testing.assert_allclose(got.coef_, ref.coef_, rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(got.intercept_, ref.intercept_, rtol=1e-8, atol=1e-12)

    class Chunks(InMemoryData):
        """Hands out fresh chunk objects and counts the passes over them."""

        passes = 0

        def batches(self):
            Chunks.passes += 1
            for start in range(0, self.n_samples, 64):
                sl = slice(start, start + 64)
                b = self.batch
                yield Batch(b.X[sl].clone(), b.y[sl], b.sample_weight[sl])

    Xt = torch.as_tensor(X)
    data = Chunks(Xt, torch.as_tensor(y, dtype=torch.int64), torch.ones(len(y), dtype=Xt.dtype))
    obj = LinearObjective(
        make_loss(2), data, ElasticNetPenalty(0.0, 1e-3, 6), fit_intercept=True, n_features=6
    )
    coef = torch.full((1, 7), 0.1, dtype=Xt.dtype)
    apply = obj.hessian_operator(coef)
    before = Chunks.passes
    v = torch.linspace(-1, 1, 7, dtype=Xt.dtype).reshape(1, 7)
    torch.testing.assert_close(apply(v), obj.hessian_product(coef, v), rtol=1e-12, atol=1e-14)
    assert Chunks.passes == before + 2  # apply re-read the chunks; hessian_product one pass

"""The row-sampled Hessian on streamed data (issue #17, S1).

A streamed Newton fit computes ``(f, g, H)`` in its line search's pass
(``LookaheadObjective``); that Hessian now comes from the solver's row sample, so a pass costs
its reading and two products instead of a Gram of every row. Checked here: the fused
``value_gradient_hessian(row_fraction=)`` is the plain gradient plus ``hessian(point,
row_fraction=)`` of the same rows; a stream keeps the sampled row indices, never the rows; the
solver's sample reaches the lookahead with no extra pass; the minimiser is the exact one.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.datasets import make_classification

from torchlogit import LogisticRegression
from torchlogit.data import ArraySource, InMemoryData
from torchlogit.objective import ElasticNetPenalty, LinearObjective, LookaheadObjective, make_loss
from torchlogit.solvers._adapter import line_objective, sampling_options


def _problem(n_classes, n=3000, d=6, seed=0):
    X, y = make_classification(
        n, d, n_informative=4, n_redundant=1, n_classes=n_classes, random_state=seed
    )
    w = np.random.default_rng(seed).uniform(0.2, 3.0, n)
    return X, y, w


def _objective(data, n_classes, d=6):
    return LinearObjective(
        make_loss(n_classes),
        data,
        ElasticNetPenalty(0.0, 1e-3, d),
        fit_intercept=True,
        n_features=d,
    )


def _streamed(X, y, w, chunk_rows=257):
    src = ArraySource(X, y, weight=w, chunk_rows=chunk_rows)
    return src.open(dtype=torch.float64)


def _coef(obj, seed=3):
    g = torch.Generator().manual_seed(seed)
    return 0.2 * torch.randn(*obj.coef_shape, generator=g, dtype=torch.float64)


@pytest.mark.parametrize("n_classes", [2, 3])
@pytest.mark.parametrize("seed", [None, 11])
def test_fused_sampled_hessian_is_the_points_sampled_hessian(n_classes, seed):
    X, y, w = _problem(n_classes)
    data = InMemoryData(torch.from_numpy(X), torch.from_numpy(y), torch.from_numpy(w))
    obj = _objective(data, n_classes)
    coef = _coef(obj)
    f, g, H = obj.value_gradient_hessian(coef, row_fraction=0.2, seed=seed)
    f0, g0 = obj.value_gradient(coef)
    H_ref = obj.hessian(obj.point(coef), row_fraction=0.2, seed=seed)
    torch.testing.assert_close(f, f0, rtol=1e-14, atol=0)
    torch.testing.assert_close(g, g0, rtol=1e-13, atol=1e-16)
    torch.testing.assert_close(H, H_ref, rtol=1e-13, atol=1e-16)
    H_exact = obj.value_gradient_hessian(coef)[2]
    assert not torch.allclose(H, H_exact, rtol=1e-6)  # a sample, not every row
    # an unbiased estimate: close to the exact Hessian at 20% of 3,000 rows
    assert float((H - H_exact).norm() / H_exact.norm()) < 0.2


def test_a_stream_keeps_the_sampled_indices_not_the_rows():
    X, y, w = _problem(2)
    streamed = _objective(_streamed(X, y, w), 2)
    coef = _coef(streamed)
    H1 = streamed.value_gradient_hessian(coef, row_fraction=0.1)[2]
    H2 = streamed.value_gradient_hessian(coef, row_fraction=0.1)[2]
    torch.testing.assert_close(H1, H2, rtol=0, atol=0)  # the same sample in every pass
    kept = list(streamed._hessian_samples.values())
    assert len(kept) == -(-3000 // 257)
    assert all(k.X_rows is None for k in kept)  # every pass brings new chunks
    # In memory the same X comes back: its gathered rows are kept from the second pass on
    data = InMemoryData(torch.from_numpy(X), torch.from_numpy(y), torch.from_numpy(w))
    resident = _objective(data, 2)
    for _ in range(2):
        resident.value_gradient_hessian(coef, row_fraction=0.1)
    ((_, k),) = resident._hessian_samples.items()
    assert k.X_rows is not None and k.X_rows.shape == (k.rows.numel(), 7)


def test_the_adapter_hands_the_solvers_sample_to_the_lookahead():
    X, y, w = _problem(2)
    obj = _objective(_streamed(X, y, w), 2)
    look = LookaheadObjective(obj)
    calls = []
    real = obj.value_gradient_hessian

    def spy(coef, **options):
        calls.append(options)
        return real(coef, **options)

    obj.value_gradient_hessian = spy
    adapter = line_objective(look, with_hessian=True, hessian_options=sampling_options(0.25, 5))
    assert look.hessian_options == {"row_fraction": 0.25, "seed": 5}
    coef = _coef(obj)
    pt = adapter.point(coef)
    assert calls == [{"row_fraction": 0.25, "seed": 5}]
    assert adapter.hessian(pt, row_fraction=0.25, seed=5) is pt.hessian  # no pass
    d = -pt.gradient
    adapter.line(pt, d).value(0.5)  # the line search's pass computes the next H ...
    nxt = adapter.point(coef + 0.5 * d)  # ... and the next point takes it
    assert len(calls) == 2
    assert adapter.hessian(nxt, row_fraction=0.25, seed=5) is nxt.hessian
    # another sample (the solver grew it): the Hessian is recomputed, and the lookahead told
    H = adapter.hessian(nxt, row_fraction=1.0)
    assert calls[-1] == {} and look.hessian_options == {}
    torch.testing.assert_close(H, real(nxt.coef)[2], rtol=1e-14, atol=0)
    n_calls = len(calls)
    assert adapter.hessian(nxt, row_fraction=1.0) is H and len(calls) == n_calls  # kept


@pytest.mark.parametrize("n_classes", [2, 3])
def test_streamed_newton_on_a_sample_reaches_the_exact_minimiser(n_classes, monkeypatch):
    X, y, w = _problem(n_classes, n=6000)
    seen = []
    real = LinearObjective.value_gradient_hessian

    def spy(self, coef, **options):
        seen.append(options.get("row_fraction", 1.0))
        return real(self, coef, **options)

    monkeypatch.setattr(LinearObjective, "value_gradient_hessian", spy)
    opts = {"hessian_rows": 600}
    got = LogisticRegression(C=10.0, solver="newton", tol=1e-10, solver_options=opts)
    got.fit(ArraySource(X, y, weight=w, chunk_rows=509))
    sampled = [f for f in seen if f < 1.0]
    assert sampled and sampled[0] == pytest.approx(0.1)
    # one pass an iteration (the lookahead) plus the first, and one per change of sample
    changes = sum(a != b for a, b in zip(seen, seen[1:], strict=False))
    assert len(got.passes_) <= got.n_iter_[0] + 1 + changes
    ref = LogisticRegression(C=10.0, solver="newton", tol=1e-10).fit(X, y, sample_weight=w)
    np.testing.assert_allclose(got.coef_, ref.coef_, rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(got.intercept_, ref.intercept_, rtol=1e-7, atol=1e-9)

"""``random_state`` seeds Newton's row-sampled Hessian (issue #14: "any sampling").

A seed chooses which rows the Hessian is built from while iterating; the gradient is exact, so
every seed reaches the same minimiser: scikit-learn's (``newton-cholesky`` at tol=1e-12, an
independent reference). ``random_state=None`` keeps the sample every fit drew before (batch
``b``'s generator seeded with ``b``). Streamed data (exact Hessian) and a 2-rank data-parallel
fit reach the same coefficients with a seed.
"""

from __future__ import annotations

import os
import warnings

import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression as SkLR

from torchlogit import LogisticRegression
from torchlogit.data import ArraySource, InMemoryData
from torchlogit.objective import LinearObjective, make_loss, make_penalty

N, D = 20_000, 5  # n >= 4 x 3000 rows: "auto" samples the Hessian (15% of the rows)


def _problem(n_classes=2, n=N, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, D)) * np.array([1.0, 2.0, 0.5, 1.0, 3.0])
    logits = X @ rng.standard_normal((n_classes, D)).T
    y = np.argmax(logits + rng.gumbel(size=logits.shape), axis=1)
    return X, y


def _objective(X, y, n_classes):
    w = torch.ones(len(y), dtype=torch.float64)
    data = InMemoryData(torch.tensor(X), torch.tensor(y), w)
    penalty = make_penalty("l2", C=1.0, l1_ratio=None, weight_sum=float(len(y)), n_features=D)
    return LinearObjective(make_loss(n_classes), data, penalty, fit_intercept=True, n_features=D)


@pytest.mark.parametrize("n_classes", [2, 3])
def test_seeds_choose_the_sampled_hessian(n_classes):
    """Same seed: the same sample; another seed: another sample, both unbiased estimates of
    the exact Hessian; no seed: the rows of a generator seeded with the batch index."""
    X, y = _problem(n_classes, n=4000)
    obj = _objective(X, y, n_classes)
    coef = torch.full(obj.coef_shape, 0.1, dtype=torch.float64)
    pt = obj.point(coef)
    exact = obj.hessian(pt)
    h = {s: obj.hessian(pt, row_fraction=0.2, seed=s) for s in (None, 1, 2)}
    assert torch.equal(obj.hessian(pt, row_fraction=0.2, seed=1), h[1])
    assert not torch.allclose(h[1], h[2], rtol=1e-3)
    assert not torch.allclose(h[None], h[1], rtol=1e-3)
    for H in h.values():  # 800 of 4000 rows: within sampling error of the exact Hessian
        assert float((H - exact).abs().max() / exact.abs().max()) < 0.15
    keep = (torch.rand(4000, generator=torch.Generator().manual_seed(0)) < 0.2).numpy()
    unseeded, seeded = (_sampled_X(obj.row_sample(0.2, seed=s)) for s in (None, 2))
    np.testing.assert_array_equal(unseeded, X[keep])
    assert seeded.shape != unseeded.shape or not np.array_equal(seeded, unseeded)


def _sampled_X(objective) -> np.ndarray:
    return np.concatenate([b.X.numpy() for b in objective.data.batches()])


def _newton(X, y=None, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return LogisticRegression(solver="newton", tol=1e-10, **kw).fit(X, y)


@pytest.mark.parametrize("n_classes", [2, 3])
def test_every_seed_reaches_sklearns_optimum_and_a_seed_reproduces(n_classes):
    X, y = _problem(n_classes)
    ref = SkLR(solver="newton-cholesky", tol=1e-12, max_iter=1000).fit(X, y)
    fits = {s: _newton(X, y, random_state=s) for s in (None, 0, 7)}
    for model in fits.values():
        np.testing.assert_allclose(model.coef_, ref.coef_, rtol=1e-7, atol=1e-9)
        np.testing.assert_allclose(model.intercept_, ref.intercept_, rtol=1e-7, atol=1e-9)
    # the seed reaches Newton: another sample, another path (to the same point)
    assert fits[0].history_["objective"] != fits[7].history_["objective"]
    again = _newton(X, y, random_state=7)
    np.testing.assert_array_equal(again.coef_, fits[7].coef_)
    assert again.history_["objective"] == fits[7].history_["objective"]
    # a RandomState is turned into a seed, as scikit-learn's estimators do
    _newton(X, y, random_state=np.random.RandomState(3))


def test_streamed_fit_with_a_seed_equals_the_in_memory_fit():
    X, y = _problem(2)
    memory = _newton(X, y, random_state=5)
    streamed = _newton(ArraySource(X, y, chunk_rows=6000), random_state=5)  # exact Hessian
    np.testing.assert_allclose(streamed.coef_, memory.coef_, rtol=1e-7, atol=1e-9)


def _rank_fit(rank, world_size, store, out_dir):
    import torch.distributed as dist

    os.environ["GLOO_SOCKET_IFNAME"] = "lo"
    dist.init_process_group("gloo", init_method=f"file://{store}", rank=rank, world_size=world_size)
    torch.set_num_threads(1)
    X, y = _problem(3)
    rows = np.array_split(np.arange(len(y)), world_size)[rank]
    model = _newton(X[rows], y[rows], random_state=11)
    np.save(os.path.join(out_dir, f"coef-{rank}.npy"), model.coef_)
    dist.destroy_process_group()


@pytest.mark.distributed
def test_distributed_fit_with_a_seed_equals_one_process(tmp_path):
    """Each rank samples its own rows' Hessian from the seed; the sums are all-reduced."""
    import torch.multiprocessing as mp

    mp.spawn(_rank_fit, args=(2, str(tmp_path / "store"), str(tmp_path)), nprocs=2, join=True)
    X, y = _problem(3)
    single = _newton(X, y, random_state=11)
    for rank in range(2):
        coef = np.load(tmp_path / f"coef-{rank}.npy")
        np.testing.assert_allclose(coef, single.coef_, rtol=1e-8, atol=1e-10)

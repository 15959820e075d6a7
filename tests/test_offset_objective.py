"""Per-row offsets (``Batch.offset``) in the objective and every solver.

The raw prediction is ``X W^T + b + o``. Checked against an independent NumPy objective and
gradient, finite differences of the gradient (Hessian, Hessian-vector products, diagonal),
and: a fit with offset ``o`` equals a fit with an extra column ``o`` whose coefficient is fixed
at 1 by the bounds ``1 <= w <= 1``.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from _box_reference import gradient_np, kkt_violation_np, value_np
from torchlogit.data import Batch
from torchlogit.objective import (
    BatchList,
    LinearObjective,
    LookaheadObjective,
    make_loss,
    make_penalty,
)
from torchlogit.solvers import SOLVERS, get_solver

D = 4


def _data(n_classes, n=300, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, D))
    m = 1 if n_classes == 2 else n_classes
    offset = rng.normal(0.0, 1.0, (n, m))
    raw = X @ rng.standard_normal((m, D)).T + offset
    if n_classes == 2:
        y = (rng.random(n) < 1 / (1 + np.exp(-raw[:, 0]))).astype(np.int64)
    else:
        P = np.exp(raw - raw.max(1, keepdims=True))
        P /= P.sum(1, keepdims=True)
        y = np.array([rng.choice(n_classes, p=p) for p in P])
    sw = rng.uniform(0.5, 2.0, n)
    return X, y, sw, offset


def _objective(X, y, sw, offset, n_classes, *, kind="l2", C=1.0, lower=None, upper=None):
    t = torch.float64
    off = None if offset is None else torch.tensor(offset, dtype=t)
    data = BatchList(
        [Batch(torch.tensor(X, dtype=t), torch.tensor(y), torch.tensor(sw, dtype=t), off)]
    )
    d = X.shape[1]
    pen = make_penalty(
        kind,
        C=C,
        l1_ratio=None,
        weight_sum=data.weight_sum,
        n_features=d,
        dtype=t,
        lower_bounds=lower,
        upper_bounds=upper,
    )
    return LinearObjective(make_loss(n_classes), data, pen, fit_intercept=True, n_features=d)


@pytest.mark.parametrize("n_classes", [2, 3])
def test_value_gradient_hessian_with_offset(n_classes):
    X, y, sw, offset = _data(n_classes)
    obj = _objective(X, y, sw, offset, n_classes, C=0.5)
    l2 = 1.0 / (0.5 * sw.sum())
    rng = np.random.default_rng(1)
    coef = torch.tensor(rng.normal(0, 0.5, obj.coef_shape))
    c = coef.numpy()
    f, g, H = obj.value_gradient_hessian(coef)
    # against the NumPy objective: the offset is in, and it matters
    assert float(f) == pytest.approx(value_np(X, y, sw, c, l2=l2, offset=offset), rel=1e-13)
    assert float(f) != pytest.approx(value_np(X, y, sw, c, l2=l2), rel=1e-3)
    assert np.allclose(g.numpy(), gradient_np(X, y, sw, c, l2=l2, offset=offset), atol=1e-14)
    assert float(obj.value(coef)) == pytest.approx(float(f), rel=1e-14)
    # Hessian: central differences of the (NumPy) gradient
    eps = 1e-6
    flat = c.reshape(-1)
    fd = np.empty((flat.size, flat.size))
    for i in range(flat.size):
        e = np.zeros_like(flat)
        e[i] = eps
        gp = gradient_np(X, y, sw, (flat + e).reshape(c.shape), l2=l2, offset=offset)
        gm = gradient_np(X, y, sw, (flat - e).reshape(c.shape), l2=l2, offset=offset)
        fd[:, i] = (gp - gm).reshape(-1) / (2 * eps)
    assert np.abs(H.numpy() - fd).max() < 1e-7
    v = torch.tensor(rng.standard_normal(obj.coef_shape))
    hv = (fd @ v.numpy().reshape(-1)).reshape(c.shape)
    assert np.abs(obj.hessian_product(coef, v).numpy() - hv).max() < 1e-7
    assert np.abs(obj.hessian_operator(coef)(v).numpy() - hv).max() < 1e-7
    assert np.abs(obj.hessian_diagonal(coef).numpy().reshape(-1) - np.diag(fd)).max() < 1e-7
    # the point / line interface: raw predictions kept with the offset in them
    pt = obj.point(coef)
    assert float(pt.value) == pytest.approx(float(f), rel=1e-14)
    assert np.abs(obj.hessian(pt).numpy() - H.numpy()).max() < 1e-12
    line = obj.line(pt, v)
    want = value_np(X, y, sw, c + 0.3 * v.numpy(), l2=l2, offset=offset)
    assert float(line.value(0.3)) == pytest.approx(want, rel=1e-13)
    zero = obj.point(torch.zeros(obj.coef_shape, dtype=torch.float64))  # the W = 0 shortcut
    want = value_np(X, y, sw, np.zeros(obj.coef_shape), l2=l2, offset=offset)
    assert float(zero.value) == pytest.approx(want, rel=1e-13)
    # mini-batch pieces (stochastic solvers): sum_i s_i l_i and its gradient
    lo, gb = obj.batch_value_gradient(coef, next(iter(obj.data.batches())))
    data_g = gradient_np(X, y, sw, c, offset=offset) * sw.sum()
    assert np.allclose(gb.numpy(), data_g, atol=1e-11)
    assert float(lo) == pytest.approx(value_np(X, y, sw, c, offset=offset) * sw.sum(), rel=1e-13)


FULL_BATCH = sorted(n for n, c in SOLVERS.items() if not c.capabilities.minibatch)


@pytest.mark.parametrize("n_classes", [2, 3])
@pytest.mark.parametrize("solver", FULL_BATCH)
def test_every_solver_reaches_the_offset_optimum(solver, n_classes):
    X, y, sw, offset = _data(n_classes)
    kind = "l1" if SOLVERS[solver].capabilities.proximal else "l2"
    obj = _objective(X, y, sw, offset, n_classes, kind=kind, C=0.5)
    res = get_solver(solver)(tol=1e-9, max_iter=5000).solve(
        obj, torch.zeros(obj.coef_shape, dtype=torch.float64)
    )
    assert res.converged, res.message
    c = res.coef.numpy()
    S = sw.sum()
    l1, l2 = (1 / (0.5 * S), 0.0) if kind == "l1" else (0.0, 1 / (0.5 * S))
    g = gradient_np(X, y, sw, c, l2=l2, offset=offset)
    assert kkt_violation_np(c, g, l1=l1, n_features=D) <= 1e-9 * 1.01
    # without the offset the optimum is another one
    g0 = gradient_np(X, y, sw, c, l2=l2)
    assert kkt_violation_np(c, g0, l1=l1, n_features=D) > 1e-4


def test_newton_paths_with_offset():
    """Lookahead (streamed Newton) and the row-sampled Hessian with its sample stage."""
    X, y, sw, offset = _data(2, n=6000)
    obj = _objective(X, y, sw, offset, 2, C=0.5)
    g_ref = None
    for wrap, opts in [
        (LookaheadObjective, {}),
        (lambda o: o, {"hessian_rows": 100, "sample_stage": True}),
    ]:
        res = get_solver("newton")(tol=1e-10, **opts).solve(
            wrap(obj), torch.zeros(obj.coef_shape, dtype=torch.float64)
        )
        assert res.converged
        g = gradient_np(X, y, sw, res.coef.numpy(), l2=1 / (0.5 * sw.sum()), offset=offset)
        assert np.abs(g).max() <= 1e-10 * 1.01
        g_ref = g if g_ref is None else g_ref


@pytest.mark.parametrize(
    "solver,options",
    [("sgd", {"learning_rate": "constant"}), ("adam", {"lr": 0.01})],
)
def test_stochastic_batches_carry_the_offset(solver, options):
    """One mini-batch of all rows: (proximal) gradient steps that converge to the optimum."""
    X, y, sw, offset = _data(2)
    obj = _objective(X, y, sw, offset, 2, C=0.5)
    exact = get_solver("newton")(tol=1e-10).solve(
        obj, torch.zeros(obj.coef_shape, dtype=torch.float64)
    )
    res = get_solver(solver)(tol=1e-14, max_iter=3000, batch_size=len(y), **options).solve(
        obj, torch.zeros(obj.coef_shape, dtype=torch.float64)
    )
    obj_no = _objective(X, y, sw, None, 2, C=0.5)
    without = get_solver("newton")(tol=1e-10).solve(
        obj_no, torch.zeros(obj.coef_shape, dtype=torch.float64)
    )
    err = np.abs(res.coef.numpy() - exact.coef.numpy()).max()
    assert err < 1e-4 < 1e-2 < np.abs(without.coef.numpy() - exact.coef.numpy()).max()


@pytest.mark.parametrize("solver", sorted(n for n, c in SOLVERS.items() if c.capabilities.bounds))
@pytest.mark.parametrize("kind", ["l2", "l1", None])
def test_offset_equals_a_column_fixed_at_one(solver, kind):
    """Offset ``o`` == an extra (unpenalised-by-bounds) column ``o`` with ``1 <= w <= 1``."""
    X, y, sw, offset = _data(2, seed=3)
    with_offset = _objective(X, y, sw, offset, 2, kind=kind, C=0.5)
    Xo = np.c_[X, offset[:, 0]]
    lower = np.r_[np.full(D, -np.inf), 1.0]
    upper = np.r_[np.full(D, np.inf), 1.0]
    column = _objective(Xo, y, sw, None, 2, kind=kind, C=0.5, lower=lower, upper=upper)
    # the fixed coefficient's penalty is a constant: the same minimiser for l2 / l1

    def fit(obj):
        res = get_solver(solver)(tol=1e-11, max_iter=10_000).solve(
            obj, torch.zeros(obj.coef_shape, dtype=torch.float64)
        )
        assert res.converged, res.message
        return res.coef.numpy()[0]

    a, b = fit(with_offset), fit(column)
    assert b[D] == 1.0
    assert np.abs(np.r_[a[:D], a[D]] - np.r_[b[:D], b[D + 1]]).max() < 1e-8


@pytest.mark.parametrize("n_classes", [2, 3])
@pytest.mark.parametrize("solver", ["newton", "newton-cg", "cd", "fista"])
def test_offset_on_sparse_x_and_in_chunks(solver, n_classes):
    """Sparse X (``SparseDesign``) and a stream of chunks, each with its rows' offsets, reach
    the dense one-batch optimum: the offset travels with every batch."""
    import scipy.sparse as sp

    from torchlogit.data._sparse_input import from_scipy

    X, y, sw, offset = _data(n_classes, n=240, seed=5)
    X[np.abs(X) < 0.8] = 0.0  # about half the entries
    t = torch.float64
    kind = "l1" if SOLVERS[solver].capabilities.proximal else "l2"
    dense = _objective(X, y, sw, offset, n_classes, kind=kind, C=0.5)
    zero = torch.zeros(dense.coef_shape, dtype=t)
    ref = get_solver(solver)(tol=1e-10, max_iter=5000).solve(dense, zero).coef
    Xs = from_scipy(sp.csr_matrix(X), dtype=t, device=torch.device("cpu"))
    chunks = [slice(0, 100), slice(100, 170), slice(170, 240)]
    for make in [
        lambda: [Batch(Xs, torch.tensor(y), torch.tensor(sw, dtype=t), torch.tensor(offset))],
        lambda: [
            Batch(
                torch.tensor(X[c]), torch.tensor(y[c]), torch.tensor(sw[c]), torch.tensor(offset[c])
            )
            for c in chunks
        ],
    ]:
        obj = LinearObjective(
            make_loss(n_classes),
            BatchList(make()),
            dense.penalty,
            fit_intercept=True,
            n_features=D,
        )
        got = get_solver(solver)(tol=1e-10, max_iter=5000).solve(obj, zero).coef
        assert torch.allclose(_centred(got), _centred(ref), rtol=0, atol=1e-8)


def _centred(coef):
    """Multinomial intercepts are unique only up to a common shift (the softmax's)."""
    if coef.shape[0] == 1:
        return coef
    return torch.cat([coef[:, :D], coef[:, D:] - coef[:, D:].mean()], dim=1)

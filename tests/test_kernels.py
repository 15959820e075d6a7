"""The design-matrix products of ``torchlogit.data`` against independent references.

Uniform dtype: each product is the plain torch product. Mixed precision (float32 ``X``,
float64 operands, :mod:`torchlogit.data._kernels`): each product against the float64 product
of the same float32 numbers (``X.double()``), within the error bounds the module states; the
linear objective built on them against the float64 objective on the same data; and solvers
run on float32 data with float64 coefficients reach the float64 optimum to 1e-6 relative.
"""

import numpy as np
import pytest
import torch
from sklearn.datasets import make_classification

from torchlogit.data import (
    InMemoryData,
    add_gram_block,
    linear_predict,
    panel_rows,
    transpose_matmul,
    weighted_cross_gram,
    weighted_gram,
    weighted_square_sums,
)
from torchlogit.objective import ElasticNetPenalty, LinearObjective, make_loss
from torchlogit.solvers import LBFGSSolver, NewtonSolver

# crosses the mixed products' panels (1,024 and 8,192 rows) with a ragged last one
N_ODD = 65_536 + 2 * 8_192 + 37


def _X(n, d, dtype, layout, seed=0):
    g = torch.Generator().manual_seed(seed)
    X = torch.rand(n, 2 * d, generator=g, dtype=torch.float64) * 3 - 1
    X[::97] = 0.0  # all-zero rows
    X = X.to(dtype)
    if layout == "columns":  # a non-contiguous view: every other column
        return X[:, ::2]
    X = X[:, :d]
    if layout == "fortran":  # column-major memory
        return X.T.contiguous().T
    return X.contiguous()


LAYOUTS = ["contiguous", "columns", "fortran"]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("layout", LAYOUTS)
def test_uniform_products_are_the_plain_torch_products(dtype, layout):
    n, d = 9_001, 11  # more than one Gram panel (8,192 rows)
    X = _X(n, d, dtype, layout)
    g = torch.Generator().manual_seed(1)
    W = torch.randn(3, d, generator=g, dtype=dtype)
    G = torch.randn(n, 3, generator=g, dtype=dtype)
    c = torch.rand(n, generator=g, dtype=dtype)
    s = torch.randn(n, generator=g, dtype=dtype)
    assert torch.equal(linear_predict(X, W), X @ W.T)
    assert torch.equal(transpose_matmul(X, G), G.T @ X)
    # the Grams go through row panels: the plain product up to the order of the sums
    tol = {"rtol": 1e-5, "atol": 1e-3} if dtype == torch.float32 else {"rtol": 1e-12, "atol": 1e-11}
    Xs = X * c.sqrt().unsqueeze(1)
    gram = weighted_gram(X, c)
    torch.testing.assert_close(gram, Xs.T @ Xs, **tol)
    assert torch.equal(gram, gram.T)
    torch.testing.assert_close(weighted_cross_gram(X, s), X.T @ (X * s.unsqueeze(1)), **tol)
    torch.testing.assert_close(weighted_square_sums(X, G), (X * X).T @ G)


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("n", [0, 5, N_ODD])
def test_mixed_products_match_the_float64_product_of_the_same_numbers(layout, n):
    d = 13
    X = _X(n, d, torch.float32, layout)
    X64 = X.double()
    g = torch.Generator().manual_seed(2)
    W = torch.randn(3, d, generator=g, dtype=torch.float64)
    G = torch.randn(n, 3, generator=g, dtype=torch.float64)
    c = torch.rand(n, generator=g, dtype=torch.float64)
    s = torch.randn(n, generator=g, dtype=torch.float64)

    raw = linear_predict(X, W)
    assert raw.dtype == torch.float64 and raw.shape == (n, 3)
    # float64 arithmetic on the exact float32 values
    torch.testing.assert_close(raw, X64 @ W.T, rtol=1e-12, atol=1e-12)

    gW = transpose_matmul(X, G)
    assert gW.dtype == torch.float64 and gW.shape == (3, d)
    torch.testing.assert_close(gW, G.T @ X64, rtol=1e-12, atol=1e-11)

    # the Grams: float32 products are exact in float64, so float64 rounding only
    Xs = X64 * c.sqrt().unsqueeze(1)
    torch.testing.assert_close(weighted_gram(X, c), Xs.T @ Xs, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(
        weighted_cross_gram(X, s), X64.T @ (X64 * s.unsqueeze(1)), rtol=1e-12, atol=1e-11
    )
    torch.testing.assert_close(
        weighted_square_sums(X, G), (X64 * X64).T @ G, rtol=1e-12, atol=1e-11
    )
    p = d + 1
    H = torch.zeros(2 * p, 2 * p, dtype=torch.float64)
    add_gram_block(H, X, s, 0, 1, p, d, True, psd=False)
    Xa = torch.cat([X64, torch.ones(n, 1, dtype=torch.float64)], dim=1)
    block = Xa.T @ (Xa * s.unsqueeze(1))
    torch.testing.assert_close(H[:p, p:], block, rtol=1e-12, atol=1e-11)
    torch.testing.assert_close(H[p:, :p], block.T, rtol=1e-12, atol=1e-11)


def test_mixed_predict_does_not_round_the_coefficients_to_float32():
    """A systematic error (the same for every row) would not average out of the sums over
    rows: rounding ``W`` to float32 makes one; the float64 products do not."""
    n, d = 200_000, 7
    g = torch.Generator().manual_seed(3)
    X = (torch.rand(n, d, generator=g, dtype=torch.float64) + 1).float()  # all positive
    W = torch.randn(1, d, generator=g, dtype=torch.float64)
    ref = X.double() @ W.T
    mean_err = float((linear_predict(X, W) - ref).mean())
    naive_err = float(((X @ W.float().T).double() - ref).mean())
    scale = float(ref.abs().mean())
    assert abs(naive_err) > 1e-9 * scale  # the test can tell the two apart
    assert abs(mean_err) < 1e-10 * scale


def test_panels_are_sized_by_bytes_on_an_accelerator():
    """CPU panels stay cache-sized; on another device (a meta tensor stands in: only its device
    type and shape are read) a panel holds at least 256 MiB of float64, so a pass over
    20,000,000 rows is a few dozen launches, not tens of thousands."""
    cpu = torch.empty(10, 128)
    assert panel_rows(cpu, 1024) == 1024
    meta = torch.empty(20_000_000, 128, device="meta")
    rows = panel_rows(meta, 1024)
    assert rows * 128 * 8 >= 2**28
    assert -(-20_000_000 // rows) <= 80
    assert panel_rows(torch.empty(10, 10**9, device="meta"), 8192) == 8192  # never fewer rows


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA is not available")
@pytest.mark.parametrize("n", [5, 300_001])
def test_cuda_mixed_products_match_the_float64_products(n):
    """On CUDA the panels are large (several at n = 300,001 with 300 columns); the mixed and
    Gram products equal the float64 products of the same float32 numbers, as on the CPU."""
    g = torch.Generator(device="cuda").manual_seed(0)
    X = torch.randn(n, 300, generator=g, device="cuda")
    W = torch.randn(2, 300, generator=g, device="cuda", dtype=torch.float64)
    G = torch.randn(n, 2, generator=g, device="cuda", dtype=torch.float64)
    c = torch.rand(n, generator=g, device="cuda", dtype=torch.float64)
    X64 = X.double()
    assert panel_rows(X, 1024) < n or n < 1024
    tol = {"rtol": 1e-12, "atol": 1e-9}
    torch.testing.assert_close(linear_predict(X, W), X64 @ W.T, **tol)
    torch.testing.assert_close(transpose_matmul(X, G), G.T @ X64, **tol)
    torch.testing.assert_close(weighted_gram(X, c), X64.T @ (X64 * c[:, None]), **tol)
    torch.testing.assert_close(weighted_square_sums(X, G), (X64 * X64).T @ G, **tol)


def _objectives(n_classes, *, offset=False, n=3_000, d=9, seed=0):
    X, y = make_classification(
        n, d, n_informative=5, n_redundant=2, n_classes=n_classes, n_clusters_per_class=1,
        random_state=seed,
    )  # fmt: skip
    rng = np.random.default_rng(seed)
    sw = rng.uniform(0.2, 2.0, size=n)
    m = 1 if n_classes == 2 else n_classes
    off = rng.normal(size=(n, m)) if offset else None
    out = []
    for dtype in (torch.float32, torch.float64):
        X_t = torch.from_numpy(X).float().to(dtype)  # the same float32 numbers
        sw_t = torch.from_numpy(sw).float()
        data = InMemoryData(
            X_t,
            torch.from_numpy(y),
            sw_t.to(dtype),
            offset=None if off is None else torch.from_numpy(off).float().to(dtype),
            weight_sum=float(sw_t.double().sum()),  # (a float32 sum is ~1e-8 off)
        )
        out.append(
            LinearObjective(
                make_loss(n_classes),
                data,
                ElasticNetPenalty(0.0, 1e-3, d),
                fit_intercept=True,
                n_features=d,
            )  # fmt: skip
        )
    return out


# The products are float64 arithmetic on the same numbers; the multinomial Hessian's
# one-product form (below) is not.
GRAD_ATOL = 1e-10


@pytest.mark.parametrize("n_classes", [2, 4])
@pytest.mark.parametrize("offset", [False, True])
def test_mixed_objective_matches_the_float64_objective(n_classes, offset):
    mixed, exact = _objectives(n_classes, offset=offset)
    g = torch.Generator().manual_seed(4)
    coef = 0.3 * torch.randn(*exact.coef_shape, generator=g, dtype=torch.float64)
    v = torch.randn(*exact.coef_shape, generator=g, dtype=torch.float64)
    f, grad, H = mixed.value_gradient_hessian(coef)
    f0, grad0, H0 = exact.value_gradient_hessian(coef)
    assert f.dtype == grad.dtype == H.dtype == torch.float64
    torch.testing.assert_close(f, f0, rtol=1e-12, atol=0)
    torch.testing.assert_close(grad, grad0, rtol=0, atol=GRAD_ATOL)
    torch.testing.assert_close(H, H0, rtol=0, atol=1e-8)  # float64 Gram
    torch.testing.assert_close(mixed.value(coef), f0, rtol=1e-12, atol=0)
    torch.testing.assert_close(mixed.value_gradient(coef)[1], grad0, rtol=0, atol=GRAD_ATOL)
    hv0 = exact.hessian_product(coef, v)
    torch.testing.assert_close(mixed.hessian_product(coef, v), hv0, rtol=0, atol=GRAD_ATOL)
    torch.testing.assert_close(mixed.hessian_operator(coef)(v), hv0, rtol=0, atol=GRAD_ATOL)
    torch.testing.assert_close(
        mixed.hessian_diagonal(coef), exact.hessian_diagonal(coef), rtol=0, atol=GRAD_ATOL
    )
    pt, pt0 = mixed.point(coef), exact.point(coef)
    torch.testing.assert_close(pt.gradient, pt0.gradient, rtol=0, atol=GRAD_ATOL)
    # (multinomial: the one-product form of objective/_sampled_hessian.py multiplies in X's
    # dtype, float32 here: ~u relative)
    h_atol = 1e-8 if n_classes == 2 else 1e-6
    torch.testing.assert_close(mixed.hessian(pt), exact.hessian(pt0), rtol=0, atol=h_atol)
    line, line0 = mixed.line(pt, v), exact.line(pt0, v)
    for t in (1.0, 0.25):
        torch.testing.assert_close(line.value(t), line0.value(t), rtol=1e-12, atol=0)
        torch.testing.assert_close(line.point(t).gradient, line0.point(t).gradient, atol=GRAD_ATOL,
                                   rtol=0)  # fmt: skip


@pytest.mark.parametrize("n_classes", [2, 3])
@pytest.mark.parametrize("solver", ["newton", "lbfgs"])
def test_float32_data_reach_the_float64_optimum(n_classes, solver):
    """float32 X with float64 coefficients: the same optimum as float64 X to 1e-6 relative
    suboptimality (here far below), in about the same number of iterations."""
    mixed, exact = _objectives(n_classes, n=20_000, d=30, seed=1)

    def solve(obj, tol):
        zeros = torch.zeros(obj.coef_shape, dtype=torch.float64)
        if solver == "newton":
            return NewtonSolver(tol=tol).solve(obj, zeros)
        return LBFGSSolver(tol=tol, max_iter=2000).solve(obj, zeros)

    ref = solve(exact, 1e-10)
    f_star = float(exact.value(ref.coef))
    res64, res32 = solve(exact, 1e-6), solve(mixed, 1e-6)
    assert res32.converged and res32.coef.dtype == torch.float64
    for res in (res64, res32):
        assert (float(exact.value(res.coef)) - f_star) / abs(f_star) <= 1e-6
    assert res32.n_iter <= res64.n_iter + 3
    # and the tight fit reaches the float64 optimum itself
    tight = solve(mixed, 1e-9)
    assert (float(exact.value(tight.coef)) - f_star) / abs(f_star) <= 1e-12

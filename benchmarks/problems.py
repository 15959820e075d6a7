"""The benchmark problems B1-B5 (``/work/shared/BENCHMARKS.md``), generated here, seeded.

Every problem is scikit-learn's objective

    C * sum_i s_i * logloss_i + r(w),   r = 1/2 ||w||^2 (L2), ||w||_1 (L1),
    l1_ratio ||w||_1 + (1 - l1_ratio)/2 ||w||^2 (elastic-net),

with an unpenalised intercept and the full softmax for more than two classes. ``n_scale``
shrinks the number of rows (for quick runs); everything else is as specified.

| id | data | penalty |
|----|------|---------|
| B1 | make_classification(1_000_000, 100, n_informative=50, n_redundant=25, flip_y=0.05,
|    | class_sep=0.8, random_state=0) | L2, C=1 |
| B2 | 500_000 x 200 standard normals, AR(0.9) along the columns, column j scaled by 10^u_j,
|    | u ~ U(-1.5, 1.5); y ~ Bernoulli(sigmoid(X w)), w random (seed 0) | L2, C=100 |
| B3 | make_classification(200_000, 100, n_informative=60, n_classes=10,
|    | n_clusters_per_class=1, random_state=0) | L2, C=1, multinomial |
| B4 | sparse CSR 100_000 x 50_000, ~40 non-zeros a row, power-law column frequencies,
|    | values log1p(count); 200 true non-zero weights | L1, C=0.05 |
| B5 | make_classification(200_000, 500, n_informative=100, random_state=0) | elastic-net,
|    | l1_ratio=0.5, C=0.1 |
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Problem:
    """One benchmark problem: how to make it and which objective it asks for."""

    id: str
    description: str
    n_samples: int
    make: Callable[[int], tuple]  # n_samples -> (X, y)
    penalty: str  # "l2", "l1" or "elasticnet"
    C: float
    l1_ratio: float | None = None
    n_classes: int = 2
    sparse: bool = False
    peers: tuple[str, ...] = ()

    def generate(self, n_scale: float = 1.0):
        n = max(int(round(self.n_samples * n_scale)), 1000)
        return self.make(n)

    @property
    def l1_fraction(self) -> float:
        """``l1_ratio`` of the penalty in scikit-learn's parametrisation."""
        return {"l2": 0.0, "l1": 1.0}.get(self.penalty, self.l1_ratio)


def make_b1(n: int):
    from sklearn.datasets import make_classification

    return make_classification(
        n,
        100,
        n_informative=50,
        n_redundant=25,
        flip_y=0.05,
        class_sep=0.8,
        random_state=0,
    )


def make_b2(n: int, d: int = 200, rho: float = 0.9):
    """AR(rho) Gaussian columns scaled by 10^U(-1.5, 1.5); labels from a logistic model."""
    rng = np.random.default_rng(0)
    X = np.empty((n, d))
    X[:, 0] = rng.standard_normal(n)
    innovation = np.sqrt(1.0 - rho * rho)
    for j in range(1, d):
        X[:, j] = rho * X[:, j - 1] + innovation * rng.standard_normal(n)
    scale = 10.0 ** rng.uniform(-1.5, 1.5, size=d)
    X *= scale
    # A random direction in the scaled space, with logits of order a few units.
    w = rng.standard_normal(d) / scale
    z = X @ w
    w *= 3.0 / z.std()
    p = 1.0 / (1.0 + np.exp(-(X @ w)))
    y = (rng.uniform(size=n) < p).astype(np.int64)
    return X, y


def make_b3(n: int):
    from sklearn.datasets import make_classification

    return make_classification(
        n, 100, n_informative=60, n_classes=10, n_clusters_per_class=1, random_state=0
    )


def make_b4(n: int, d: int = 50_000, nnz_per_row: int = 40, n_true: int = 200):
    """Text-like CSR: Zipf column frequencies, values ``log1p(count)``, 200 true weights."""
    import scipy.sparse as sp

    rng = np.random.default_rng(0)
    ranks = np.arange(1, d + 1)
    freq = 1.0 / ranks**1.1
    freq /= freq.sum()
    # Shuffle which column is frequent so that the true support is not the first columns.
    freq = freq[rng.permutation(d)]
    lengths = rng.poisson(nnz_per_row, size=n).clip(min=1)
    cols = rng.choice(d, size=int(lengths.sum()), p=freq)
    rows = np.repeat(np.arange(n), lengths)
    counts = sp.coo_matrix((np.ones(cols.shape[0]), (rows, cols)), shape=(n, d)).tocsr()
    counts.sum_duplicates()
    X = counts.copy()
    X.data = np.log1p(X.data)
    X.sort_indices()
    w = np.zeros(d)
    # True support among columns that occur often enough to be learnable.
    common = np.argsort(-freq)[: 5 * n_true]
    support = rng.choice(common, size=n_true, replace=False)
    w[support] = rng.standard_normal(n_true) * 2.0
    z = X @ w
    z = (z - z.mean()) / max(z.std(), 1e-12) * 3.0
    y = (rng.uniform(size=n) < 1.0 / (1.0 + np.exp(-z))).astype(np.int64)
    return X, y


def make_b5(n: int):
    from sklearn.datasets import make_classification

    return make_classification(n, 500, n_informative=100, random_state=0)


PROBLEMS: dict[str, Problem] = {
    p.id: p
    for p in [
        Problem(
            "B1",
            "dense 1,000,000 x 100 binary (make_classification), L2, C=1",
            1_000_000,
            make_b1,
            "l2",
            1.0,
            peers=("sklearn-lbfgs", "sklearn-newton-cholesky", "glum"),
        ),
        Problem(
            "B2",
            "dense 500,000 x 200 binary, AR(0.9) columns scaled 10^U(-1.5,1.5), L2, C=100",
            500_000,
            make_b2,
            "l2",
            100.0,
            peers=("sklearn-lbfgs", "sklearn-newton-cholesky", "glum"),
        ),
        Problem(
            "B3",
            "dense 200,000 x 100, 10 classes (make_classification), L2, C=1, multinomial",
            200_000,
            make_b3,
            "l2",
            1.0,
            n_classes=10,
            peers=("sklearn-lbfgs", "sklearn-newton-cholesky"),
        ),
        Problem(
            "B4",
            "sparse CSR 100,000 x 50,000, ~40 nnz/row, power-law columns, L1, C=0.05",
            100_000,
            make_b4,
            "l1",
            0.05,
            sparse=True,
            peers=("sklearn-liblinear", "sklearn-saga", "skglm", "glum"),
        ),
        Problem(
            "B5",
            "dense 200,000 x 500 binary (make_classification), elastic-net 0.5, C=0.1",
            200_000,
            make_b5,
            "elasticnet",
            0.1,
            l1_ratio=0.5,
            peers=("sklearn-saga", "glum", "skglm"),
        ),
    ]
}

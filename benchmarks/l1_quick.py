"""Quick B5 check (dense 200,000 x 500 elastic-net, l1_ratio 0.5, C 0.1) for torchlogit's "cd".

Usage: PYTHONPATH=src python benchmarks/l1_quick.py [--n N] [--tol TOL] [--peers]
Prints the wall time of ``fit`` and the sklearn-scale objective; ``--peers`` also times glum
(tight tolerance) in the same run and prints the ratio. The official harness is
``python -m benchmarks B5``; this script is for quick iterations on the solver.
"""

import argparse
import time

import numpy as np
from sklearn.datasets import make_classification

from torchlogit import LogisticRegression


def objective(coef, intercept, X, y, C, l1_ratio):
    z = X @ coef.ravel() + intercept[0]
    loss = np.logaddexp(0, z) - y * z
    w = coef.ravel()
    return C * loss.sum() + l1_ratio * np.abs(w).sum() + 0.5 * (1 - l1_ratio) * (w @ w)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=200_000)
    ap.add_argument("--d", type=int, default=500)
    ap.add_argument("--tol", type=float, default=1e-7)
    ap.add_argument("--peers", action="store_true")
    args = ap.parse_args()
    C, l1_ratio = 0.1, 0.5
    X, y = make_classification(args.n, args.d, n_informative=100, random_state=0)
    t = time.perf_counter()
    m = LogisticRegression(
        penalty="elasticnet", l1_ratio=l1_ratio, C=C, solver="cd", tol=args.tol, verbose=1
    ).fit(X, y)
    t_ours = time.perf_counter() - t
    f_ours = objective(m.coef_, m.intercept_, X, y, C, l1_ratio)
    print(f"torchlogit cd: {t_ours:.2f} s, objective {f_ours:.12e}, nnz {(m.coef_ != 0).sum()}")
    if args.peers:
        from glum import GeneralizedLinearRegressor

        S = len(y)
        t = time.perf_counter()
        g = GeneralizedLinearRegressor(
            family="binomial", alpha=1 / (C * S), l1_ratio=l1_ratio, gradient_tol=1e-10
        ).fit(X, y)
        t_glum = time.perf_counter() - t
        f_glum = objective(g.coef_[None, :], np.array([g.intercept_]), X, y, C, l1_ratio)
        best = min(f_ours, f_glum)
        print(f"glum: {t_glum:.2f} s, objective {f_glum:.12e}")
        print(
            f"rel. subopt ours {(f_ours - best) / abs(best):.2e}, glum "
            f"{(f_glum - best) / abs(best):.2e}; ratio ours/glum {t_ours / t_glum:.3f}"
        )


if __name__ == "__main__":
    main()

"""The weak-penalty end of B7 (L1 path on B4's sparse data) for ``solver="cd"``: sweeps and
time of each inner solve (the L1-penalised quadratic model) at every grid point.

Usage: PYTHONPATH=src python -m benchmarks.l1_weak_end [--n-scale 0.01] [--first 12]

B7's grid (20 Cs log-spaced from ``l1_min_c`` up four decades) on fold 0 of its
``StratifiedKFold(5, shuffle=True, random_state=0)``, each point warm-started from the previous
one as the path does. Points before ``--first`` are fitted without printing. The sweep counts
are deterministic; times on a shared machine are not (compare within one run).
"""

import argparse
import time

import numpy as np
from sklearn.model_selection import StratifiedKFold

from benchmarks.problems import make_b4


def main():
    import torchlogit.solvers._prox_newton as prox_newton
    from torchlogit import LogisticRegression, l1_min_c

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n-scale", type=float, default=0.01)
    ap.add_argument("--first", type=int, default=12)
    args = ap.parse_args()
    n = max(int(100_000 * args.n_scale), 500)
    X, y = make_b4(n)
    c_min = l1_min_c(X, y)
    Cs = np.logspace(np.log10(c_min), np.log10(c_min) + 4, 20)
    train, _ = next(StratifiedKFold(5, shuffle=True, random_state=0).split(np.zeros((n, 1)), y))
    X, y = X[train], y[train]
    solve, inner = prox_newton.solve_l1_quadratic, []

    def recording(*a, **kw):
        t = time.perf_counter()
        out = solve(*a, **kw)
        inner.append((out[2], time.perf_counter() - t))
        return out

    prox_newton.solve_l1_quadratic = recording
    m = LogisticRegression(solver="cd", l1_ratio=1.0, max_iter=1000, warm_start=True)
    for i, C in enumerate(Cs):
        inner.clear()
        t = time.perf_counter()
        m.set_params(C=C).fit(X, y)
        if i >= args.first:
            sweeps = [s for s, _ in inner]
            print(
                f"{i:2d} C/l1_min_c {C / c_min:8.1f}  fit {time.perf_counter() - t:6.2f} s"
                f"  inner {sum(t for _, t in inner):6.2f} s  sweeps {sweeps}"
                f"  nnz {np.count_nonzero(m.coef_)}",
                flush=True,
            )


if __name__ == "__main__":
    main()

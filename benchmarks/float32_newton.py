"""float32 against float64 Newton fits of B1's data (issue #17 item 3), in one process.

Run: ``PYTHONPATH=src python benchmarks/float32_newton.py [rows] [repeats]`` (default
200,000 rows, 3 repeats). For each thread count (1 and 2) it fits
``LogisticRegression(C=1, tol=1e-6)`` on float64 and float32 copies of B1's data
(``make_classification(rows, 100, n_informative=50, n_redundant=25, flip_y=0.05,
class_sep=0.8, random_state=0)``), alternating, and prints the minimum time, iterations,
passes over X, calls of ``torch.linalg.eigh`` (Newton's eigen-step fallback) and the
relative gap of scikit-learn's objective, evaluated in NumPy float64, to the float64 fit's.
"""

import sys
import time
import warnings

import numpy as np
import torch
from sklearn.datasets import make_classification

from torchlogit import LogisticRegression


def _objective(X, y, m):
    z = X @ m.coef_.astype(np.float64).ravel() + float(m.intercept_[0])
    w = m.coef_.astype(np.float64)
    return np.logaddexp(0.0, -(2.0 * y - 1.0) * z).sum() + 0.5 * float(np.sum(w * w))


def main(rows: int = 200_000, repeats: int = 3) -> None:
    calls = [0]
    eigh = torch.linalg.eigh

    def spy(*args, **kwargs):
        calls[0] += 1
        return eigh(*args, **kwargs)

    torch.linalg.eigh = spy
    X, y = make_classification(
        rows, 100, n_informative=50, n_redundant=25, flip_y=0.05, class_sep=0.8, random_state=0
    )
    data = {dt: np.ascontiguousarray(X.astype(dt)) for dt in ("float64", "float32")}
    for threads in (1, 2):
        best = {}
        for _ in range(repeats):
            for dt, Xd in data.items():
                calls[0] = 0
                with warnings.catch_warnings(record=True) as w:
                    warnings.simplefilter("always")
                    t = time.perf_counter()
                    m = LogisticRegression(C=1, tol=1e-6, n_jobs=threads).fit(Xd, y)
                    t = time.perf_counter() - t
                old = best.get(dt)
                best[dt] = (
                    min(t, old[0]) if old else t,
                    int(m.n_iter_[0]),
                    getattr(m, "n_passes_", None),
                    calls[0],
                    _objective(X, y, m),
                    len(w),
                )
        f64 = best["float64"][4]
        for dt, (t, it, passes, eig, f, nw) in best.items():
            print(
                f"threads={threads} {dt}: min {t:.3f} s, {it} iterations, {passes} passes, "
                f"{eig} eigh, objective gap {(f - f64) / abs(f64):.1e}, {nw} warnings"
            )
        ratio = best["float64"][0] / best["float32"][0]
        print(f"threads={threads} float32 speed-up: {ratio:.2f}x", flush=True)


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:3]))

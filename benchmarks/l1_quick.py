"""Quick B5 check (dense 200,000 x 500 elastic-net, l1_ratio 0.5, C 0.1) for torchlogit's "cd".

Usage: PYTHONPATH=src python benchmarks/l1_quick.py [--n N] [--peers]

Mirrors the harness's protocol (``python -m benchmarks B5`` on the bench branch): each solver
runs a tolerance ladder, loosest first, until its objective is within a relative 1e-6 of the
best objective of the run (a glum fit at gradient_tol 1e-10 is the reference when ``--peers``);
its time is that fit's wall time, and torchlogit's ratio is to the fastest peer of the same
run. Times on a shared machine drift; the ratio is what to compare.
"""

import argparse
import time

import numpy as np
from sklearn.datasets import make_classification

C, L1_RATIO, TARGET = 0.1, 0.5, 1e-6


def objective(coef, intercept, X, y):
    z = X @ np.ravel(coef) + float(np.ravel(intercept)[0])
    w = np.ravel(coef)
    loss = np.logaddexp(0, z) - y * z
    return C * loss.sum() + L1_RATIO * np.abs(w).sum() + 0.5 * (1 - L1_RATIO) * (w @ w)


def fit_torchlogit(X, y, tol):
    from torchlogit import LogisticRegression

    m = LogisticRegression(penalty="elasticnet", l1_ratio=L1_RATIO, C=C, tol=tol, max_iter=1000)
    m.fit(X, y)
    return m.coef_, m.intercept_, f"{m.solver_}, {m.n_iter_[0]} iterations"


def fit_glum(X, y, tol):
    from glum import GeneralizedLinearRegressor

    g = GeneralizedLinearRegressor(
        family="binomial", alpha=1 / (C * len(y)), l1_ratio=L1_RATIO, gradient_tol=tol
    ).fit(X, y)
    return g.coef_, np.array([g.intercept_]), f"{g.n_iter_} iterations"


def timed(fit, X, y, tol):
    t = time.perf_counter()
    coef, intercept, note = fit(X, y, tol)
    return time.perf_counter() - t, objective(coef, intercept, X, y), note


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=200_000)
    ap.add_argument("--peers", action="store_true")
    args = ap.parse_args()
    X, y = make_classification(args.n, 500, n_informative=100, random_state=0)
    runs = {"torchlogit": {}, "glum": {}}
    best = np.inf
    if args.peers:
        t, f, note = timed(fit_glum, X, y, 1e-10)
        print(f"reference glum tol=1e-10: {t:.2f} s, objective {f:.12e} ({note})")
        best = f
    ladders = [("torchlogit", fit_torchlogit, (1e-4, 1e-6, 1e-8))]
    if args.peers:
        ladders.append(("glum", fit_glum, (1e-4, 1e-6, 1e-8)))
    for name, fit, tols in ladders:
        for tol in tols:
            t, f, note = timed(fit, X, y, tol)
            runs[name][tol] = (t, f)
            best = min(best, f)
            print(f"{name} tol={tol:g}: {t:.2f} s, objective {f:.12e} ({note})")
            if (f - best) / abs(best) <= TARGET:
                break
    print(f"best objective {best:.12e}")
    reached = {}
    for name, fits in runs.items():
        ok = [(t, tol, (f - best) / abs(best)) for tol, (t, f) in fits.items()]
        ok = [r for r in ok if r[2] <= TARGET]
        if ok:
            reached[name] = min(ok)
            t, tol, sub = reached[name]
            print(f"{name}: {t:.2f} s at tol={tol:g} (rel. subopt {sub:.1e})")
    if "glum" in reached and "torchlogit" in reached:
        print(f"ratio torchlogit / glum: {reached['torchlogit'][0] / reached['glum'][0]:.3f}")


if __name__ == "__main__":
    main()

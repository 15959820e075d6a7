"""Quick B4-data check for sparse input: time to a relative suboptimality of 1e-6.

Usage: PYTHONPATH=src python benchmarks/sparse_quick.py [--n N] [--C C] [--penalty l2|l1]
       [--threads T]

B4's data (``BENCHMARKS.md``: CSR 100,000 x 50,000, ~40 non-zeros a row, Zipf column
frequencies, values log1p(count), 200 true weights; the same generator as the harness's
``make_b4``). With ``--penalty l2`` torchlogit ("auto": Newton-CG on wide sparse data) is
compared with scikit-learn's lbfgs; with ``--penalty l1`` (B4 itself, C=0.05) with skglm.
Each solver runs a tolerance ladder, loosest first, until its objective is within 1e-6 of the
best objective of the run (a torchlogit fit at tol 1e-10 fixes it first); its time is that
fit's wall time, validation included. Every solver is first run once on 2,000 rows (numba's
JIT compilation of skglm, about 7 s, is not timed). ``--threads`` sets torch's intra-op
threads (default: torch's); SciPy's sparse kernels are single-threaded either way. Times on
a shared machine drift; compare the ratio.
"""

import argparse
import time
import warnings

import numpy as np

TARGET = 1e-6


def make_b4(n: int, d: int = 50_000, nnz_per_row: int = 40, n_true: int = 200):
    """Text-like CSR: Zipf column frequencies, values ``log1p(count)``, 200 true weights."""
    import scipy.sparse as sp

    rng = np.random.default_rng(0)
    freq = 1.0 / np.arange(1, d + 1) ** 1.1
    freq /= freq.sum()
    freq = freq[rng.permutation(d)]
    lengths = rng.poisson(nnz_per_row, size=n).clip(min=1)
    cols = rng.choice(d, size=int(lengths.sum()), p=freq)
    rows = np.repeat(np.arange(n), lengths)
    X = sp.coo_matrix((np.ones(cols.shape[0]), (rows, cols)), shape=(n, d)).tocsr()
    X.sum_duplicates()
    X.data = np.log1p(X.data)
    X.sort_indices()
    w = np.zeros(d)
    support = rng.choice(np.argsort(-freq)[: 5 * n_true], size=n_true, replace=False)
    w[support] = rng.standard_normal(n_true) * 2.0
    z = X @ w
    z = (z - z.mean()) / max(z.std(), 1e-12) * 3.0
    y = (rng.uniform(size=n) < 1.0 / (1.0 + np.exp(-z))).astype(np.int64)
    return X, y


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--C", type=float, default=0.05)
    ap.add_argument("--penalty", choices=("l2", "l1"), default="l2")
    ap.add_argument("--threads", type=int, default=0)
    args = ap.parse_args()
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    C, penalty = args.C, args.penalty
    X, y = make_b4(args.n)

    def objective(coef, intercept):
        w = np.ravel(coef)
        z = X @ w + float(np.ravel(intercept)[0])
        r = 0.5 * (w @ w) if penalty == "l2" else np.abs(w).sum()
        return C * np.sum(np.logaddexp(0, z) - y * z) + r

    def fit_torchlogit(tol, X=X, y=y):
        from torchlogit import LogisticRegression

        m = LogisticRegression(penalty=penalty, C=C, tol=tol, max_iter=1000).fit(X, y)
        return m.coef_, m.intercept_, f"{m.solver_}, {m.n_iter_[0]} iterations"

    def fit_sklearn(tol, X=X, y=y):
        from sklearn.linear_model import LogisticRegression

        m = LogisticRegression(C=C, tol=tol, max_iter=5000).fit(X, y)
        return m.coef_, m.intercept_, f"lbfgs, {m.n_iter_[0]} iterations"

    def fit_skglm(tol, X=X, y=y):
        from skglm import SparseLogisticRegression

        m = SparseLogisticRegression(alpha=1.0 / (C * X.shape[0]), tol=tol, max_iter=1000)
        m.fit(X, y)
        return m.coef_, np.atleast_1d(m.intercept_), "skglm"

    warnings.filterwarnings("ignore")
    peer = ("sklearn", fit_sklearn) if penalty == "l2" else ("skglm", fit_skglm)
    for fit in (fit_torchlogit, peer[1]):  # warm-up: imports, JIT compilation
        fit(1e-4, X[:2000], y[:2000])
    t = time.perf_counter()
    coef, b, note = fit_torchlogit(1e-10)
    best = objective(coef, b)
    print(f"reference torchlogit tol=1e-10: {time.perf_counter() - t:.2f} s ({note})")
    runs = {}
    for name, fit in (("torchlogit", fit_torchlogit), peer):
        for tol in (1e-4, 1e-5, 1e-6, 1e-7, 1e-8):
            t = time.perf_counter()
            coef, b, note = fit(tol)
            elapsed = time.perf_counter() - t
            f = objective(coef, b)
            best = min(best, f)
            runs.setdefault(name, []).append((elapsed, tol, f))
            print(f"{name} tol={tol:g}: {elapsed:.2f} s, objective {f:.12e} ({note})")
            if (f - best) / abs(best) <= TARGET:
                break
    reached = {}
    for name, fits in runs.items():
        ok = [(t, tol, (f - best) / abs(best)) for t, tol, f in fits]
        ok = [r for r in ok if r[2] <= TARGET]
        if ok:
            reached[name] = min(ok)
            t, tol, sub = reached[name]
            print(f"{name}: {t:.2f} s at tol={tol:g} (rel. subopt {sub:.1e})")
        else:
            print(f"{name}: did not reach {TARGET:g}")
    if len(reached) == 2:
        print(f"ratio torchlogit / {peer[0]}: {reached['torchlogit'][0] / reached[peer[0]][0]:.3f}")


if __name__ == "__main__":
    main()

"""I1: fit + standard errors, torchlogit against statsmodels, one run on the same data.

``PYTHONPATH=src python -m benchmarks.inference [--n-scale 0.01] [--repeats 3]``

Problem I1 (BENCHMARKS.md): ``make_classification(1_000_000, 50, n_informative=20,
random_state=0)``, no penalty -- but with ``n_redundant=0``: the default ``n_redundant=2``
makes two columns exact linear combinations of the informative ones, so the information
matrix is singular and no standard error exists (torchlogit refuses, naming the terms;
statsmodels' ``inv`` fails or returns meaningless numbers).

torchlogit: ``fit`` (tol 1e-10), then ``inference`` (one pass over X: the information and the
HC0 meat at the fitted coefficients) and from it the nonrobust and HC0 tables. The tol is
what "the same numbers to 1e-6" costs: the smallest coefficient is ~1.5e-4, and against a
fit to max|grad| 3e-14 (200,000 rows) it is off by 5e-5 relative at tol 1e-8 (8 Newton
iterations), 4e-6 at 1e-9 (9) and 2.5e-7 at 1e-10 (10); the standard errors are within
5e-9 already at 1e-8. The fit's Hessians are row samples (Newton's ``hessian_rows="auto"``)
until ``max|grad|`` enters the quadratic region, then exact, but taken at the point before the
last step (the next steps are chord steps on it): none is the information at the final
coefficients, so the table's pass is needed. The fit's iterations and passes are shown.
statsmodels: ``Logit(...).fit()`` (Newton) + ``summary()`` + the HC0 covariance (a refit
from the optimum with ``cov_type="HC0"``). Reports each wall time (the minimum over
``--repeats`` runs of each, in the same process), torchlogit's as a ratio to statsmodels',
and the largest relative difference of the coefficients and standard errors (target: ratio
<= 0.1, differences <= 1e-6).
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def make_i1(n: int, d: int = 50):
    from sklearn.datasets import make_classification

    return make_classification(n, d, n_informative=20, n_redundant=0, random_state=0)


def run_torchlogit(X, y):
    from torchlogit import LogisticRegression

    t0 = time.perf_counter()
    clf = LogisticRegression(C=np.inf, tol=1e-10, max_iter=100).fit(X, y)  # no penalty
    t_fit = time.perf_counter() - t0
    result = clf.inference(X, y)  # one pass: information and HC0 meat
    nonrobust, hc0 = result.coef_table(), result.coef_table("HC0")
    return time.perf_counter() - t0, t_fit, nonrobust, hc0, clf


def run_statsmodels(X, y):
    import statsmodels.api as sm

    t0 = time.perf_counter()
    Xc = sm.add_constant(X)
    res = sm.Logit(y, Xc).fit(disp=0, method="newton", tol=1e-12, maxiter=100)
    t_fit = time.perf_counter() - t0
    res.summary()
    # statsmodels' discrete models have no public HC0 of a fitted result: fit again from the
    # optimum with cov_type="HC0" (one Newton step and the sandwich)
    hc0 = res.model.fit(start_params=res.params, disp=0, method="newton", tol=1e-12, cov_type="HC0")
    return time.perf_counter() - t0, t_fit, res, hc0


def _rel(a, b) -> float:
    return float(np.max(np.abs(np.asarray(a) - np.asarray(b)) / np.abs(np.asarray(b))))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.inference", description=__doc__)
    p.add_argument("--n-scale", type=float, default=1.0, help="fraction of the 1,000,000 rows")
    p.add_argument("--repeats", type=int, default=1, help="runs of each; the minimum is shown")
    args = p.parse_args(argv)
    n = max(1000, int(1_000_000 * args.n_scale))
    X, y = make_i1(n)
    t_tl, fit_tl, table, table_hc0, clf = min(
        (run_torchlogit(X, y) for _ in range(args.repeats)), key=lambda r: r[0]
    )
    t_sm, fit_sm, res, res_hc0 = min(
        (run_statsmodels(X, y) for _ in range(args.repeats)), key=lambda r: r[0]
    )
    print(f"I1 inference, {n} x {X.shape[1]} dense binary, penalty=None (min of {args.repeats})")
    print(
        f"  torchlogit : {t_tl:8.3f} s (fit {fit_tl:.3f} s, {int(clf.n_iter_[0])} iterations, "
        f"{clf.n_passes_:g} passes; one pass, nonrobust + HC0)"
    )
    print(f"  statsmodels: {t_sm:8.3f} s (fit {fit_sm:.3f} s; summary + HC0)")
    print(f"  ratio      : {t_tl / t_sm:8.3f} (target <= 0.1)")
    print(f"  max rel. diff coef            : {_rel(table['coef'], res.params):.2e}")
    print(f"  max rel. diff std_err (nonrob): {_rel(table['std_err'], res.bse):.2e}")
    print(f"  max rel. diff std_err (HC0)   : {_rel(table_hc0['std_err'], res_hc0.bse):.2e}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

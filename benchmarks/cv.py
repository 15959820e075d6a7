"""B6 / B7 (``/work/shared/BENCHMARKS.md``): cross-validated C, torchlogit against its peers.

Every library gets the same data, the same grid of C and the same splits (a list of index
pairs), scoring ``neg_log_loss``; the chosen ``C_`` and the wall time of ``fit`` are
reported, and the time as a ratio to the fastest peer that chose the same ``C_``. For B7 the
objective (:mod:`benchmarks.objective`) of each refitted model at its own ``C_`` is reported
as a relative difference to torchlogit's at the same ``C`` where they chose the same.

- **B6** dense L2: ``make_classification(200_000, 100, n_informative=50, random_state=0)``,
  ``Cs = np.logspace(-4, 4, 20)``, ``StratifiedKFold(5, shuffle=True, random_state=0)``.
  Peers: scikit-learn ``LogisticRegressionCV`` (newton-cholesky, lbfgs; ``n_jobs=2``) and
  ``GridSearchCV(LogisticRegression(solver="newton-cholesky"))`` (``n_jobs=2``).
- **B7** sparse L1 on B4's data: 20 Cs log-spaced from ``l1_min_c`` up four decades, the same
  folds. Peers: ``LogisticRegressionCV`` saga and liblinear (liblinear penalises the
  intercept: its objective differs by that), and skglm's ``GeneralizedLinearEstimatorCV``
  when the installed skglm has it (its grid is its own ``alphas``: ``1 / (C n)``; skglm 0.5
  takes only a number of folds, so it cross-validates on its own splits).

Run from the repository root (one problem at a time; full size only on a quiet machine)::

    PYTHONPATH=src python -m benchmarks.cv B6 --markdown
    PYTHONPATH=src python -m benchmarks.cv B7 --n-scale 0.01 --peers sklearn-saga   # smoke
    PYTHONPATH=src python -m benchmarks.cv B6 --n-scale 0.1 --peers --solver lbfgs  # ours only
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings

import numpy as np

from .objective import sklearn_objective
from .problems import make_b4

PEERS = {
    "B6": ("sklearn-newton-cholesky", "sklearn-lbfgs", "gridsearch-newton-cholesky"),
    "B7": ("sklearn-saga", "sklearn-liblinear", "skglm"),
}


def make(problem: str, n_scale: float):
    from sklearn.model_selection import StratifiedKFold

    from torchlogit import l1_min_c

    if problem == "B6":
        from sklearn.datasets import make_classification

        n = max(int(200_000 * n_scale), 500)
        X, y = make_classification(n, 100, n_informative=50, random_state=0)
        Cs = np.logspace(-4, 4, 20)
    else:
        n = max(int(100_000 * n_scale), 500)
        X, y = make_b4(n)
        c_min = l1_min_c(X, y)
        Cs = np.logspace(np.log10(c_min), np.log10(c_min) + 4, 20)
    folds = list(StratifiedKFold(5, shuffle=True, random_state=0).split(np.zeros((n, 1)), y))
    return X, y, Cs, folds


def _sklearn_cv(solver, penalty, Cs, folds, tol):
    from sklearn.linear_model import LogisticRegressionCV

    return LogisticRegressionCV(
        Cs=Cs,
        cv=folds,
        l1_ratios=[1.0 if penalty == "l1" else 0.0],  # scikit-learn 1.9: no penalty=
        solver=solver,
        scoring="neg_log_loss",
        tol=tol,
        max_iter=1000,
        n_jobs=2,
        use_legacy_attributes=False,
    )


def run_one(name, problem, X, y, Cs, folds, tol, solver="auto"):
    """``(seconds, C_, coef_, intercept_)`` of one library's fit, or a reason it did not run."""
    penalty = "l2" if problem == "B6" else "l1"
    if name == "torchlogit":
        from torchlogit import LogisticRegressionCV

        est = LogisticRegressionCV(  # its penalty= (l1_ratios= only with "elasticnet")
            Cs=Cs, cv=folds, penalty=penalty, tol=tol, max_iter=1000, solver=solver
        )
    elif name.startswith("sklearn-"):
        est = _sklearn_cv(name.removeprefix("sklearn-"), penalty, Cs, folds, tol)
    elif name == "gridsearch-newton-cholesky":
        from sklearn.linear_model import LogisticRegression
        from sklearn.model_selection import GridSearchCV

        base = LogisticRegression(solver="newton-cholesky", tol=tol, max_iter=1000)
        est = GridSearchCV(base, {"C": list(Cs)}, cv=folds, scoring="neg_log_loss", n_jobs=2)
    elif name == "skglm":
        try:
            from skglm import GeneralizedLinearEstimatorCV
            from skglm.datafits import Logistic
            from skglm.penalties import L1
            from skglm.solvers import ProxNewton
        except ImportError:
            return "not installed"
        n = X.shape[0]
        # skglm 0.5 takes a solver instance and an int cv (its own folds, not ours): its C_
        # may differ for that reason alone
        est = GeneralizedLinearEstimatorCV(
            Logistic(),
            L1(1.0),
            ProxNewton(tol=tol, fit_intercept=True),
            alphas=1.0 / (np.asarray(Cs) * n),
            cv=len(folds),
        )
    else:
        raise ValueError(f"unknown solver {name!r}")
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            est.fit(X, y)
        except Exception as exc:  # a peer that cannot run this problem is reported
            return f"failed: {type(exc).__name__}: {exc}"[:120]
    seconds = time.perf_counter() - t0
    if name == "gridsearch-newton-cholesky":
        C, fitted = est.best_params_["C"], est.best_estimator_
    elif name == "skglm":
        C, fitted = 1.0 / (est.alpha_ * X.shape[0]), est
    else:
        C, fitted = est.C_, est
    coef = np.atleast_2d(fitted.coef_)
    return seconds, float(C), coef, np.atleast_1d(fitted.intercept_)


def run(problem, n_scale, peers, tol, solver="auto"):
    X, y, Cs, folds = make(problem, n_scale)
    rows = {}
    for name in ("torchlogit", *peers):
        rows[name] = r = run_one(name, problem, X, y, Cs, folds, tol, solver)
        done = f"{r[0]:.2f} s, C_={r[1]:.4g}" if isinstance(r, tuple) else r
        print(f"# {name}: {done}", file=sys.stderr, flush=True)  # progress, as it goes
    return X, y, rows


def report(problem, X, y, rows, markdown: bool) -> str:
    ours = rows["torchlogit"]
    same = [
        r[0]
        for n, r in rows.items()
        if n != "torchlogit" and isinstance(r, tuple) and np.isclose(r[1], ours[1], rtol=1e-9)
    ]
    fastest = min(same) if same else None
    l1 = 0.0 if problem == "B6" else 1.0
    f_ours = sklearn_objective(X, y, ours[2], ours[3], C=ours[1], l1_ratio=l1)
    lines = [f"{problem}: {X.shape[0]} x {X.shape[1]}, 20 Cs, 5 folds, neg_log_loss"]
    if markdown:
        header = "| library | seconds | C_ | ratio | objective vs torchlogit |"
        lines += ["", header, "|---|---|---|---|---|"]
    for name, r in rows.items():
        if not isinstance(r, tuple):
            lines.append(f"| {name} | {r} | | | |" if markdown else f"  {name:28s} {r}")
            continue
        ratio = f"{r[0] / fastest:.3g}" if fastest and name == "torchlogit" else ""
        rel = ""
        if np.isclose(r[1], ours[1], rtol=1e-9):
            f = sklearn_objective(X, y, r[2], r[3], C=r[1], l1_ratio=l1)
            rel = f"{(f - f_ours) / abs(f_ours):+.2e}"
        if markdown:
            lines.append(f"| {name} | {r[0]:.2f} | {r[1]:.4g} | {ratio} | {rel} |")
        else:
            lines.append(f"  {name:28s} {r[0]:8.2f} s  C_={r[1]:.4g}  {ratio:>6s}  {rel}")
    if fastest is None:
        lines.append("no peer chose torchlogit's C_: no ratio")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("problem", choices=sorted(PEERS))
    parser.add_argument("--n-scale", type=float, default=1.0, help="fraction of the rows")
    parser.add_argument("--peers", nargs="*", default=None, help="peers to run (default all)")
    parser.add_argument("--tol", type=float, default=1e-6)
    parser.add_argument("--solver", default="auto", help="torchlogit's solver (default auto)")
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args(argv)
    peers = PEERS[args.problem] if args.peers is None else tuple(args.peers)
    X, y, rows = run(args.problem, args.n_scale, peers, args.tol, args.solver)
    print(report(args.problem, X, y, rows, args.markdown))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

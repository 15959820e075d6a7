"""``torchlogit fit DATA --target COL --out MODEL``: fit a model on a CSV / Parquet file."""

from __future__ import annotations

import time

from ._common import add_device_argument
from ._main import register_command


def _add_arguments(parser) -> None:
    parser.add_argument("data", metavar="DATA", help="training data (.csv or .parquet)")
    parser.add_argument("--target", required=True, metavar="COL", help="the label column")
    parser.add_argument(
        "--features", nargs="+", metavar="COL", help="feature columns (default: all but target)"
    )
    parser.add_argument("--out", required=True, metavar="MODEL", help="model file to write")
    est = parser.add_argument_group("model (as in LogisticRegression)")
    est.add_argument("--penalty", default="l2", help="l2 (default), l1, elasticnet or none")
    est.add_argument("--C", type=float, default=1.0, help="inverse regularisation strength")
    est.add_argument("--l1-ratio", type=float, default=None, help="elastic-net mixing in [0, 1]")
    est.add_argument("--solver", default="auto", help="auto (default), newton, lbfgs, ...")
    est.add_argument("--max-iter", type=int, default=100, help="iteration limit (default 100)")
    est.add_argument("--tol", type=float, default=1e-4, help="stop when max|gradient| <= tol")
    est.add_argument("--class-weight", choices=["balanced"], default=None)
    est.add_argument("--no-intercept", action="store_true", help="fit without an intercept")
    est.add_argument("--dtype", choices=["float32", "float64"], default=None)
    add_device_argument(est)
    parser.add_argument("--quiet", action="store_true", help="no per-iteration progress")


def estimator_from_args(args):
    from .. import LogisticRegression

    return LogisticRegression(
        penalty=None if args.penalty in ("none", "None") else args.penalty,
        C=args.C,
        l1_ratio=args.l1_ratio,
        fit_intercept=not args.no_intercept,
        class_weight=args.class_weight,
        solver=args.solver,
        tol=args.tol,
        max_iter=args.max_iter,
        device=args.device,
        dtype=args.dtype,
        verbose=0 if args.quiet else 1,
    )


def run(args) -> int:
    import numpy as np

    from ..io import DataFileError, read_table
    from ..io._tables import feature_matrix, target_vector

    df = read_table(args.data)
    y = target_vector(df, args.target, args.data)
    features = args.features or [c for c in df.columns if c != args.target]
    if args.target in features:
        raise DataFileError(f"{args.data}: the target {args.target!r} is also a feature")
    if not features:
        raise DataFileError(f"{args.data}: no feature columns besides {args.target!r}")
    X = feature_matrix(df, features, args.data)
    clf = estimator_from_args(args)
    t0 = time.perf_counter()
    clf.fit(X, y)
    elapsed = time.perf_counter() - t0
    clf.verbose = 0  # a saved model should not print when refitted
    accuracy = float(np.mean(np.asarray(clf.predict(X)) == y))
    clf.save(
        args.out,
        metadata={
            "target": str(args.target),
            "training_data": str(args.data),
            "n_samples": len(y),
        },
    )
    h = clf.history_
    state = "converged" if getattr(clf, "converged_", True) else "NOT converged"
    gnorm = f"max|grad| {h['gradient_norm'][-1]:.2e}" if h.get("gradient_norm") else ""
    print(
        f"fitted {len(y)} rows x {len(features)} features, classes {clf.classes_.tolist()}\n"
        f"solver {clf.solver_}: {int(np.max(clf.n_iter_))} iterations, {state} "
        f"({gnorm}, tol {clf.tol:g})\n"
        f"objective {h['objective'][-1]:.10g} (averaged)   time {elapsed:.3f} s   "
        f"training accuracy {accuracy:.4f}\n"
        f"model written to {args.out}"
    )
    return 0


register_command("fit", "fit a model on a CSV / Parquet file and save it", _add_arguments, run)

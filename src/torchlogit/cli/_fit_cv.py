"""``torchlogit fit ... --cv K --Cs N|c1,c2,... [--l1-ratios r1,r2] [--selection min|1se]
[--scoring NAME]``: C (and the elastic-net mixing) chosen by K-fold cross-validation.

The flags map one to one onto :class:`torchlogit.LogisticRegressionCV` (``cv=K``, ``Cs``,
``l1_ratios``, ``selection``, ``scoring``; the other model flags as for ``fit``), which does
the folds, the paths, the choice and the refit on all rows. Files read into memory are split
as ``cv=K`` splits arrays in Python (scikit-learn's stratified K folds, rows in file order);
streamed files (``--chunk-rows``) and every fit under ``torchrun`` by a hash of the row
position (row ``i`` held out in fold ``hash(i) mod K``, :class:`torchlogit.data.HashFolds`).
The table printed is :func:`torchlogit.inspection.format_cv_table`: for each grid point the
mean held-out score ± its standard error over the folds and the folds' mean number of
non-zero coefficients, the min and 1se choices marked.
"""

from __future__ import annotations

import math

#: The flags that only mean something with --cv.
CV_ONLY = ("--Cs", "--l1-ratios", "--selection", "--scoring")
SELECTIONS = ("min", "1se")


def add_cv_arguments(parser) -> None:
    cv = parser.add_argument_group("cross-validation (as in LogisticRegressionCV)")
    cv.add_argument(
        "--cv",
        default=None,
        metavar="K",
        help="choose --C by K-fold cross-validation and refit on all rows there (in memory: "
        "stratified folds in file order; with --chunk-rows or torchrun: folds by a hash of "
        "the row position)",
    )
    cv.add_argument(
        "--Cs",
        default=None,
        metavar="N|C1,C2,...",
        help="the grid of C: a count (log-spaced, 1e-4 to 1e4 for l2; four decades up from "
        "the all-zero C for l1 / elasticnet) or a comma-separated list (default: 10)",
    )
    cv.add_argument(
        "--l1-ratios",
        default=None,
        metavar="R1,R2,...",
        help="with --penalty elasticnet: the l1 ratios to cross-validate, in [0, 1]",
    )
    cv.add_argument(
        "--selection",
        default=None,
        metavar="min|1se",
        help="min: the best mean score; 1se: the smallest C within one standard error of it "
        "(glmnet's lambda.1se) (default: min)",
    )
    cv.add_argument(
        "--scoring",
        default=None,
        metavar="NAME",
        help="held-out score, a scikit-learn scorer name: neg_log_loss, accuracy, roc_auc, "
        "... (default: neg_log_loss)",
    )


def _numbers(flag: str, text: str, what: str) -> list[float]:
    try:
        values = [float(v) for v in str(text).split(",")]
    except ValueError:
        values = []
    if not values:
        raise ValueError(f"{flag} must be {what}; got {text!r}")
    return values


def parse_Cs(text):
    """``--Cs``: an int count (``>= 1``) or a comma list of finite positive numbers."""
    what = "a count (a whole number >= 1) or a comma-separated list of positive numbers"
    text = "10" if text is None else str(text).strip()
    if text.isdigit():
        if int(text) < 1:
            raise ValueError(f"--Cs must be {what}; got {text!r}")
        return int(text)
    values = _numbers("--Cs", text, what)
    if not all(math.isfinite(v) and v > 0 for v in values):
        raise ValueError(f"--Cs must be {what}; got {text!r}")
    return values


def parse_l1_ratios(text) -> list[float]:
    what = "a comma-separated list of numbers in [0, 1]"
    values = _numbers("--l1-ratios", text, what)
    if not all(0 <= v <= 1 for v in values):
        raise ValueError(f"--l1-ratios must be {what}; got {text!r}")
    return values


def parse_folds(text) -> int:
    text = str(text).strip()
    if not text.isdigit() or int(text) < 2:
        raise ValueError(f"--cv must be a whole number of folds, at least 2; got {text!r}")
    return int(text)


def check_cv_arguments(args) -> None:
    """The --cv flags checked before any data is read, each error naming its flag."""
    given = [f for f in CV_ONLY if getattr(args, f.lstrip("-").replace("-", "_")) is not None]
    if args.cv is None:
        if given:
            raise ValueError(f"{given[0]} needs --cv K (cross-validation)")
        return
    parse_folds(args.cv)
    parse_Cs(args.Cs)
    if args.selection is not None and args.selection not in SELECTIONS:
        raise ValueError(f"--selection must be min or 1se; got {args.selection!r}")
    if args.scoring is not None:
        from sklearn.metrics import get_scorer_names

        if args.scoring not in get_scorer_names():
            raise ValueError(
                "--scoring must be a scikit-learn scorer name (neg_log_loss, accuracy, "
                f"roc_auc, balanced_accuracy, ...); got {args.scoring!r}"
            )
    if args.C is not None:
        raise ValueError("--C is what --cv chooses; give the values to try with --Cs")
    if args.penalty == "none":
        raise ValueError("--penalty none has no C to choose; drop --cv or pick another --penalty")
    if args.l1_ratio is not None:
        raise ValueError("with --cv give the l1 ratios to try with --l1-ratios, not --l1-ratio")
    if args.penalty == "elasticnet" and args.l1_ratios is None:
        raise ValueError("--penalty elasticnet with --cv needs --l1-ratios (e.g. 0.2,0.5,0.8)")
    if args.penalty != "elasticnet" and args.l1_ratios is not None:
        raise ValueError(
            f"--l1-ratios is only used with --penalty elasticnet (got --penalty {args.penalty})"
        )
    if args.l1_ratios is not None:
        parse_l1_ratios(args.l1_ratios)
    if args.checkpoint_dir is not None:
        raise ValueError("--checkpoint-dir is not available with --cv")


def cv_estimator_from_args(args, common: dict):
    """The :class:`~torchlogit.LogisticRegressionCV` the flags describe; ``common``: the
    parameters shared with ``LogisticRegression`` (intercept, solver, tolerances, ...)."""
    from .. import LogisticRegressionCV

    return LogisticRegressionCV(
        Cs=parse_Cs(args.Cs),
        l1_ratios=None if args.l1_ratios is None else parse_l1_ratios(args.l1_ratios),
        cv=parse_folds(args.cv),
        scoring=args.scoring or "neg_log_loss",
        selection=args.selection or "min",
        penalty=args.penalty,
        **common,
    )


def folds_description(args, *, distributed: bool = False) -> str:
    """How the estimator splits: stratified folds for rows in memory on one process, a hash
    of the row position for a stream or under torchrun (the same on every rank)."""
    k = parse_folds(args.cv)
    if args.chunk_rows is not None or distributed:
        return f"{k} folds by a hash of the row position"
    return f"{k} stratified folds (rows in file order)"


def print_cv(clf, args, *, distributed: bool = False) -> None:
    """The CV table (unless ``-q``) and the chosen point."""
    import numpy as np

    from ..inspection import format_cv_table

    if not args.quiet:
        folds = folds_description(args, distributed=distributed)
        print(f"\ncross-validation: {folds}, scoring {clf.scoring}, "
              f"{len(clf.Cs_)} value{'s' * (len(clf.Cs_) > 1)} of C")  # fmt: skip
        print(format_cv_table(clf))
    ratio = f", l1-ratio {clf.l1_ratio_:g}" if clf.penalty == "elasticnet" else ""
    nz = int(np.count_nonzero(clf.coef_))
    print(f"chosen (--selection {clf.selection}): C {clf.C_:.6g}{ratio}; refitted on all rows "
          f"({nz} of {clf.coef_.size} coefficients non-zero)")  # fmt: skip


def paths_to_original_scale(clf, means, scales) -> None:
    """``coefs_paths_`` of a fit on standardised columns mapped to the raw columns, as
    ``coef_`` is (:func:`~torchlogit.cli._fit_data.unstandardized`)."""
    import numpy as np

    from ._fit_data import unstandardized

    paths = unstandardized(clf.coefs_paths_, means, scales, clf.fit_intercept)
    clf.coefs_paths_ = paths.astype(np.asarray(clf.coefs_paths_).dtype, copy=False)

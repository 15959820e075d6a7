"""``torchlogit summary MODEL DATA [--cov-type HC0] [--groups COL]``: the statsmodels-like
summary of a fitted model on labelled rows (fit statistics and the coefficient table with
standard errors, z, p-values and confidence intervals); see ``LogisticRegression.summary``."""

from __future__ import annotations

from ._common import add_device_argument
from ._main import register_command

COV_TYPES = ("nonrobust", "HC0", "HC1", "cluster")


def _add_arguments(parser) -> None:
    parser.add_argument("model", metavar="MODEL", help="model file written by 'torchlogit fit'")
    parser.add_argument("data", metavar="DATA", help="labelled rows (.csv or .parquet)")
    parser.add_argument(
        "--target", metavar="COL", help="label column (default: the one the model was fitted on)"
    )
    parser.add_argument(
        "--cov-type",
        choices=COV_TYPES,
        default="nonrobust",
        help="covariance of the estimates: nonrobust (inverse information, the default), HC0 / "
        "HC1 (sandwich), cluster (one-way, needs --groups)",
    )
    parser.add_argument("--groups", metavar="COL", help="cluster column for --cov-type cluster")
    parser.add_argument(
        "--alpha", type=float, default=0.05, help="1 - confidence level of the intervals"
    )
    add_device_argument(parser)


def run(args) -> int:
    from ..io import DataFileError, read_table
    from ._common import labelled_data, load_model

    if (args.cov_type == "cluster") != (args.groups is not None):
        raise ValueError("--cov-type cluster and --groups COL go together")
    if not 0 < args.alpha < 1:
        raise ValueError(f"--alpha must be between 0 and 1; got {args.alpha:g}")
    model, user = load_model(args.model, device=args.device)
    X, y, target = labelled_data(model, user, args)
    groups = None
    if args.groups is not None:
        df = read_table(args.data)
        if args.groups not in df.columns:
            raise DataFileError(f"{args.data}: no column {args.groups!r} (--groups)")
        groups = df[args.groups].to_numpy()
    print(f"{args.model} on {args.data} (target {target!r}, covariance {args.cov_type})")
    print(model.summary(X, y, cov_type=args.cov_type, groups=groups, alpha=args.alpha))
    return 0


register_command(
    "summary", "coefficient table with standard errors, p-values and intervals (statsmodels-like)",
    _add_arguments, run,
)  # fmt: skip

"""``torchlogit predict MODEL DATA --out FILE``: probabilities and labels for each row.

The output has the ``--keep`` columns first, then ``proba_<class>`` for each class and
``label``. A kept column with one of those names is refused (never silently replaced): rename
it in the input, or leave it out of ``--keep``.
"""

from __future__ import annotations

from ._common import add_device_argument, add_output_arguments
from ._main import register_command

TABLE_SUFFIXES = (".csv", ".csv.gz", ".csv.bz2", ".tsv", ".parquet", ".pq")


def _add_arguments(parser) -> None:
    parser.add_argument("model", metavar="MODEL", help="model file written by 'torchlogit fit'")
    parser.add_argument("data", metavar="DATA", help="rows to predict (.csv or .parquet)")
    parser.add_argument(
        "--out", required=True, metavar="FILE", help="output table (.csv, .tsv or .parquet)"
    )
    parser.add_argument(
        "--keep",
        nargs="+",
        default=[],
        metavar="COL",
        help="input columns to copy to the "
        "output (an ID, the true label); not one named label or proba_<class>",
    )
    add_device_argument(parser)
    add_output_arguments(parser, force_help="replace the output file if it exists")


def run(args) -> int:
    import numpy as np
    import pandas as pd

    from ..io import DataFileError, check_output, read_table, write_table
    from ._common import load_model, model_features

    check_output(args.out, inputs=[args.model, args.data], force=args.force,
                 suffixes=TABLE_SUFFIXES, what="prediction table")  # fmt: skip
    model, user = load_model(args.model, device=args.device)
    produced = [f"proba_{c}" for c in model.classes_] + ["label"]
    clash = [c for c in args.keep if str(c) in produced]
    if clash:
        raise DataFileError(
            f"--keep {clash[0]}: the output already has a column {clash[0]!r} (the "
            f"prediction); rename it in {args.data} or leave it out of --keep"
        )
    df = read_table(args.data)
    missing = [c for c in args.keep if c not in df.columns]
    if missing:
        raise DataFileError(f"{args.data}: no column {missing[0]!r} (asked for by --keep)")
    X = model_features(model, df, args.data, target=user.get("target"))
    proba = np.asarray(model.predict_proba(X))
    labels = np.asarray(model.predict(X))
    out = pd.DataFrame({c: df[c].to_numpy() for c in args.keep}, index=df.index)
    for k, c in enumerate(model.classes_):
        out[f"proba_{c}"] = proba[:, k]
    out["label"] = labels
    write_table(out, args.out)
    print(f"{len(out)} predictions written to {args.out}")
    return 0


register_command(
    "predict", "write class probabilities and labels for a data file", _add_arguments, run
)

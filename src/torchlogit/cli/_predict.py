"""``torchlogit predict MODEL DATA --out FILE``: probabilities and labels for each row."""

from __future__ import annotations

from ._common import add_device_argument
from ._main import register_command


def _add_arguments(parser) -> None:
    parser.add_argument("model", metavar="MODEL", help="model file written by 'torchlogit fit'")
    parser.add_argument("data", metavar="DATA", help="rows to predict (.csv or .parquet)")
    parser.add_argument(
        "--out", required=True, metavar="FILE", help="output table (.csv or .parquet)"
    )
    parser.add_argument(
        "--keep", nargs="+", default=[], metavar="COL", help="input columns to copy to the output"
    )
    add_device_argument(parser)


def run(args) -> int:
    import numpy as np
    import pandas as pd

    from ..io import DataFileError, read_table, write_table
    from ._common import load_model, model_features

    model, user = load_model(args.model, device=args.device)
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

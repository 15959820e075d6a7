"""``torchlogit report MODEL DATA --out DIR``: an HTML page with the usual plots."""

from __future__ import annotations

from ._common import add_device_argument
from ._main import register_command


def _add_arguments(parser) -> None:
    parser.add_argument("model", metavar="MODEL", help="model file written by 'torchlogit fit'")
    parser.add_argument("data", metavar="DATA", help="labelled rows (.csv or .parquet)")
    parser.add_argument("--out", required=True, metavar="DIR", help="directory for the report")
    parser.add_argument(
        "--target", metavar="COL", help="label column (default: the one the model was fitted on)"
    )
    add_device_argument(parser)


def run(args) -> int:
    from ..inspection import write_report
    from ._common import labelled_data, load_model

    model, user = load_model(args.model, device=args.device)
    X, y, _ = labelled_data(model, user, args)
    page = write_report(
        model, X, y, args.out, data_name=args.data, title=f"torchlogit report: {args.model}"
    )
    print(f"report written to {page}")
    return 0


register_command(
    "report", "write an HTML report with plots (ROC, calibration, ...)", _add_arguments, run
)

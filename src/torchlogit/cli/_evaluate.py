"""``torchlogit evaluate MODEL DATA``: accuracy, log-loss, ROC AUC and confusion matrix."""

from __future__ import annotations

from ._common import add_device_argument
from ._main import register_command


def _add_arguments(parser) -> None:
    parser.add_argument("model", metavar="MODEL", help="model file written by 'torchlogit fit'")
    parser.add_argument("data", metavar="DATA", help="labelled rows (.csv or .parquet)")
    parser.add_argument(
        "--target", metavar="COL", help="label column (default: the one the model was fitted on)"
    )
    add_device_argument(parser)


def run(args) -> int:
    from ..inspection import classification_metrics, format_metrics
    from ._common import labelled_data, load_model

    model, user = load_model(args.model, device=args.device)
    X, y, target = labelled_data(model, user, args)
    print(f"{args.model} on {args.data} (target {target!r})")
    print(format_metrics(classification_metrics(model, X, y)))
    return 0


register_command(
    "evaluate", "score a model on labelled data (accuracy, log-loss, ROC AUC, confusion)",
    _add_arguments, run,
)  # fmt: skip

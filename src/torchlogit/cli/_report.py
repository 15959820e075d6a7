"""``torchlogit report MODEL DATA --out DIR``: an HTML page with the usual plots.

DATA is the data the scores are computed on; ``--train FILE`` adds the scores on the
training data beside them (in-sample vs held-out). When DATA is the file the model was
trained on, the page says the scores are in-sample.
"""

from __future__ import annotations

from ._common import add_device_argument, add_output_arguments
from ._main import register_command


def _add_arguments(parser) -> None:
    parser.add_argument("model", metavar="MODEL", help="model file written by 'torchlogit fit'")
    parser.add_argument("data", metavar="DATA", help="labelled rows to evaluate on")
    parser.add_argument("--out", required=True, metavar="DIR", help="folder for the report")
    parser.add_argument(
        "--train", metavar="FILE", help="the training data, to show in-sample scores beside DATA's"
    )
    parser.add_argument(
        "--target", metavar="COL", help="label column (default: the one the model was fitted on)"
    )
    add_device_argument(parser)
    add_output_arguments(parser, force_help="replace a report already in DIR")


def _same_file(a, b) -> bool:
    import os

    try:
        return os.path.samefile(a, b)
    except OSError:
        return os.path.abspath(str(a)) == os.path.abspath(str(b))


def run(args) -> int:
    from argparse import Namespace

    from ..inspection import REPORT_FILES, write_report
    from ..io import check_output_dir
    from ._common import labelled_data, load_model

    inputs = [args.model, args.data] + ([args.train] if args.train else [])
    check_output_dir(args.out, inputs=inputs, force=args.force, names=REPORT_FILES)
    model, user = load_model(args.model, device=args.device)
    X, y, target = labelled_data(model, user, args)
    trained_on = user.get("training_data")
    in_sample = bool(trained_on) and _same_file(trained_on, args.data)
    train = None
    if args.train:
        Xt, yt, _ = labelled_data(model, user, Namespace(**{**vars(args), "data": args.train}))
        train = (Xt, yt, args.train)
    page = write_report(
        model,
        X,
        y,
        args.out,
        data_name=args.data,
        title=f"torchlogit report: {args.model}",
        in_sample=in_sample,
        train=train,
        target=target,
        training=user,
    )
    print(f"report written to {page}")
    return 0


register_command(
    "report", "write an HTML report with plots (ROC, calibration, ...)", _add_arguments, run
)

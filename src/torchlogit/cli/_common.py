"""What the file-based commands share: reading a model and the feature columns it needs,
and the options every writing command has (``--force``, ``-q`` / ``-v``)."""

from __future__ import annotations

#: Endings of data tables: a model argument with one of them is a swapped argument.
DATA_SUFFIXES = (".csv", ".csv.gz", ".csv.bz2", ".tsv", ".parquet", ".pq")


def add_device_argument(parser, *, default="where the model was fitted, or the CPU") -> None:
    parser.add_argument(
        "--device",
        default=None,
        help=f"where to compute: cpu, cuda, cuda:N or auto (default: {default})",
    )


def add_output_arguments(parser, *, force_help="replace the output if it exists") -> None:
    """``--force``, ``-q/--quiet`` and ``-v/--verbose`` (a count)."""
    parser.add_argument("--force", action="store_true", help=force_help)
    parser.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        help="no progress lines or tables: the short summary, warnings and errors only",
    )
    parser.add_argument(
        "-v", "--verbose", action="count", default=0, help="print more (repeat for even more)"
    )


def load_model(path, device=None):
    """``(model, user_metadata)`` from a model file written by ``torchlogit fit`` / ``save``.

    A data table given where the model belongs (the arguments swapped) is named as such
    before anything is read.
    """
    from ..io import DataFileError, ModelFileError, load, read_metadata

    hint = "the first argument must be a model file (written by 'torchlogit fit'), the second"
    if str(path).lower().endswith(DATA_SUFFIXES):
        raise DataFileError(f"{path}: is a data table, not a model; {hint} the data")
    try:
        model = load(path, device=device)
    except ModelFileError as exc:
        text = str(exc)
        if "not a torchlogit model" not in text and "header" not in text:
            raise
        raise ModelFileError(f"{text}; {hint} the data") from None
    user = read_metadata(path).get("user") or {}
    return model, user if isinstance(user, dict) else {}


def model_features(model, df, path, *, target=None):
    """The columns of ``df`` that ``model`` takes, checked and converted to float64.

    A model fitted on named columns takes them by name (other columns are ignored); one
    without names takes every column except ``target``, which must be as many as it has
    features.
    """
    from ..io import DataFileError, feature_matrix

    names = getattr(model, "feature_names_in_", None)
    others = [c for c in df.columns if c != target]
    if names is not None:
        missing = [str(n) for n in names if n not in df.columns]
        if missing:
            shown = ", ".join(repr(m) for m in missing[:5]) + (", ..." if len(missing) > 5 else "")
            raise DataFileError(
                f"{path}: the model needs {len(names)} feature columns and {len(missing)} are "
                f"missing ({shown}); the file has {len(others)} columns besides the target"
            )
        return feature_matrix(df, [str(n) for n in names], path)
    if len(others) != model.n_features_in_:
        raise DataFileError(
            f"{path}: has {len(others)} feature columns but the model expects "
            f"{model.n_features_in_}"
        )
    return feature_matrix(df, others, path).to_numpy()


def labels_like(y, classes):
    """Labels read as text, typed as the model's ``classes`` are (a text that is not a label
    of that type stays text, and is reported as an unknown label by the caller)."""
    import numpy as np

    from ..data import cast_labels, label_kind

    if y.dtype.kind not in "OUS":
        return y
    text = np.asarray([str(v) for v in y], dtype=object)
    try:
        return cast_labels(text, label_kind(np.asarray(classes)))
    except ValueError:
        return text


def labelled_data(model, user, args):
    """``(X, y, target)`` for evaluate / report: the target column from ``--target`` or the
    one the model was fitted on."""
    from ..inspection import check_labels
    from ..io import DataFileError, target_vector
    from ._fit_data import read_labels_table, typed_target

    target = args.target or user.get("target")
    if target is None:
        raise DataFileError(
            f"{args.model}: does not record its target column; give it with --target"
        )
    kind = user.get("target_type", "auto")
    df = read_labels_table(args.data, target, kind)
    y = typed_target(target_vector(df, target, args.data), kind, args.data, target)
    if kind in (None, "auto"):
        y = labels_like(y, model.classes_)
    X = model_features(model, df, args.data, target=target)
    try:
        y = check_labels(model, y)
    except ValueError as exc:
        raise DataFileError(f"{args.data}: column {target!r}, {exc}") from None
    return X, y, target

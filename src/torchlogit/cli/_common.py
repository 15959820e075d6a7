"""What the file-based commands share: reading a model and the feature columns it needs."""

from __future__ import annotations


def add_device_argument(parser) -> None:
    parser.add_argument(
        "--device", default=None, help="where to compute: cpu, cuda, cuda:N or auto"
    )


def load_model(path, device=None):
    """``(model, user_metadata)`` from a model file written by ``torchlogit fit`` / ``save``."""
    from ..io import load, read_metadata

    model = load(path, device=device)
    user = read_metadata(path).get("user") or {}
    return model, user if isinstance(user, dict) else {}


def model_features(model, df, path, *, target=None):
    """The columns of ``df`` that ``model`` takes, checked and converted to float64.

    A model fitted on named columns takes them by name (other columns are ignored); one
    without names takes every column except ``target``, which must be as many as it has
    features.
    """
    from ..io import DataFileError
    from ..io._tables import feature_matrix

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


def labelled_data(model, user, args):
    """``(X, y, target)`` for evaluate / report: the target column from ``--target`` or the
    one the model was fitted on."""
    from ..inspection import check_labels
    from ..io import DataFileError, read_table
    from ..io._tables import target_vector

    target = args.target or user.get("target")
    if target is None:
        raise DataFileError(
            f"{args.model}: does not record its target column; give it with --target"
        )
    df = read_table(args.data)
    y = target_vector(df, target, args.data)
    X = model_features(model, df, args.data, target=target)
    try:
        y = check_labels(model, y)
    except ValueError as exc:
        raise DataFileError(f"{args.data}: column {target!r}, {exc}") from None
    return X, y, target

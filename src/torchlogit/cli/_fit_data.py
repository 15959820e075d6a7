"""The training data of ``torchlogit fit``: which columns, the weights, and ``--standardize``.

``--standardize`` is done here, at the command line, not in the estimator: the features are
centred and scaled, ``z_j = (x_j - mu_j) / sigma_j`` (``sigma_j`` the population standard
deviation, 1 for a constant column), the model is fitted on ``z``, and its coefficients are
mapped back to the original columns,

    w_j = w'_j / sigma_j,        b = b' - sum_j w'_j mu_j / sigma_j,

so the saved model takes the raw columns and predicts exactly as the standardised fit. The
penalty acts on ``w'`` (the standardised scale, as glmnet's ``standardize=TRUE``). The means
and scales are stored in the model file's metadata (``standardize``).
"""

from __future__ import annotations

import re

from ._vocabulary import to_cli


def feature_columns(columns, args, path) -> list[str]:
    """The feature columns of a file with ``columns``: ``--features``, or all but the target,
    the ``--weight`` column and the ``--exclude`` ones."""
    from ..io import DataFileError

    columns = [str(c) for c in columns]
    for flag, names in (("--exclude", args.exclude or []), ("--weight", [args.weight] * bool(
            args.weight))):  # fmt: skip
        missing = [c for c in names if c not in columns]
        if missing:
            raise DataFileError(f"{path}: no column {missing[0]!r} (named by {flag})")
    if args.features:
        cols = list(args.features)
    else:
        skip = {args.target, args.weight, *(args.exclude or [])}
        cols = [c for c in columns if c not in skip]
    for role, name in (("target", args.target), ("weight column", args.weight)):
        if name is not None and name in cols:
            raise DataFileError(f"{path}: the {role} {name!r} is also a feature")
    if not cols:
        raise DataFileError(f"{path}: no feature columns besides {args.target!r}")
    return cols


def with_exclude_hint(exc: Exception) -> Exception:
    """A not-a-number error on a column, with the one-line way out: ``--exclude COL``."""
    text = str(exc)
    m = re.search(r"column '([^']+)'.*(is not a number|features must be numbers)", text)
    if not m:
        return exc
    return type(exc)(f"{text} (if {m.group(1)!r} is not a feature, add --exclude {m.group(1)})")


def typed_target(y, target_type: str, path, name):
    """Labels read as text, as ``target_type`` asks: ``str`` as written, ``int`` / ``float``
    parsed (the first value that is not one is named with its row)."""
    import numpy as np

    if target_type in (None, "auto"):
        return y
    text = np.asarray([str(v) for v in y], dtype=object)
    if target_type == "str":
        return text
    parse = int if target_type == "int" else float
    out = np.empty(len(text), dtype=np.int64 if target_type == "int" else np.float64)
    for i, v in enumerate(text):
        try:
            out[i] = parse(v.strip())
        except ValueError:
            from ..io import DataFileError

            raise DataFileError(
                f"{path}: column {name!r}, row {i + 1}: {v!r} is not a{'n' * (parse is int)} "
                f"{target_type} (--target-type {target_type})"
            ) from None
    return out


def read_labels_table(path, target, target_type):
    """The table at ``path`` with the ``target`` column read as text: always from CSV (where
    ``auto`` then decides the labels' type from all their distinct values, as the streaming
    sources do: ``"1"`` and ``"01"`` stay two classes), and from Parquet when a
    ``--target-type`` is given."""
    from ..data import file_format
    from ..io import read_table

    as_text = target_type not in (None, "auto") or file_format(path) != "parquet"
    return read_table(path, text_columns=[target] if as_text else [])


def auto_labels(y):
    """Labels read as text, typed as :func:`torchlogit.data.label_kind` decides from their
    distinct values (numbers only when every value is written canonically)."""
    import numpy as np

    from ..data import cast_labels, label_kind

    if y.dtype.kind not in "OUS":
        return y
    text = np.asarray([str(v) for v in y], dtype=object)
    return cast_labels(text, label_kind(np.unique(text)))


def read_files(paths, args):
    """``(X, y, sample weights or None, feature names)`` from ``paths``, each file checked on
    its own (errors name it)."""
    import numpy as np
    import pandas as pd

    from ..io import DataFileError, feature_matrix, target_vector

    Xs, ys, ws, features = [], [], [], None
    for path in paths:
        df = read_labels_table(path, args.target, args.target_type)
        y = typed_target(target_vector(df, args.target, path), args.target_type, path, args.target)
        cols = feature_columns(df.columns, args, path)
        if features is not None and list(cols) != features:
            raise DataFileError(
                f"{path}: feature columns {list(cols)} differ from {features} in {paths[0]}"
            )
        features = list(cols)
        try:
            Xs.append(feature_matrix(df, features, path))
            if args.weight:
                ws.append(feature_matrix(df, [args.weight], path).to_numpy()[:, 0])
        except DataFileError as exc:
            raise with_exclude_hint(exc) from None
        ys.append(y)
    w = np.concatenate(ws) if ws else None
    if w is not None and (w < 0).any():
        raise DataFileError(f"{args.data}: the weight column {args.weight!r} has negative values")
    y = ys[0] if len(ys) == 1 else np.concatenate(ys)
    if args.target_type in (None, "auto"):
        y = auto_labels(y)
    if len(Xs) == 1:
        return Xs[0], y, w, features
    return pd.concat(Xs, ignore_index=True), y, w, features


def standardize(X):
    """``(Z, means, scales)``: the columns of the DataFrame ``X`` centred and scaled."""
    import numpy as np

    values = X.to_numpy(dtype=np.float64)
    means = values.mean(axis=0)
    scales = values.std(axis=0)
    scales = np.where(scales > 0, scales, 1.0)
    Z = X.copy()
    Z.loc[:, :] = (values - means) / scales
    return Z, means, scales


def unstandardized(coefs, means, scales, fit_intercept: bool):
    """Coefficient blocks ``(..., d [+ 1])`` (intercept last) of a fit on standardised
    columns ``z = (x - mu) / sigma``, for the raw columns: ``w_j / sigma_j`` and
    ``b - sum_j w_j mu_j / sigma_j`` (the same logits); float64."""
    import numpy as np

    out = np.array(coefs, dtype=np.float64)
    d = len(scales)
    out[..., :d] /= scales
    if fit_intercept:
        out[..., d] -= out[..., :d] @ np.asarray(means, dtype=np.float64)
    return out


def to_original_scale(clf, means, scales) -> None:
    """Map the coefficients of a fit on standardised columns back to the raw columns
    (:func:`unstandardized`), set through the estimator's public ``set_coefficients`` in its
    fitted dtype and device."""
    import numpy as np
    import torch

    full = np.asarray(clf.coef_, dtype=np.float64)
    if clf.fit_intercept:
        full = np.concatenate([full, np.asarray(clf.intercept_, dtype=np.float64)[:, None]], 1)
    full = unstandardized(full, means, scales, clf.fit_intercept)
    fitted = clf.coef_tensor_
    clf.set_coefficients(
        torch.as_tensor(full, dtype=fitted.dtype, device=fitted.device), history=clf.history_
    )


def check_fit_arguments(args) -> None:
    """The option combinations the estimator would refuse later, refused now in flags."""
    import math

    def bad(msg):
        raise ValueError(to_cli(msg))

    from ._fit_cv import check_cv_arguments

    check_cv_arguments(args)
    if args.cv is None and args.penalty == "elasticnet" and args.l1_ratio is None:
        bad("--penalty elasticnet needs --l1-ratio (a number in [0, 1])")
    if args.penalty != "elasticnet" and args.l1_ratio is not None:
        bad(f"--l1-ratio is only used with --penalty elasticnet (got --penalty {args.penalty})")
    if args.l1_ratio is not None and not 0 <= args.l1_ratio <= 1:
        bad(f"--l1-ratio must be in [0, 1]; got {args.l1_ratio:g}")
    if args.C is not None and not args.C > 0:
        bad(f"--C must be a positive number; got {args.C:g}")
    if args.tol is not None and not args.tol >= 0:
        bad(f"--tol must be >= 0; got {args.tol:g}")
    if args.max_iter < 0:
        bad(f"--max-iter must be >= 0; got {args.max_iter}")
    if args.timeout is not None and not (math.isfinite(args.timeout) and args.timeout > 0):
        bad(f"--timeout must be a positive number of seconds; got {args.timeout:g}")
    if args.chunk_rows is not None and args.chunk_rows < 1:
        bad(f"--chunk-rows must be at least 1; got {args.chunk_rows}")
    if args.features and args.exclude:
        bad("give either --features or --exclude, not both")
    if args.chunk_rows is not None and (args.standardize or args.weight or args.exclude):
        bad("--standardize, --weight and --exclude work on data read into "
            "memory; drop --chunk-rows (or give --features)")  # fmt: skip

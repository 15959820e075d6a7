"""``torchlogit fit DATA --target COL --out MODEL``: fit a model on CSV / Parquet files.

DATA is a file, a folder or a glob pattern. Under ``torchrun`` each process (rank) reads its
share of the files (:func:`torchlogit.distributed.shard_files`), all ranks fit one model
together, and rank 0 writes it and prints the summary.
"""

from __future__ import annotations

import time

from ._common import add_device_argument
from ._main import register_command


def _add_arguments(parser) -> None:
    parser.add_argument(
        "data",
        metavar="DATA",
        help="training data: a .csv / .parquet file, a folder of them, or a quoted glob "
        "(under torchrun each rank reads its share of the files)",
    )
    parser.add_argument("--target", required=True, metavar="COL", help="the label column")
    parser.add_argument(
        "--features", nargs="+", metavar="COL", help="feature columns (default: all but target)"
    )
    parser.add_argument("--out", required=True, metavar="MODEL", help="model file to write")
    est = parser.add_argument_group("model (as in LogisticRegression)")
    est.add_argument("--penalty", default="l2", help="l2 (default), l1, elasticnet or none")
    est.add_argument("--C", type=float, default=1.0, help="inverse regularisation strength")
    est.add_argument("--l1-ratio", type=float, default=None, help="elastic-net mixing in [0, 1]")
    est.add_argument("--solver", default="auto", help="auto (default), newton, lbfgs, ...")
    est.add_argument("--max-iter", type=int, default=100, help="iteration limit (default 100)")
    est.add_argument("--tol", type=float, default=1e-4, help="stop when max|gradient| <= tol")
    est.add_argument("--class-weight", choices=["balanced"], default=None)
    est.add_argument("--no-intercept", action="store_true", help="fit without an intercept")
    est.add_argument("--dtype", choices=["float32", "float64"], default=None)
    add_device_argument(est)
    parser.add_argument("--quiet", action="store_true", help="no per-iteration progress")
    parser.add_argument(
        "--chunk-rows",
        type=int,
        default=None,
        metavar="N",
        help="stream the files in chunks of N rows instead of loading them (memory bounded "
        "by the chunk; the same model)",
    )
    parser.add_argument(
        "--checkpoint-dir",
        default=None,
        metavar="DIR",
        help="save the solver state there after every iteration; a rerun (or a torchrun "
        "restart) continues from it",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=None,
        help="under torchrun: the longest wait, in seconds, for the other ranks (default 1800)",
    )


def estimator_from_args(args):
    from .. import LogisticRegression

    return LogisticRegression(
        penalty=None if args.penalty in ("none", "None") else args.penalty,
        C=args.C,
        l1_ratio=args.l1_ratio,
        fit_intercept=not args.no_intercept,
        class_weight=args.class_weight,
        solver=args.solver,
        tol=args.tol,
        max_iter=args.max_iter,
        device=args.device,
        dtype=args.dtype,
        verbose=0 if args.quiet else 1,
        checkpoint_dir=getattr(args, "checkpoint_dir", None),
    )


def _read_files(paths, args):
    """``(X, y, feature names)`` from ``paths``, each file checked on its own (errors name it)."""
    import numpy as np
    import pandas as pd

    from ..io import DataFileError, read_table
    from ..io._tables import feature_matrix, target_vector

    Xs, ys, features = [], [], None
    for path in paths:
        df = read_table(path)
        y = target_vector(df, args.target, path)
        cols = args.features or [c for c in df.columns if c != args.target]
        if args.target in cols:
            raise DataFileError(f"{path}: the target {args.target!r} is also a feature")
        if not cols:
            raise DataFileError(f"{path}: no feature columns besides {args.target!r}")
        if features is not None and list(cols) != features:
            raise DataFileError(
                f"{path}: feature columns {list(cols)} differ from {features} in {paths[0]}"
            )
        features = list(cols)
        Xs.append(feature_matrix(df, features, path))
        ys.append(y)
    if len(Xs) == 1:
        return Xs[0], ys[0], features
    return pd.concat(Xs, ignore_index=True), np.concatenate(ys), features


def _source(paths, args):
    """A streaming source over ``paths`` (all Parquet, or all CSV)."""
    from ..data import CSVSource, ParquetSource, file_format
    from ..io import DataFileError

    kinds = {"parquet" if file_format(p) == "parquet" else "csv" for p in paths}
    if len(kinds) > 1:
        raise DataFileError(f"{args.data}: mixes Parquet and CSV files; stream one kind")
    cls = ParquetSource if kinds == {"parquet"} else CSVSource
    return cls(paths, target=args.target, features=args.features, chunk_rows=args.chunk_rows)


def _count_correct(clf, source):
    """``(correctly predicted rows, rows)`` over ``source``, one chunk at a time."""
    import numpy as np
    import torch

    correct = n = 0
    for chunk in source._chunks():  # a tensor: the columns are the model's, by construction
        pred = clf.predict(torch.from_numpy(np.ascontiguousarray(chunk.X)))
        correct += int(np.sum(np.asarray(pred) == chunk.y))
        n += chunk.X.shape[0]
    return float(correct), float(n)


def run(args) -> int:
    from ..distributed import distributed_context

    with distributed_context(timeout=args.timeout, device=args.device) as ctx:
        return _run(args, ctx)


def _run(args, ctx) -> int:
    import numpy as np
    import torch

    from ..distributed import Communicator, expand_paths, shard_files
    from ..io import DataFileError

    paths = expand_paths([args.data])
    if not paths:
        raise DataFileError(f"{args.data}: no such file, and no .csv / .parquet files match")
    if len(paths) < ctx.world_size:
        raise DataFileError(
            f"{args.data}: {len(paths)} file(s) for {ctx.world_size} processes; each needs at "
            "least one file (split the data into more files, or start fewer processes)"
        )
    comm = Communicator() if ctx.active else None
    mine = shard_files(paths, ctx.rank, ctx.world_size)
    clf = estimator_from_args(args)
    if not ctx.is_main:
        clf.set_params(verbose=0)
    t0 = time.perf_counter()
    if args.chunk_rows is not None:
        source = _source(mine, args)
        clf.fit(source)  # validated (every chunk read once) inside fit, on every rank
        features = list(clf.feature_names_in_)
    else:
        if comm is None:
            X, y, features = _read_files(mine, args)
        else:
            with comm.agree(f"reading the training files {args.data}"):
                X, y, features = _read_files(mine, args)
        clf.fit(X, y)
    elapsed = time.perf_counter() - t0
    clf.set_params(verbose=0)  # a saved model should not print when refitted
    if args.chunk_rows is not None:
        correct, n = _count_correct(clf, source)
    else:
        correct, n = float(np.sum(np.asarray(clf.predict(X)) == y)), float(len(y))
    counts = torch.tensor([correct, n])
    if comm is not None:
        counts = comm.all_reduce_sum(counts.double())
    accuracy, n_rows = float(counts[0] / counts[1]), int(counts[1])
    if not ctx.is_main:
        return 0
    clf.save(
        args.out,
        metadata={
            "target": str(args.target),
            "training_data": str(args.data),
            "n_samples": n_rows,
            **({"world_size": ctx.world_size} if ctx.active else {}),
        },
    )
    h = clf.history_
    state = "converged" if getattr(clf, "converged_", True) else "NOT converged"
    gnorm = f"max|grad| {h['gradient_norm'][-1]:.2e}" if h.get("gradient_norm") else ""
    where = f" on {ctx.world_size} processes" if ctx.active else ""
    print(
        f"fitted {n_rows} rows x {len(features)} features{where}, "
        f"classes {clf.classes_.tolist()}\n"
        f"solver {clf.solver_}: {int(np.max(clf.n_iter_))} iterations, {state} "
        f"({gnorm}, tol {clf.tol:g})\n"
        f"objective {h['objective'][-1]:.10g} (averaged)   time {elapsed:.3f} s   "
        f"training accuracy {accuracy:.4f}\n"
        f"model written to {args.out}"
    )
    return 0


register_command("fit", "fit a model on a CSV / Parquet file and save it", _add_arguments, run)

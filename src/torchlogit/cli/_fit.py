"""``torchlogit fit DATA --target COL --out MODEL``: fit a model on CSV / Parquet files.

DATA is a file, a folder or a glob pattern. Under ``torchrun`` each process (rank) reads its
share of the files (:func:`torchlogit.distributed.shard_files`), all ranks fit one model
together, and rank 0 writes it and prints the summary.
"""

from __future__ import annotations

import time

from ._common import add_device_argument, add_output_arguments
from ._fit_cv import add_cv_arguments
from ._main import register_command


def _add_arguments(parser) -> None:
    parser.add_argument(
        "data",
        metavar="DATA",
        help="training data: a .csv / .parquet file, a folder of them, or a quoted glob "
        "(under torchrun each rank reads its share of the files)",
    )
    parser.add_argument("--target", required=True, metavar="COL", help="the label column")
    cols = parser.add_mutually_exclusive_group()
    cols.add_argument(
        "--features",
        nargs="+",
        metavar="COL",
        help="feature columns (default: all but the target, --weight and --exclude columns)",
    )
    cols.add_argument(
        "--exclude", nargs="+", metavar="COL", help="columns that are not features (an ID, a date)"
    )
    parser.add_argument("--weight", metavar="COL", help="column of sample weights (>= 0)")
    parser.add_argument(
        "--target-type",
        choices=["auto", "str", "int", "float"],
        default="auto",
        help="how to read the labels: auto (numbers when they look like numbers), str (as "
        "written: '007' and '7' are two classes), int or float",
    )
    parser.add_argument(
        "--out", required=True, metavar="MODEL", help="model file to write (.safetensors)"
    )
    est = parser.add_argument_group("model (as in LogisticRegression)")
    est.add_argument(
        "--penalty", default="l2", choices=["l2", "l1", "elasticnet", "none"], help="the penalty"
    )
    est.add_argument(
        "--C", type=float, default=None, help="inverse regularisation strength (default: 1.0)"
    )
    est.add_argument("--l1-ratio", type=float, default=None, help="elastic-net mixing in [0, 1]")
    est.add_argument("--solver", default="auto", help="auto, newton, lbfgs, newton-cg, cd, ...")
    est.add_argument("--max-iter", type=int, default=100, help="iteration limit")
    est.add_argument(
        "--tol",
        type=float,
        default=None,
        help="stop when max|gradient| <= tol (default: the solver's, 1e-8 for the Newton "
        "solvers, 1e-4 for the others)",
    )
    est.add_argument("--class-weight", choices=["balanced"], default=None)
    est.add_argument("--no-intercept", action="store_true", help="fit without an intercept")
    est.add_argument(
        "--standardize",
        action="store_true",
        help="fit on centred, unit-variance columns "
        "(the penalty acts on that scale); the model is saved on the original columns",
    )
    est.add_argument(
        "--dtype",
        choices=["float32", "float64"],
        default=None,
        help="float64 unless the data are float32 (default)",
    )
    add_device_argument(est, default="the CPU")
    add_cv_arguments(parser)
    add_output_arguments(parser, force_help="replace the model file if it exists")
    parser.add_argument(
        "--fail-on-no-convergence",
        action="store_true",
        help="exit with status 1, writing nothing, when the solver stops before --tol is reached",
    )
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


def penalty_params(penalty: str, C: float, l1_ratio: float | None) -> dict:
    """``--penalty`` in scikit-learn 1.8+'s words (``penalty`` is deprecated there): ``l2`` is
    ``l1_ratio=0``, ``l1`` is ``l1_ratio=1``, ``elasticnet`` keeps ``--l1-ratio``, ``none`` is
    ``C=inf``."""
    if penalty == "none":
        return {"C": float("inf"), "l1_ratio": 0.0}
    ratio = {"l2": 0.0, "l1": 1.0}.get(penalty, l1_ratio)
    return {"C": C, "l1_ratio": ratio}


def estimator_from_args(args):
    """``LogisticRegression`` from the model flags, or ``LogisticRegressionCV`` with ``--cv``."""
    from .. import LogisticRegression
    from ._fit_cv import cv_estimator_from_args

    common = dict(
        fit_intercept=not args.no_intercept,
        class_weight=args.class_weight,
        solver=args.solver,
        tol=args.tol,
        max_iter=args.max_iter,
        device=args.device,
        dtype=args.dtype,
        verbose=0 if args.quiet else 1 + args.verbose,
    )
    if getattr(args, "cv", None) is not None:
        return cv_estimator_from_args(args, common)
    C = 1.0 if args.C is None else args.C
    return LogisticRegression(
        **penalty_params(args.penalty, C, args.l1_ratio),
        **common,
        checkpoint_dir=getattr(args, "checkpoint_dir", None),
    )


def _source(paths, args):
    """A streaming source over ``paths`` (all Parquet, or all CSV)."""
    from ..data import CSVSource, ParquetSource, file_format
    from ..io import DataFileError

    kinds = {"parquet" if file_format(p) == "parquet" else "csv" for p in paths}
    if len(kinds) > 1:
        raise DataFileError(f"{args.data}: mixes Parquet and CSV files; stream one kind")
    if kinds == {"parquet"}:
        if args.target_type not in (None, "auto"):
            raise DataFileError("--target-type with --chunk-rows applies to CSV files only")
        return ParquetSource(
            paths, target=args.target, features=args.features, chunk_rows=args.chunk_rows
        )
    return CSVSource(
        paths, target=args.target, features=args.features, chunk_rows=args.chunk_rows,
        target_type=args.target_type or "auto",
    )  # fmt: skip


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
    from ..distributed import distributed_context, expand_paths
    from ..io import check_output
    from ._fit_data import check_fit_arguments

    check_fit_arguments(args)
    # The output is checked before any work: not an input, not a folder or a device, the
    # right extension, not an existing file unless --force, in a writable folder.
    check_output(
        args.out,
        inputs=expand_paths([args.data]),
        force=args.force,
        suffixes=(".safetensors",),
        what="model file",
    )
    with distributed_context(timeout=args.timeout, device=args.device) as ctx:
        return _run(args, ctx)


def _run(args, ctx) -> int:
    import numpy as np
    import torch

    from ..distributed import Communicator, expand_paths, shard_files
    from ..io import DataFileError
    from ._fit_cv import folds_description, paths_to_original_scale
    from ._fit_data import read_files, standardize, to_original_scale
    from ._interrupt import checkpoint_iteration, log_above_progress_bars

    paths = expand_paths([args.data])
    if not paths:
        raise DataFileError(f"{args.data}: no such file, and no .csv / .parquet files match")
    if len(paths) < ctx.world_size:
        raise DataFileError(
            f"{args.data}: {len(paths)} file(s) for {ctx.world_size} processes; each needs at "
            "least one file (split the data into more files, or start fewer processes)"
        )
    if args.standardize and ctx.active:
        raise ValueError("--standardize is not available under torchrun yet; standardise the "
                         "files beforehand")  # fmt: skip
    comm = Communicator() if ctx.active else None
    mine = shard_files(paths, ctx.rank, ctx.world_size)
    clf = estimator_from_args(args)
    resumed = checkpoint_iteration(args.checkpoint_dir) if args.checkpoint_dir else None
    if not ctx.is_main:
        clf.set_params(verbose=0)
    elif resumed is not None:
        print(f"resuming from iteration {resumed} in {args.checkpoint_dir}", flush=True)
    t0 = time.perf_counter()
    scaling = None
    with log_above_progress_bars():
        if args.chunk_rows is not None:
            source = _source(mine, args)
            clf.fit(source)  # validated (every chunk read once) inside fit, on every rank
            features = list(clf.feature_names_in_)
        else:
            if comm is None:
                X, y, w, features = read_files(mine, args)
            else:
                with comm.agree(f"reading the training files {args.data}"):
                    X, y, w, features = read_files(mine, args)
            Xfit = X
            if args.standardize:
                Xfit, *scaling = standardize(X)
            clf.fit(Xfit, y, sample_weight=w)
            if scaling is not None:
                to_original_scale(clf, *scaling)
                if args.cv is not None:
                    paths_to_original_scale(clf, *scaling)
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
    converged = bool(getattr(clf, "converged_", True))
    if resumed is not None and converged and int(np.max(clf.n_iter_)) == resumed:
        print(
            f"the checkpoint in {args.checkpoint_dir} is of a fit that already converged at "
            f"iteration {resumed}; no further iterations were run"
        )
    if args.fail_on_no_convergence and not converged:
        raise ValueError(_not_converged(clf))
    metadata = {
        "target": str(args.target),
        "training_data": str(args.data),
        "n_samples": n_rows,
        **({"weight": str(args.weight)} if args.weight else {}),
        **({"target_type": args.target_type} if args.target_type != "auto" else {}),
        **({"world_size": ctx.world_size} if ctx.active else {}),
    }
    if args.cv is not None:
        metadata["cv_folds"] = folds_description(args, distributed=ctx.active)
    if scaling is not None:
        metadata["standardize"] = {
            "features": [str(f) for f in features],
            "means": [float(v) for v in scaling[0]],
            "scales": [float(v) for v in scaling[1]],
        }
    clf.save(args.out, metadata=metadata)
    _print_summary(clf, args, ctx, n_rows=n_rows, n_features=len(features), elapsed=elapsed,
                   accuracy=accuracy)  # fmt: skip
    return 0


def _not_converged(clf) -> str:
    import numpy as np

    h = clf.history_
    gnorm = f" (max|grad| {h['gradient_norm'][-1]:.2e} > --tol {clf.tol_:g})" if h.get(
        "gradient_norm") else ""  # fmt: skip
    return (
        f"the solver did not converge in {int(np.max(clf.n_iter_))} iterations{gnorm}; "
        "nothing written (raise --max-iter, add --standardize, or drop "
        "--fail-on-no-convergence to keep the model anyway)"
    )


def _print_summary(clf, args, ctx, *, n_rows, n_features, elapsed, accuracy) -> None:
    from ..inspection import format_coefficients, iterations_text
    from ._fit_cv import print_cv

    h = clf.history_
    state = "converged" if getattr(clf, "converged_", True) else "NOT converged"
    gnorm = f"max|grad| {h['gradient_norm'][-1]:.2e}" if h.get("gradient_norm") else ""
    where = f" on {ctx.world_size} processes" if ctx.active else ""
    scaled = " (fitted on standardised columns)" if args.standardize else ""
    print(
        f"fitted {n_rows} rows x {n_features} features{where}, "
        f"classes {clf.classes_.tolist()}{scaled}\n"
        f"solver {clf.solver_}: {iterations_text(clf)}, {state} "
        f"({gnorm}, tol {clf.tol_:g})\n"
        f"objective {h['objective'][-1]:.10g} (averaged)   time {elapsed:.3f} s   "
        f"training accuracy {accuracy:.4f}"
    )
    if args.cv is not None:
        print_cv(clf, args, distributed=ctx.active)
    if not args.quiet:
        top = None if args.verbose else 10
        print("\ncoefficients (on the original columns; largest first):")
        print(format_coefficients(clf, top=top))
        if top is not None and n_features > top:
            print(f"(all of them: torchlogit show {args.out})")
    print(f"model written to {args.out}")


register_command("fit", "fit a model on a CSV / Parquet file and save it", _add_arguments, run)

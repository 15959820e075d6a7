"""``torchrun ... -m torchlogit.distributed.run DATA... --target COL --out MODEL``.

A self-contained launcher for data-parallel fits on Parquet files: each rank reads its share
of the files (:func:`shard_files`) with pyarrow, all ranks fit together
(:func:`fit_distributed` through ``LogisticRegression(distributed="auto")``), and rank 0
writes the model (safetensors: ``coef``, ``intercept``; JSON metadata: classes, feature
names, parameters) and a JSON report. Run with plain ``python -m`` it is a one-process fit.

Fault tolerance: with ``--checkpoint-dir``, rank 0 writes the coefficients after every
iteration (atomically: a temporary file renamed over the previous one). When a worker dies,
``torchrun --max-restarts=N`` restarts every worker and the fit continues from the last
checkpoint. Each checkpointed iteration is one warm-started ``fit`` of one iteration; for
Newton (memoryless) the iterates are exactly those of an uninterrupted run, for L-BFGS the
curvature pairs restart at each iteration (same optimum, more iterations).

This module is an entry point (the command-line layer): it is the one place in
``torchlogit.distributed`` that uses the estimator.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np

from ._comm import Communicator
from ._context import distributed_context, shard_files

CHECKPOINT_FILE = "coef.safetensors"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="torchrun --nproc-per-node N -m torchlogit.distributed.run",
        description="Data-parallel logistic regression on Parquet files (one share per rank).",
    )
    p.add_argument("data", nargs="+", help="Parquet files, folders or glob patterns")
    p.add_argument("--target", required=True, help="label column")
    p.add_argument("--weight", default=None, help="sample-weight column (optional)")
    p.add_argument("--features", nargs="+", default=None, help="default: all other columns")
    p.add_argument("--out", required=True, help="model file to write (rank 0)")
    p.add_argument("--report", default=None, help="JSON report (default: OUT.report.json)")
    p.add_argument("--penalty", default="l2", help="l2, l1, elasticnet or none")
    p.add_argument("--C", type=float, default=1.0)
    p.add_argument("--l1-ratio", type=float, default=None)
    p.add_argument("--solver", default="auto")
    p.add_argument("--tol", type=float, default=1e-4)
    p.add_argument("--max-iter", type=int, default=100)
    p.add_argument("--class-weight", choices=["balanced"], default=None)
    p.add_argument("--no-intercept", action="store_true")
    p.add_argument("--dtype", choices=["float32", "float64"], default=None)
    p.add_argument("--device", default=None, help="cpu (gloo) or cuda (NCCL, one GPU per rank)")
    p.add_argument("--checkpoint-dir", default=None, help="resume after a restart from here")
    p.add_argument("--timeout", type=float, default=None, help="collective timeout, seconds")
    return p


def expand_paths(patterns) -> list[str]:
    """Files named by ``patterns`` (files, folders of ``*.parquet``, globs), sorted, unique."""
    found = []
    for pat in patterns:
        if os.path.isdir(pat):
            found += glob.glob(os.path.join(pat, "*.parquet"))
        elif any(ch in pat for ch in "*?["):
            found += glob.glob(pat)
        else:
            found.append(pat)
    return sorted(dict.fromkeys(found))


def read_shard(paths, *, target, weight=None, features=None):
    """``(X DataFrame, y, sample_weight or None)`` from this rank's Parquet files."""
    import pandas as pd
    import pyarrow.parquet as pq

    frames = []
    for path in paths:
        try:
            frames.append(pq.read_table(path).to_pandas())
        except Exception as exc:
            raise ValueError(f"{path}: cannot be read as Parquet ({exc})") from exc
    df = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    for col in [target] + ([weight] if weight else []) + list(features or []):
        if col not in df.columns:
            raise ValueError(f"{', '.join(paths)}: no column {col!r} (columns: {list(df.columns)})")
    if features is None:
        features = [c for c in df.columns if c not in (target, weight)]
    sw = df[weight].to_numpy(dtype=np.float64) if weight else None
    return df[list(features)], df[target].to_numpy(), sw


def _estimator(args, **overrides):
    from .. import LogisticRegression

    params = dict(
        penalty=None if args.penalty.lower() == "none" else args.penalty,
        C=args.C,
        l1_ratio=args.l1_ratio,
        fit_intercept=not args.no_intercept,
        class_weight=args.class_weight,
        solver=args.solver,
        tol=args.tol,
        max_iter=args.max_iter,
        device=args.device,
        dtype=args.dtype,
    )
    params.update(overrides)
    return LogisticRegression(**params)


def _atomic_save(tensors: dict, path: Path, metadata: dict) -> None:
    from safetensors.torch import save_file

    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    save_file(tensors, str(tmp), metadata={"torchlogit": json.dumps(metadata)})
    with open(tmp, "rb") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def _problem_key(args, paths) -> dict:
    """What a checkpoint must match to be resumed: the files and the model's parameters."""
    files = [[p, os.path.getsize(p)] for p in paths]
    params = {k: v for k, v in vars(args).items() if k not in ("out", "report", "max_iter")}
    return json.loads(json.dumps({"files": files, "params": params}, default=str))


def _load_checkpoint(directory, key):
    from safetensors import safe_open

    path = Path(directory) / CHECKPOINT_FILE
    if not path.exists():
        return None
    with safe_open(str(path), framework="pt") as fh:
        doc = json.loads(fh.metadata()["torchlogit"])
        if doc.get("key") != key:
            return None
        return {
            "coef": fh.get_tensor("coef"),
            "n_iter": int(doc["n_iter"]),
            "classes": doc["classes"],
            "history": doc["history"],
        }


def _shared(ctx, make):
    """``make()`` evaluated on rank 0 and handed to every rank."""
    if not ctx.active:
        return make()
    comm = Communicator()
    return comm.all_gather_object(make() if ctx.is_main else None)[0]


def fit_with_checkpoints(args, ctx, X, y, sw, paths, callback=None):
    """One warm-started iteration per ``fit``; rank 0 saves after each; resume on restart."""
    from sklearn.exceptions import ConvergenceWarning

    key = _problem_key(args, paths)
    Path(args.checkpoint_dir).mkdir(parents=True, exist_ok=True)
    state = _shared(ctx, lambda: _load_checkpoint(args.checkpoint_dir, key))
    clf = _estimator(args, max_iter=1, warm_start=True)
    n_iter, history, resumed_from = 0, {}, None
    if state is not None:
        classes = np.asarray(state["classes"], dtype=np.asarray(y).dtype)
        clf._coef, clf.classes_ = state["coef"], classes
        n_iter, history, resumed_from = state["n_iter"], state["history"], state["n_iter"]
        print(f"[rank {ctx.rank}] resuming from iteration {n_iter}", flush=True)
    while True:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            clf.fit(X, y, sample_weight=sw)
        n_iter += int(clf.n_iter_[0])
        done = clf.converged_ or n_iter >= args.max_iter
        # This fit evaluated the start point and, after a step, the next one: keep the start
        # (the next fit re-evaluates the next one), and everything at the end.
        for k, v in clf.history_.items():
            history.setdefault(k, []).extend(v if done else v[:1])
        if ctx.is_main and clf.n_iter_[0]:
            doc = {"key": key, "n_iter": n_iter, "classes": clf.classes_.tolist()}
            doc["history"] = history
            path = Path(args.checkpoint_dir) / CHECKPOINT_FILE
            _atomic_save({"coef": clf._coef.cpu().contiguous()}, path, doc)
        if callback is not None:
            callback(n_iter, clf)
        if done:
            break
    if not clf.converged_:
        warnings.warn(f"not converged after {n_iter} iterations", ConvergenceWarning, stacklevel=2)
    clf.n_iter_ = np.array([n_iter], dtype=np.int32)
    clf.history_ = history
    clf.max_iter = args.max_iter
    clf.warm_start = False
    return clf, resumed_from


def write_model(clf, path, *, target, extra=None) -> None:
    """The model as safetensors (``coef``, ``intercept``) with JSON metadata (no pickle)."""
    import torch

    names = getattr(clf, "feature_names_in_", None)
    meta = {
        "format": "torchlogit.distributed.run/1",
        "classes": np.asarray(clf.classes_).tolist(),
        "feature_names": None if names is None else [str(n) for n in names],
        "target": str(target),
        "params": {k: v for k, v in clf.get_params().items() if k != "distributed"},
        **(extra or {}),
    }
    tensors = {
        "coef": torch.from_numpy(np.ascontiguousarray(clf.coef_)),
        "intercept": torch.from_numpy(np.ascontiguousarray(clf.intercept_)),
    }
    _atomic_save(tensors, Path(path), json.loads(json.dumps(meta, default=str)))


def main(argv=None, *, callback=None) -> int:
    """Parse ``argv`` and run; ``callback(n_iter, estimator)`` after each checkpoint."""
    args = build_parser().parse_args(sys.argv[1:] if argv is None else argv)
    paths = expand_paths(args.data)
    if not paths:
        raise SystemExit(f"no Parquet files match {args.data}")
    with distributed_context(timeout=args.timeout, device=args.device) as ctx:
        if len(paths) < ctx.world_size:
            raise SystemExit(
                f"{len(paths)} file(s) for {ctx.world_size} ranks: each rank needs at least one "
                "file (split the data into more files, or start fewer processes)"
            )
        mine = shard_files(paths, ctx.rank, ctx.world_size)
        X, y, sw = read_shard(mine, target=args.target, weight=args.weight, features=args.features)
        t0 = time.perf_counter()
        resumed_from = None
        if args.checkpoint_dir:
            clf, resumed_from = fit_with_checkpoints(args, ctx, X, y, sw, paths, callback)
        else:
            clf = _estimator(args).fit(X, y, sample_weight=sw)
        elapsed = time.perf_counter() - t0
        if ctx.is_main:
            info = getattr(clf, "distributed_info_", {"world_size": 1, "rows_per_rank": [len(y)]})
            report = {
                "world_size": ctx.world_size,
                "files": paths,
                "rows_per_rank": info["rows_per_rank"],
                "classes": np.asarray(clf.classes_).tolist(),
                "solver": clf.solver_,
                "n_iter": int(clf.n_iter_[0]),
                "converged": bool(clf.converged_),
                "objective": clf.history_["objective"][-1],
                "gradient_norm": clf.history_["gradient_norm"][-1],
                "resumed_from_iteration": resumed_from,
                "fit_seconds": elapsed,
            }
            write_model(clf, args.out, target=args.target, extra={"report": report})
            report_path = args.report or f"{args.out}.report.json"
            Path(report_path).write_text(json.dumps(report, indent=2))
            print(
                f"fitted {sum(report['rows_per_rank'])} rows on {ctx.world_size} rank(s): "
                f"{report['n_iter']} iterations, objective {report['objective']:.10g}; "
                f"model written to {args.out}",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())

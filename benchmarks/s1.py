"""S1: out-of-core logistic regression from Parquet files (see ../shared/BENCHMARKS.md).

Full size: 20,000,000 x 100 float32 (8 GB of values), L2, C=1. Usage::

    PYTHONPATH=src python benchmarks/s1.py --rows 2000000            # reduced scale
    PYTHONPATH=src python benchmarks/s1.py --rows 20000000 --dir /big/tmp   # the full run

Each phase runs in its own process so that its peak RSS is its own:

1. ``write``: the data, generated chunk by chunk (B1's shape: 100 features of which 50
   informative and 25 linear combinations of them, labels from a logistic model, 5% of
   labels flipped) into Parquet files of 1,000,000 rows (row groups of 131,072 rows).
   ``make_classification`` itself cannot be chunked (its class centroids depend on the
   seed), so this is a B1-like generator, not B1's exact distribution.
2. ``fit``: ``LogisticRegression(C=1, tol=1e-8, dtype="float64").fit(ParquetSource(...))``
   (Newton, float64 accumulation over float32 files): peak RSS, the validation pass, rows/s
   of every pass, and the objective after every iteration. The optimum ``f*`` is this fit's
   final objective (``max|grad| <= 1e-8``); the passes needed to reach a relative
   suboptimality of 1e-6 are counted from its history.
3. ``sgd``: scikit-learn ``SGDClassifier(loss="log_loss", alpha=1/(C n))``, one
   ``partial_fit`` pass over the same chunks (the same objective: sklearn's SGD minimises
   ``mean loss + alpha/2 ||w||^2``); time, and its objective evaluated by one more pass.
4. ``sample``: torchlogit in memory on the first ``min(n, 2,000,000)`` rows; time, and its
   objective on all rows.

Prints one JSON document per phase and a Markdown summary at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np

FILE_ROWS = 1_000_000
ROW_GROUP = 131_072
N_FEATURES = 100
GEN_CHUNK = 250_000


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# ---------------------------------------------------------------------- phases
def write(folder: str, rows: int, seed: int = 0) -> dict:
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(seed)
    n_inf, n_red = 50, 25
    w = rng.normal(size=n_inf) * 0.8 / np.sqrt(n_inf) * 4
    mix = rng.normal(size=(n_inf, n_red)) / np.sqrt(n_inf)
    names = [f"x{j}" for j in range(N_FEATURES)] + ["label"]
    t0 = time.perf_counter()
    done, part = 0, 0
    while done < rows:
        n_file = min(FILE_ROWS, rows - done)
        writer = pq.ParquetWriter(
            os.path.join(folder, f"part{part:05d}.parquet"),
            pa.schema([(c, pa.float32()) for c in names[:-1]] + [("label", pa.int8())]),
            write_page_checksum=True,
            compression="NONE",
            use_dictionary=False,  # random floats: dictionary pages only add bytes
        )
        written = 0
        while written < n_file:
            m = min(GEN_CHUNK, n_file - written)
            inf = rng.normal(size=(m, n_inf))
            X = np.empty((m, N_FEATURES), dtype=np.float32)
            X[:, :n_inf] = inf
            X[:, n_inf : n_inf + n_red] = inf @ mix
            X[:, n_inf + n_red :] = rng.normal(size=(m, N_FEATURES - n_inf - n_red))
            y = (rng.random(m) < 1 / (1 + np.exp(-(inf @ w)))).astype(np.int8)
            flip = rng.random(m) < 0.05
            y[flip] = rng.integers(0, 2, flip.sum())
            cols = [pa.array(X[:, j]) for j in range(N_FEATURES)] + [pa.array(y)]
            writer.write_table(pa.table(cols, names=names), row_group_size=ROW_GROUP)
            written += m
        writer.close()
        done += n_file
        part += 1
    size = sum(os.path.getsize(os.path.join(folder, f)) for f in os.listdir(folder))
    return {
        "phase": "write",
        "rows": rows,
        "files": part,
        "bytes": size,
        "seconds": time.perf_counter() - t0,
    }


def fit(folder: str, chunk_rows: int, cache: bool = False) -> dict:
    import torch

    from torchlogit import LogisticRegression
    from torchlogit.data import ParquetSource

    t0 = time.perf_counter()
    cache_dir = folder + "-cache" if cache else None
    src = ParquetSource(folder, target="label", chunk_rows=chunk_rows, cache_dir=cache_dir)
    summary = src.scan()
    t_scan = time.perf_counter() - t0
    clf = LogisticRegression(C=1.0, tol=1e-8, dtype="float64", max_iter=50)
    t1 = time.perf_counter()
    clf.fit(src)
    t_fit = time.perf_counter() - t1
    return {
        "phase": "fit-cache" if cache else "fit",
        "rows": summary.n_rows,
        "validation_seconds": t_scan,
        "validation_rows_per_second": summary.n_rows / t_scan,
        "fit_seconds": t_fit,
        "solver": clf.solver_,
        "n_iter": int(clf.n_iter_[0]),
        "converged": bool(clf.converged_),
        "passes": [
            {"rows": p["rows"], "seconds": p["seconds"], "rows_per_second": p["rows_per_second"]}
            for p in clf.passes_
        ],
        "objective": clf.history_["objective"],
        "gradient_norm": clf.history_["gradient_norm"],
        "coef": clf.coef_.ravel().tolist(),
        "intercept": clf.intercept_.tolist(),
        "peak_rss_mb": _peak_rss_mb(),
        "torch_threads": torch.get_num_threads(),
    }


def _objective_on_files(folder: str, coef: np.ndarray, intercept: np.ndarray) -> float:
    """The averaged objective (C = 1) of a binary model, by one streamed pass in float64."""
    import torch

    from torchlogit.data import ParquetSource
    from torchlogit.objective import ElasticNetPenalty, LinearObjective, make_loss

    data = ParquetSource(folder, target="label").open(dtype=torch.float64)
    pen = ElasticNetPenalty(0.0, 1.0 / data.weight_sum, N_FEATURES)
    obj = LinearObjective(make_loss(2), data, pen, fit_intercept=True, n_features=N_FEATURES)
    full = torch.tensor(np.concatenate([coef.ravel(), intercept.ravel()]), dtype=torch.float64)
    return float(obj.value(full.reshape(1, -1)))


def sgd(folder: str, chunk_rows: int) -> dict:
    from sklearn.linear_model import SGDClassifier

    from torchlogit.data import ParquetSource

    src = ParquetSource(folder, target="label", chunk_rows=chunk_rows)
    n = src.scan().n_rows
    out = {"phase": "sgd", "peak_rss_mb": 0.0}
    for key, alpha in (("matched", 1.0 / n), ("default_alpha", 1e-4)):
        clf = SGDClassifier(loss="log_loss", alpha=alpha, random_state=0)
        t0 = time.perf_counter()
        for chunk in src._chunks():
            clf.partial_fit(chunk.X, chunk.y, classes=np.array([0, 1]))
        seconds = time.perf_counter() - t0
        out[key] = {
            "alpha": alpha,
            "seconds": seconds,
            "rows_per_second": n / seconds,
            "objective": _objective_on_files(folder, clf.coef_, clf.intercept_),
        }
    out["peak_rss_mb"] = _peak_rss_mb()
    return out


def sample(folder: str, rows: int) -> dict:
    import pyarrow.parquet as pq

    from torchlogit import LogisticRegression

    parts, got = [], 0
    for f in sorted(os.listdir(folder)):
        t = pq.read_table(os.path.join(folder, f))
        parts.append(t.slice(0, rows - got))
        got += parts[-1].num_rows
        if got >= rows:
            break
    X = np.column_stack(
        [
            np.concatenate([p.column(c).to_numpy() for p in parts])
            for c in parts[0].column_names[:-1]
        ]
    )
    y = np.concatenate([p.column("label").to_numpy() for p in parts])
    del parts
    t0 = time.perf_counter()
    clf = LogisticRegression(C=1.0, tol=1e-6).fit(X, y)
    seconds = time.perf_counter() - t0
    del X
    return {
        "phase": "sample",
        "rows": int(len(y)),
        "seconds": seconds,
        "objective_on_all_rows": _objective_on_files(folder, clf.coef_, clf.intercept_),
        "peak_rss_mb": _peak_rss_mb(),
    }


# ---------------------------------------------------------------------- driver
def _child(args: list[str]) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, *args], capture_output=True, text=True, check=False
    )
    if out.returncode != 0:
        raise RuntimeError(f"phase {args} failed:\n{out.stderr[-4000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def summarise(w: dict, f: dict, fc: dict | None, s: dict, m: dict) -> str:
    obj = np.array(f["objective"])
    f_star = obj[-1]
    rel = (obj - f_star) / abs(f_star)
    # Newton with look-ahead: iteration k's objective is known after pass k + 1
    hit = next((k for k, r in enumerate(rel) if r <= 1e-6), None)
    passes_to = None if hit is None else hit + 1
    rates = [p["rows_per_second"] for p in f["passes"]]
    lines = [
        f"## S1 at {f['rows']:,} rows x {N_FEATURES} float32 "
        f"({w['bytes'] / 1e9:.2f} GB of Parquet, {w['files']} files)",
        "",
        f"- fit: solver {f['solver']}, {f['n_iter']} iterations, {len(f['passes'])} passes "
        f"(+1 validation pass, {f['validation_rows_per_second']:,.0f} rows/s), "
        f"{f['fit_seconds']:.1f} s, converged={f['converged']}, peak RSS "
        f"{f['peak_rss_mb']:.0f} MB",
        f"- passes to relative suboptimality 1e-6: {passes_to} (target <= 12)",
        "- rows/s per pass: " + ", ".join(f"{r:,.0f}" for r in rates),
        "- relative suboptimality per iteration: " + ", ".join(f"{r:.1e}" for r in rel[:-1]),
    ]
    for key, what in (
        ("matched", "alpha = 1/(C n), the same objective"),
        ("default_alpha", "alpha = 1e-4 (its default)"),
    ):
        r = s[key]
        lines.append(
            f"- scikit-learn SGDClassifier(log_loss).partial_fit, one pass, {what}: "
            f"{r['seconds']:.1f} s ({r['rows_per_second']:,.0f} rows/s), relative "
            f"suboptimality {(r['objective'] - f_star) / abs(f_star):.2e}"
        )
    if fc is not None:
        rates_c = [p["rows_per_second"] for p in fc["passes"]]
        lines.append(
            f"- with cache_dir (decoded float64 chunks as .npy): {fc['fit_seconds']:.1f} s, "
            f"peak RSS {fc['peak_rss_mb']:.0f} MB, rows/s per pass: "
            + ", ".join(f"{r:,.0f}" for r in rates_c)
        )
    lines += [
        f"- torchlogit in memory on {m['rows']:,} rows: {m['seconds']:.1f} s, relative "
        f"suboptimality on all rows {(m['objective_on_all_rows'] - f_star) / abs(f_star):.2e}"
        f" (peak RSS {m['peak_rss_mb']:.0f} MB)",
    ]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=20_000_000)
    ap.add_argument("--dir", default=None, help="where to write the data (default: a temp dir)")
    ap.add_argument("--chunk-rows", type=int, default=131_072)
    ap.add_argument("--sample-rows", type=int, default=2_000_000)
    ap.add_argument("--keep", action="store_true", help="keep the data afterwards")
    ap.add_argument("--cache", action="store_true", help="also fit with a chunk cache")
    ap.add_argument(
        "--phase", choices=["write", "fit", "fit-cache", "sgd", "sample"], help=argparse.SUPPRESS
    )
    a = ap.parse_args()
    if a.phase:
        fn = {
            "write": lambda: write(a.dir, a.rows),
            "fit": lambda: fit(a.dir, a.chunk_rows),
            "fit-cache": lambda: fit(a.dir, a.chunk_rows, cache=True),
            "sgd": lambda: sgd(a.dir, a.chunk_rows),
            "sample": lambda: sample(a.dir, a.sample_rows),
        }[a.phase]
        print(json.dumps(fn()))
        return
    folder = a.dir or tempfile.mkdtemp(prefix="torchlogit-s1-")
    os.makedirs(folder, exist_ok=True)
    try:
        common = ["--dir", folder, "--rows", str(a.rows), "--chunk-rows", str(a.chunk_rows)]
        results = {}
        phases = ("write", "fit", "fit-cache", "sgd", "sample")
        for phase in phases if a.cache else [p for p in phases if p != "fit-cache"]:
            r = _child([*common, "--sample-rows", str(a.sample_rows), "--phase", phase])
            print(json.dumps({k: v for k, v in r.items() if k != "coef"}), flush=True)
            results[phase] = r
        print()
        print(
            summarise(
                results["write"],
                results["fit"],
                results.get("fit-cache"),
                results["sgd"],
                results["sample"],
            )
        )
    finally:
        if not a.keep and a.dir is None:
            shutil.rmtree(folder, ignore_errors=True)
            shutil.rmtree(folder + "-cache", ignore_errors=True)


if __name__ == "__main__":
    main()

"""S1: out-of-core logistic regression from Parquet files (see ../shared/BENCHMARKS.md).

Full size: 20,000,000 x 100 float32 (8 GB of values), L2, C=1. Usage::

    PYTHONPATH=src python benchmarks/s1.py --rows 2000000            # reduced scale
    PYTHONPATH=src python benchmarks/s1.py --rows 20000000 --dir /big/tmp   # the full run
    PYTHONPATH=src python benchmarks/s1.py --dir /big/tmp --phases fit      # data written before

Each phase runs in its own process so that its peak RSS is its own:

1. ``write``: the data, generated chunk by chunk (B1's shape: 100 features of which 50
   informative and 25 linear combinations of them, labels from a logistic model, 5% of
   labels flipped) into Parquet files of 1,000,000 rows (row groups of 131,072 rows).
   ``make_classification`` itself cannot be chunked (its class centroids depend on the
   seed), so this is a B1-like generator, not B1's exact distribution.
2. ``fit``: ``LogisticRegression(C=1).fit(ParquetSource(folder, target="label"))`` with a
   user's settings: the compute dtype follows the files (float32), ``tol`` the solver's
   default, chunks the source's default size (``--dtype``, ``--tol``, ``--chunk-rows`` change
   them). Reported: peak RSS, the validation pass, the rate of a pass that only reads (plain
   pyarrow, and the pipeline's decode-only pass: decode, labels, tensors, no compute; min of
   two), the rate of every training pass and its ratio to the decode-only rate, and the
   objective of every iterate re-evaluated in float64 by one more pass (pyarrow and torch
   alone: not the library's objective). ``f*`` is the float64 objective of the last iterate;
   the passes needed to reach a relative suboptimality of 1e-6 are counted from those values
   (Newton with look-ahead: iterate ``k`` is known to be good after pass ``k + 1``).
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


def fit(
    folder: str, chunk_rows: int | None, cache: bool = False, dtype=None, tol=None, C: float = 1.0
) -> dict:
    import torch

    from s1_passes import decode_pass, iterates_in_float64, pyarrow_pass  # beside this file
    from torchlogit import LogisticRegression
    from torchlogit.data import ParquetSource

    t0 = time.perf_counter()
    cache_dir = folder + "-cache" if cache else None
    src = ParquetSource(folder, target="label", chunk_rows=chunk_rows, cache_dir=cache_dir)
    summary = src.scan()
    t_scan = time.perf_counter() - t0
    clf = LogisticRegression(C=C, tol=tol, dtype=dtype, max_iter=50)
    compute = torch.float32 if (dtype or str(summary.dtype)) == "float32" else torch.float64
    t_arrow = min(pyarrow_pass(folder) for _ in range(2))
    data = src.open(dtype=compute)
    t_decode = min(decode_pass(data) for _ in range(2))
    iterates = [np.zeros(N_FEATURES + 1)]

    def keep(it, coef, history):
        iterates.append(coef.detach().cpu().double().numpy().ravel().copy())
        return False

    clf.set_params(solver_options={"callback": keep})
    t1 = time.perf_counter()
    clf.fit(src)
    t_fit = time.perf_counter() - t1
    objective64, grad64, f_star = iterates_in_float64(folder, np.array(iterates), C, N_FEATURES)
    n = summary.n_rows
    decode_rate = n / t_decode
    return {
        "phase": "fit-cache" if cache else "fit",
        "rows": n,
        "dtype": str(compute).replace("torch.", ""),
        "tol": clf.tol_,
        "chunk_rows": src.chunk_rows,
        "validation_seconds": t_scan,
        "validation_rows_per_second": n / t_scan,
        "pyarrow_rows_per_second": n / t_arrow,
        "decode_only_rows_per_second": decode_rate,
        "fit_seconds": t_fit,
        "solver": clf.solver_,
        "n_iter": int(clf.n_iter_[0]),
        "converged": bool(clf.converged_),
        "passes": [
            {
                "rows": p["rows"],
                "seconds": p["seconds"],
                "rows_per_second": p["rows_per_second"],
                "of_decode_only": p["rows_per_second"] / decode_rate,
            }
            for p in clf.passes_
        ],
        "objective": clf.history_["objective"],
        "objective_float64": objective64,
        "gradient_norm": clf.history_["gradient_norm"],
        "final_gradient_norm_float64": grad64,
        "f_star_float64": f_star,
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


def _folder_info(folder: str) -> dict:
    """The ``write`` phase's summary of data written earlier (``--phases`` without it)."""
    files = [f for f in os.listdir(folder) if f.endswith(".parquet")]
    size = sum(os.path.getsize(os.path.join(folder, f)) for f in files)
    return {"phase": "write", "files": len(files), "bytes": size}


def _fit_lines(f: dict) -> tuple[list[str], float]:
    obj = np.array(f["objective_float64"])
    f_star = min(f["f_star_float64"], obj.min())
    rel = (obj - f_star) / abs(f_star)
    # Newton with look-ahead: iterate k's objective is known after pass k + 1
    hit = next((k for k, r in enumerate(rel) if r <= 1e-6), None)
    passes_to = None if hit is None else hit + 1
    passes = f["passes"]
    total = f["validation_seconds"] + f["fit_seconds"]
    lines = [
        f"- fit ({f['dtype']}, tol={f['tol']:g}, {f['chunk_rows']:,}-row chunks): solver "
        f"{f['solver']}, {f['n_iter']} iterations, {len(passes)} passes, {f['fit_seconds']:.1f} s"
        f" (+ validation pass {f['validation_seconds']:.1f} s = {total:.1f} s), "
        f"converged={f['converged']}, peak RSS {f['peak_rss_mb']:.0f} MB",
        f"- passes to relative suboptimality 1e-6 (float64 objective of each iterate): "
        f"{passes_to} (target <= 5); the last iterate's float64 max|grad| "
        f"{f['final_gradient_norm_float64']:.1e}",
        f"- rows/s: plain pyarrow read {f['pyarrow_rows_per_second']:,.0f}, decode-only pass "
        f"{f['decode_only_rows_per_second']:,.0f}, validation pass "
        f"{f['validation_rows_per_second']:,.0f}",
        "- training passes, rows/s (share of the decode-only rate): "
        + ", ".join(f"{p['rows_per_second']:,.0f} ({p['of_decode_only']:.0%})" for p in passes),
        "- relative suboptimality per iterate (f* by a float64 Newton step from the last): "
        + ", ".join(f"{r:.1e}" for r in rel),
    ]
    return lines, f_star


def summarise(w: dict, f: dict, fc: dict | None, s: dict | None, m: dict | None) -> str:
    fit_lines, f_star = _fit_lines(f)
    lines = [
        f"## S1 at {f['rows']:,} rows x {N_FEATURES} float32 "
        f"({w['bytes'] / 1e9:.2f} GB of Parquet, {w['files']} files)",
        "",
        *fit_lines,
    ]
    for key, what in (
        ("matched", "alpha = 1/(C n), the same objective"),
        ("default_alpha", "alpha = 1e-4 (its default)"),
    ):
        if s is None:
            break
        r = s[key]
        lines.append(
            f"- scikit-learn SGDClassifier(log_loss).partial_fit, one pass, {what}: "
            f"{r['seconds']:.1f} s ({r['rows_per_second']:,.0f} rows/s), relative "
            f"suboptimality {(r['objective'] - f_star) / abs(f_star):.2e}"
        )
    if fc is not None:
        rates_c = [p["rows_per_second"] for p in fc["passes"]]
        lines.append(
            f"- with cache_dir (decoded {fc['dtype']} chunks as .npy): {fc['fit_seconds']:.1f} s"
            f", peak RSS {fc['peak_rss_mb']:.0f} MB, rows/s per pass: "
            + ", ".join(f"{r:,.0f}" for r in rates_c)
        )
    if m is not None:
        lines.append(
            f"- torchlogit in memory on {m['rows']:,} rows: {m['seconds']:.1f} s, relative "
            f"suboptimality on all rows {(m['objective_on_all_rows'] - f_star) / abs(f_star):.2e}"
            f" (peak RSS {m['peak_rss_mb']:.0f} MB)"
        )
    return "\n".join(lines)


PHASES = ("write", "fit", "fit-cache", "sgd", "sample")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=20_000_000)
    ap.add_argument("--dir", default=None, help="where to write the data (default: a temp dir)")
    ap.add_argument("--chunk-rows", type=int, default=None, help="default: the source's")
    ap.add_argument("--dtype", choices=["float32", "float64"], default=None)
    ap.add_argument("--tol", type=float, default=None, help="default: the solver's")
    ap.add_argument("--sample-rows", type=int, default=2_000_000)
    ap.add_argument("--keep", action="store_true", help="keep the data afterwards")
    ap.add_argument("--cache", action="store_true", help="also fit with a chunk cache")
    ap.add_argument(
        "--phases",
        default="write,fit,sgd,sample",
        help="comma-separated, of " + ", ".join(PHASES) + " (fit needs data in --dir)",
    )
    ap.add_argument("--phase", choices=PHASES, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.phase:
        fn = {
            "write": lambda: write(a.dir, a.rows),
            "fit": lambda: fit(a.dir, a.chunk_rows, dtype=a.dtype, tol=a.tol),
            "fit-cache": lambda: fit(a.dir, a.chunk_rows, cache=True, dtype=a.dtype, tol=a.tol),
            "sgd": lambda: sgd(a.dir, a.chunk_rows),
            "sample": lambda: sample(a.dir, a.sample_rows),
        }[a.phase]
        print(json.dumps(fn()))
        return
    phases = [p for p in a.phases.split(",") if p]
    if a.cache and "fit-cache" not in phases:
        phases.insert(phases.index("fit") + 1 if "fit" in phases else len(phases), "fit-cache")
    if "fit" not in phases or any(p not in PHASES for p in phases):
        ap.error(f"--phases: a comma-separated list of {PHASES} that includes fit")
    folder = a.dir or tempfile.mkdtemp(prefix="torchlogit-s1-")
    os.makedirs(folder, exist_ok=True)
    try:
        common = ["--dir", folder, "--rows", str(a.rows), "--sample-rows", str(a.sample_rows)]
        for flag, value in (("--chunk-rows", a.chunk_rows), ("--dtype", a.dtype), ("--tol", a.tol)):
            if value is not None:
                common += [flag, str(value)]
        results = {}
        for phase in phases:
            r = _child([*common, "--phase", phase])
            print(json.dumps({k: v for k, v in r.items() if k != "coef"}), flush=True)
            results[phase] = r
        print()
        print(
            summarise(
                results.get("write") or _folder_info(folder),
                results["fit"],
                results.get("fit-cache"),
                results.get("sgd"),
                results.get("sample"),
            )
        )
    finally:
        if not a.keep and a.dir is None:
            shutil.rmtree(folder, ignore_errors=True)
            shutil.rmtree(folder + "-cache", ignore_errors=True)


if __name__ == "__main__":
    main()

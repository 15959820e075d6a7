"""I2: standard errors of a streamed fit -- S1's Parquet files, no penalty (BENCHMARKS.md).

Budget (issue #16): the HC0 table costs at most one pass over the files beyond the fit, and
the peak RSS stays below 2 GB. Write the data first with S1's writer, then run this::

    PYTHONPATH=src python benchmarks/s1.py --phase write --rows 2000000 --dir /work/data/i2-2m
    PYTHONPATH=src python benchmarks/inference_stream.py --dir /work/data/i2-2m

In one process (its peak RSS is the fit's and the tables'): ``LogisticRegression(C=np.inf,
tol=1e-8, dtype="float64")`` on a ``ParquetSource`` of the files (Newton, float64 sums over
the float32 files), then ``inference(source)`` -- one pass: the information and the HC0 meat
at the fitted coefficients -- and from it the nonrobust and HC0 tables. Every read of the
files is counted (a subclass of ``ParquetSource`` counts its ``_chunks`` calls): the
validation pass, the solver's passes (``passes_``), the fit's separability check, the
inference pass.

S1's columns ``x50 .. x74`` are linear combinations of ``x0 .. x49`` (B1's redundant
features): with them the information matrix is singular and no standard error exists (the
table refuses and names the collinear sets; ``--all-columns`` shows it). By default the
model is fitted on the other 75 columns.

Prints one JSON document.
"""

from __future__ import annotations

import argparse
import json
import resource
import time

import numpy as np

from torchlogit import LogisticRegression
from torchlogit.data import ParquetSource

N_FEATURES = 100
REDUNDANT = range(50, 75)  # S1's linear combinations of the informative columns


class CountingParquetSource(ParquetSource):
    """A :class:`ParquetSource` that counts its reads of the files (one per ``_chunks``)."""

    reads = 0

    def _chunks(self):
        CountingParquetSource.reads += 1
        yield from super()._chunks()


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run(folder: str, chunk_rows: int, all_columns: bool) -> dict:
    features = [f"x{j}" for j in range(N_FEATURES) if all_columns or j not in REDUNDANT]
    src = CountingParquetSource(folder, target="label", features=features, chunk_rows=chunk_rows)
    clf = LogisticRegression(C=np.inf, tol=1e-8, dtype="float64", max_iter=50)
    t0 = time.perf_counter()
    clf.fit(src)
    t_fit = time.perf_counter() - t0
    fit_reads, rss_fit = CountingParquetSource.reads, _peak_rss_mb()
    out = {
        "benchmark": "I2",
        "rows": int(clf.n_rows_),
        "features": len(features),
        "fit_seconds": t_fit,
        "n_iter": int(clf.n_iter_[0]),
        "converged": bool(clf.converged_),
        "solver_passes": len(clf.passes_),
        "fit_reads": fit_reads,  # validation + solver passes + separability check
        "fit_peak_rss_mb": rss_fit,
    }
    t1 = time.perf_counter()
    try:
        result = clf.inference(src)
        nonrobust, hc0 = result.coef_table(), result.coef_table("HC0")
    except np.linalg.LinAlgError as exc:
        out["table_error"] = str(exc)
        return out
    out.update(
        table_seconds=time.perf_counter() - t1,
        table_reads=CountingParquetSource.reads - fit_reads,
        peak_rss_mb=_peak_rss_mb(),
        max_std_err_ratio_hc0_over_nonrobust=float((hc0["std_err"] / nonrobust["std_err"]).max()),
        std_err_nonrobust_head=nonrobust["std_err"].head(4).round(8).to_dict(),
        std_err_hc0_head=hc0["std_err"].head(4).round(8).to_dict(),
    )
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dir", required=True, help="S1's Parquet files (benchmarks/s1.py write)")
    ap.add_argument("--chunk-rows", type=int, default=131_072)
    ap.add_argument(
        "--all-columns", action="store_true", help="keep S1's 25 collinear columns (no table)"
    )
    a = ap.parse_args(argv)
    print(json.dumps(run(a.dir, a.chunk_rows, a.all_columns), indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Memory stays bounded by the chunk size, not by the data (peak RSS of a subprocess)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

SRC = str(Path(__file__).resolve().parents[1] / "src")

N_ROWS, N_FEATURES = 400_000, 64  # 100 MB as float32 on disk, 200 MB as float64 in memory

_CHILD = """
import json, resource, sys
sys.path.insert(0, {src!r})
import numpy as np, torch
torch.set_num_threads(1)
from torchlogit import LogisticRegression
from torchlogit.data import ArraySource, ParquetSource

def peak_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

# warm up every code path on tiny data so that the baseline includes the libraries
rng = np.random.default_rng(0)
X = rng.normal(size=(300, 4)); y = (X[:, 0] > 0).astype(int)
LogisticRegression().fit(ArraySource(X, y, chunk_rows=100))
import pyarrow.parquet as pq
pq.read_table({first!r}).slice(0, 10)
base = peak_mb()
clf = LogisticRegression(dtype="float64", tol=1e-6).fit(
    ParquetSource({folder!r}, target="label", chunk_rows={chunk_rows})
)
print(json.dumps({{"base": base, "peak": peak_mb(), "passes": len(clf.passes_),
                  "rows": clf.n_rows_, "converged": bool(clf.converged_)}}))
"""


def test_peak_memory_bounded_by_chunks(tmp_path):
    rng = np.random.default_rng(0)
    folder = tmp_path / "big"
    folder.mkdir()
    w = rng.normal(size=N_FEATURES).astype(np.float32)
    per_file = N_ROWS // 4
    for i in range(4):  # written file by file: the test process never holds the data either
        X = rng.normal(size=(per_file, N_FEATURES)).astype(np.float32)
        y = (X @ w + rng.logistic(size=per_file) > 0).astype(np.int8)
        cols = [pa.array(X[:, j]) for j in range(N_FEATURES)] + [pa.array(y)]
        names = [f"x{j}" for j in range(N_FEATURES)] + ["label"]
        pq.write_table(pa.table(cols, names=names), folder / f"p{i}.parquet", row_group_size=20_000)
        del X, y, cols
    data_mb = N_ROWS * N_FEATURES * 8 / 2**20  # what the float64 fit would hold in memory
    code = _CHILD.format(
        src=SRC, first=str(folder / "p0.parquet"), folder=str(folder), chunk_rows=2048
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["rows"] == N_ROWS and out["converged"]
    growth = out["peak"] - out["base"]
    # Measured: 33 MB growth with 2048-row chunks, 62 MB with 8192 (the prefetch queue, the
    # float64 copies, pyarrow's row-group buffers): it follows the chunk size, not the data.
    assert growth < 0.3 * data_mb, (growth, data_mb, out)

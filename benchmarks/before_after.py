"""Two versions of torchlogit on the same data, in one run: did a change make fits slower?

    python -m benchmarks.before_after --before /path/to/old/src --after src B1 B2 B3 B4 B5

Each problem is generated once and written to a temporary folder; then, for ``--rounds``
rounds, one subprocess per version (alternating, so drift in the machine's load hits both
alike) loads the data and times ``LogisticRegression(...).fit`` at the problem's penalty and
``--tol`` (wall time from the user's arrays to a fitted model, as the harness measures).
Each version is imported from its own ``src`` folder through ``PYTHONPATH``. Reported per
problem: the median time of each version, after/before, iterations and passes of each, and
scikit-learn's objective of each fit (computed here, independently of torchlogit) with their
relative difference (the same optimum to the target accuracy).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from .objective import sklearn_objective
from .problems import PROBLEMS

_WORKER = r"""
import json, sys, time
import numpy as np, scipy.sparse as sp
folder, pid, C, penalty, l1_ratio, tol = sys.argv[1:7]
X = sp.load_npz(folder + "/X.npz") if sys.argv[7] == "sparse" else np.load(folder + "/X.npy")
y = np.load(folder + "/y.npy")
from torchlogit import LogisticRegression
import torchlogit
t0 = time.perf_counter()
kw = {} if tol == "default" else {"tol": float(tol)}
clf = LogisticRegression(
    penalty, C=float(C), l1_ratio=None if l1_ratio == "-" else float(l1_ratio),
    max_iter=1000, **kw
).fit(X, y)
seconds = time.perf_counter() - t0
np.save(folder + "/coef.npy", np.asarray(clf.coef_, dtype=np.float64))
np.save(folder + "/intercept.npy", np.asarray(clf.intercept_, dtype=np.float64))
print(json.dumps({"seconds": seconds, "iters": int(clf.n_iter_[0]),
                  "passes": getattr(clf, "n_passes_", None), "solver": clf.solver_,
                  "where": torchlogit.__file__}))
"""


def _run(src: str, folder: str, problem, tol) -> dict:
    env = dict(os.environ, PYTHONPATH=str(Path(src).resolve()))
    args = [
        sys.executable,
        "-c",
        _WORKER,
        folder,
        problem.id,
        repr(problem.C),
        problem.penalty,
        "-" if problem.penalty != "elasticnet" else repr(problem.l1_ratio),
        str(tol),
        "sparse" if problem.sparse else "dense",
    ]
    out = subprocess.run(args, env=env, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"{src}: {out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.before_after")
    p.add_argument("problems", nargs="+", choices=sorted(PROBLEMS))
    p.add_argument("--before", required=True, help="src folder of the old version")
    p.add_argument("--after", required=True, help="src folder of the new version")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument(
        "--tol", default="1e-4", help="a number, or 'default' (each version's own default)"
    )
    p.add_argument("--n-scale", type=float, default=1.0)
    args = p.parse_args(argv)
    rows = []
    for pid in args.problems:
        problem = PROBLEMS[pid]
        X, y = problem.generate(args.n_scale)
        _, y_index = np.unique(y, return_inverse=True)
        with tempfile.TemporaryDirectory(
            dir="/dev/shm" if os.path.isdir("/dev/shm") else None
        ) as d:
            if sp.issparse(X):
                sp.save_npz(d + "/X.npz", sp.csr_matrix(X), compressed=False)
            else:
                np.save(d + "/X.npy", X)
            np.save(d + "/y.npy", y)
            runs = {"before": [], "after": []}
            objective = {}
            for _ in range(args.rounds):
                for name in ("before", "after"):
                    r = _run(getattr(args, name), d, problem, args.tol)
                    runs[name].append(r)
                    coef, b = np.load(d + "/coef.npy"), np.load(d + "/intercept.npy")
                    objective[name] = sklearn_objective(
                        X, y_index, coef, b, C=problem.C, l1_ratio=problem.l1_fraction
                    )
            row = {"problem": pid}
            for name in ("before", "after"):
                row[name] = statistics.median(r["seconds"] for r in runs[name])
                row[name + "_iters"] = runs[name][-1]["iters"]
                row[name + "_passes"] = runs[name][-1]["passes"]
                row[name + "_solver"] = runs[name][-1]["solver"]
            row["ratio"] = row["after"] / row["before"]
            row["objective_rel_diff"] = (objective["after"] - objective["before"]) / abs(
                objective["before"]
            )
            rows.append(row)
            print(json.dumps(row), flush=True)
        del X, y
    print()
    print(
        "| problem | before (s) | after (s) | after/before | iters b/a | passes b/a | F rel. diff |"
    )
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['problem']} | {r['before']:.2f} ({r['before_solver']}) | {r['after']:.2f} "
            f"({r['after_solver']}) | {r['ratio']:.2f} | {r['before_iters']}/{r['after_iters']} "
            f"| {r['before_passes']}/{r['after_passes']} | {r['objective_rel_diff']:.1e} |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Time per iteration and bytes per all-reduce of data-parallel fits at 1, 2, 3 processes.

Every rank generates its share of one fixed problem (rows split evenly), then all ranks fit
it together with gloo on CPU, one thread per process. Reported per solver: iterations,
passes over the data, wall time per pass, bytes each rank contributes per all-reduce, and
the time of a bare all-reduce of that payload (the communication part of a pass).

    PYTHONPATH=src python benchmarks/distributed_scaling.py --rows 200000 --features 100
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import tempfile
import time

import numpy as np
import torch


def _shard(rank, world, n, d, seed=0):
    """Rows ``[rank n / world, (rank + 1) n / world)`` of one fixed problem."""
    bounds = np.linspace(0, n, world + 1).astype(int)
    rng = np.random.default_rng(seed)
    w = rng.standard_normal(d) / np.sqrt(d)
    block = 10_000
    Xs, ys = [], []
    for start in range(bounds[rank] - bounds[rank] % block, bounds[rank + 1], block):
        r = np.random.default_rng([seed, start])
        Xb = r.standard_normal((block, d))
        yb = (Xb @ w + r.logistic(size=block) > 0).astype(np.int64)
        lo, hi = max(bounds[rank] - start, 0), min(bounds[rank + 1] - start, block)
        if lo < hi:
            Xs.append(Xb[lo:hi])
            ys.append(yb[lo:hi])
    return np.concatenate(Xs), np.concatenate(ys)


def _worker(rank, world, port, n, d, out):
    import torch.distributed as dist

    from torchlogit import LogisticRegression
    from torchlogit.distributed import Communicator

    torch.set_num_threads(1)
    os.environ["GLOO_SOCKET_IFNAME"] = "lo"
    dist.init_process_group(
        "gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world
    )
    X, y = _shard(rank, world, n, d)
    rows = {}
    for solver in ("lbfgs", "newton"):
        clf = LogisticRegression(solver=solver, tol=1e-8, max_iter=200)
        dist.barrier()
        t0 = time.perf_counter()
        clf.fit(X, y)
        elapsed = time.perf_counter() - t0
        info = clf.distributed_info_
        sizes = info["payload_counts"]
        per = max(sizes)  # the per-iteration payload: gradient (1 + p) or Hessian (+ p^2)
        # A bare all-reduce of the largest payload this solver sends (its communication cost).
        payload = torch.zeros(per // 8, dtype=torch.float64)
        comm = Communicator()
        comm.all_reduce_sum(payload)
        t1 = time.perf_counter()
        for _ in range(20):
            comm.all_reduce_sum(payload)
        t_comm = (time.perf_counter() - t1) / 20
        rows[solver] = {
            "n_iter": int(clf.n_iter_[0]),
            "passes": int(clf.n_passes_),
            "fit_s": elapsed,
            "s_per_pass": elapsed / clf.n_passes_,
            "bytes_per_reduction": per,
            "payload_counts": sizes,
            "allreduce_s": t_comm,
            "coef_head": clf.coef_[0, :3].tolist(),
        }
    if rank == 0:
        with open(out, "w") as fh:
            json.dump(rows, fh)
    dist.destroy_process_group()


def main():
    import torch.multiprocessing as mp

    p = argparse.ArgumentParser()
    p.add_argument("--rows", type=int, default=200_000)
    p.add_argument("--features", type=int, default=100)
    p.add_argument("--world-sizes", type=int, nargs="+", default=[1, 2, 3])
    args = p.parse_args()
    print(f"{args.rows} rows x {args.features} features, float64, gloo, 1 thread per process")
    print(
        f"{'procs':>5} {'solver':>7} {'iters':>5} {'passes':>6} {'s/pass':>8} "
        f"{'max payload B':>13} {'allreduce ms':>12} {'fit s':>7}  all-reduces (bytes: count)"
    )
    for world in args.world_sizes:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        with tempfile.TemporaryDirectory() as tmp:
            out = os.path.join(tmp, "r.json")
            mp.spawn(_worker, args=(world, port, args.rows, args.features, out), nprocs=world)
            with open(out) as fh:
                rows = json.load(fh)
        for solver, r in rows.items():
            print(
                f"{world:>5} {solver:>7} {r['n_iter']:>5} {r['passes']:>6} "
                f"{r['s_per_pass']:>8.4f} {r['bytes_per_reduction']:>13d} "
                f"{r['allreduce_s'] * 1e3:>12.3f} {r['fit_s']:>7.2f}  {r['payload_counts']}"
            )


if __name__ == "__main__":
    main()

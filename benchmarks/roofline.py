"""R1, the roofline probe: how close each product of the objective runs to a read of X.

``python -m benchmarks roofline [--n-scale 1] [--repeats 5] [--markdown]``;
``python -m benchmarks roofline --fits --n-scale 0.2``: B1's fit in the three precisions.

For dense ``X`` of ``1,000,000 x 100`` (float64 and float32) and B4's CSR it times, on the
current device, each design-matrix product the objective uses, through the library's public
functions in :mod:`torchlogit.data` (whichever the imported code has, so the same probe gives
the "before" table against older code: ``PYTHONPATH=<old src> python -m benchmarks roofline``):

- ``X·d``  ``linear_predict(X, w)`` (``w`` of shape ``(1, d)``);
- ``Xᵀg``  ``transpose_matmul(X, g)`` (``g`` of shape ``(n, 1)``);
- ``fused`` ``X·d`` then ``Xᵀ s(X·d)`` in one read of X (``fused_gradient``, when present);
- ``Gram`` ``weighted_gram(X, c)`` (the Newton Hessian block ``Xᵀ diag(c) X``);
- ``diag`` ``weighted_square_sums(X, c)`` (the Hessian's diagonal) and ``row_square_norms``;
- for float32 X, the first two and the Gram again with float64 operands (float64
  coefficients over float32 data), when the imported code has them.

Each product's rate is ``bytes of X / best time`` (the best of ``--repeats``), shown against
the bandwidth of a plain streaming read of the same array: the best of ``np.sum``, torch's
``sum`` and a BLAS dot with ones (a CSR's read covers its values, indices and row pointers).
The Gram also gets GFLOP/s (``2 n d^2`` flops). Raw torch and NumPy products over the same
memory are printed for reference. Timings are wall-clock minima: on a shared machine they
vary; compare rows of one run.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import time
from pathlib import Path

import numpy as np
import torch

import torchlogit.data as tld

TARGET = 0.70  # every dense product at >= 70 % of the streaming-read bandwidth (R1)


_DEVICE = torch.device("cpu")  # set by main(--device): where the arrays live


def _sync() -> None:
    if _DEVICE.type == "cuda":
        torch.cuda.synchronize(_DEVICE)


def _best(fn, repeats: int) -> float:
    fn()  # warm-up: first-touch, thread pools, lazily built structures, kernel caches
    times = []
    for _ in range(repeats):
        _sync()
        t = time.perf_counter()
        fn()
        _sync()
        times.append(time.perf_counter() - t)
    return min(times)


def _read_time(arrays: list, repeats: int) -> tuple[float, str]:
    """Best time of a plain streaming read of ``arrays`` (several ways; the fastest counts).
    On an accelerator: torch's ``sum`` and a dot with ones, on the device."""
    if _DEVICE.type != "cpu":
        ones = [torch.ones(a.numel(), dtype=a.dtype, device=a.device) for a in arrays]
        ways = {"torch.sum": lambda: [a.sum() for a in arrays]}
        if all(a.is_floating_point() for a in arrays):  # no integer dot (a CSR's indices)
            ways["dot with ones"] = lambda: [
                a.reshape(-1) @ o for a, o in zip(arrays, ones, strict=True)
            ]
        times = {name: _best(fn, repeats) for name, fn in ways.items()}
        name = min(times, key=times.get)
        return times[name], name
    tensors = [torch.from_numpy(a) for a in arrays]
    ones = [np.ones(a.size, a.dtype) for a in arrays]
    ways = {
        "np.sum": lambda: [a.sum() for a in arrays],
        "torch.sum": lambda: [t.sum() for t in tensors],
        "BLAS dot": lambda: [a.reshape(-1) @ o for a, o in zip(arrays, ones, strict=True)],
    }
    times = {name: _best(fn, repeats) for name, fn in ways.items()}
    name = min(times, key=times.get)
    return times[name], name


def _dense_rows(n: int, d: int, dtype, repeats: int) -> list[dict]:
    on_cpu = _DEVICE.type == "cpu"
    if on_cpu:
        rng = np.random.default_rng(0)
        X = rng.standard_normal((n, d)).astype(dtype)
        Xt = torch.from_numpy(X)
        w = torch.from_numpy(rng.standard_normal((1, d)).astype(dtype))
        g = torch.from_numpy(rng.standard_normal((n, 1)).astype(dtype))
        c = torch.from_numpy(rng.uniform(0.01, 0.25, n).astype(dtype))
    else:  # generated on the device (no host copy of a multi-GB array)
        tdt = torch.float64 if dtype == np.float64 else torch.float32
        gen = torch.Generator(device=_DEVICE).manual_seed(0)
        Xt = torch.randn(n, d, dtype=tdt, device=_DEVICE, generator=gen)
        w = torch.randn(1, d, dtype=tdt, device=_DEVICE, generator=gen)
        g = torch.randn(n, 1, dtype=tdt, device=_DEVICE, generator=gen)
        c = torch.rand(n, dtype=tdt, device=_DEVICE, generator=gen) * 0.24 + 0.01
        X = None
    nbytes = Xt.numel() * Xt.element_size()
    read_t, read_how = _read_time([X if on_cpu else Xt], repeats)
    label = f"dense {n:,} x {d} {np.dtype(dtype).name}" + ("" if on_cpu else f" {_DEVICE.type}")
    rows = [dict(case=label, product=f"stream read ({read_how})", t=read_t, bytes=nbytes)]

    def add(product, fn, flops=None, ref=False):
        try:
            t = _best(fn, repeats)
        except (RuntimeError, TypeError):  # older code: no mixed precision products
            print(f"[roofline] {label}: {product} not supported by this code, skipped")
            return
        rows.append(dict(case=label, product=product, t=t, bytes=nbytes, flops=flops, ref=ref))

    add("X·d  linear_predict", lambda: tld.linear_predict(Xt, w))
    add("Xᵀg  transpose_matmul", lambda: tld.transpose_matmul(Xt, g))
    fused = getattr(tld, "fused_gradient", None)
    if fused is not None:
        add("X·d + Xᵀs(X·d) fused_gradient", lambda: fused(Xt, w, lambda rows, z: torch.sigmoid(z)))
    add("Gram weighted_gram", lambda: tld.weighted_gram(Xt, c), flops=2.0 * n * d * d)
    add("diag weighted_square_sums", lambda: tld.weighted_square_sums(Xt, c.unsqueeze(1)))
    add("row_square_norms", lambda: tld.row_square_norms(Xt))
    if Xt.dtype == torch.float32:  # float32 data, float64 coefficients (mixed precision)
        w64, g64, c64 = w.double(), g.double(), c.double()
        add("X·d  linear_predict, float64 d", lambda: tld.linear_predict(Xt, w64))
        add("Xᵀg  transpose_matmul, float64 g", lambda: tld.transpose_matmul(Xt, g64))
        add("Gram weighted_gram, float64 c", lambda: tld.weighted_gram(Xt, c64),
            flops=2.0 * n * d * d)  # fmt: skip
    # reference: the plain products over the same memory
    wv, gv = w[0], g[:, 0]
    add("ref torch X@w (mv)", lambda: Xt @ wv, ref=True)
    add("ref torch X@W.T (mm)", lambda: Xt @ w.T, ref=True)
    add("ref torch g@X", lambda: gv @ Xt, ref=True)
    if on_cpu:
        Xn, wn, gn = X, w.numpy()[0], g.numpy()[:, 0]
        add("ref numpy X@w", lambda: Xn @ wn, ref=True)
        add("ref numpy g@X", lambda: gn @ Xn, ref=True)
    add("ref torch Xs.T@Xs (Gram)", lambda: _torch_gram(Xt, c), flops=2.0 * n * d * d, ref=True)
    return rows


def _torch_gram(Xt, c):
    Xs = Xt * c.sqrt().unsqueeze(1)
    return Xs.T @ Xs


def _sparse_rows(n_scale: float, dtype, repeats: int) -> list[dict]:
    from .problems import make_b4

    A, _ = make_b4(max(1000, int(100_000 * n_scale)))
    A = A.astype(dtype)
    A.indices = A.indices.astype(np.int32)
    A.indptr = A.indptr.astype(np.int32)
    n, d = A.shape
    parts = [torch.from_numpy(a).to(_DEVICE) for a in (A.indptr, A.indices, A.data)]
    X = tld.SparseDesign(*parts, (n, d))
    rng = np.random.default_rng(0)
    w = torch.from_numpy(rng.standard_normal((1, d)).astype(dtype)).to(_DEVICE)
    g = torch.from_numpy(rng.standard_normal((n, 1)).astype(dtype)).to(_DEVICE)
    c = torch.from_numpy(rng.uniform(0.01, 0.25, n).astype(dtype)).to(_DEVICE)
    nbytes = A.data.nbytes + A.indices.nbytes + A.indptr.nbytes
    on_cpu = _DEVICE.type == "cpu"
    read_t, read_how = _read_time([A.data, A.indices, A.indptr] if on_cpu else parts, repeats)
    label = f"CSR B4 {n:,} x {d:,} nnz {A.nnz:,} {np.dtype(dtype).name}"
    label += "" if on_cpu else f" {_DEVICE.type}"
    rows = [dict(case=label, product=f"stream read ({read_how})", t=read_t, bytes=nbytes)]
    products = [
        ("X·d  linear_predict", lambda: tld.linear_predict(X, w)),
        ("Xᵀg  transpose_matmul", lambda: tld.transpose_matmul(X, g)),
        ("diag weighted_square_sums", lambda: tld.weighted_square_sums(X, c.unsqueeze(1))),
    ]
    if on_cpu:
        products += [
            ("ref scipy X@w", lambda: A @ w.numpy()[0]),
            ("ref scipy g@X", lambda: g.numpy()[:, 0] @ A),
        ]
    for product, fn in products:
        rows.append(dict(case=label, product=product, t=_best(fn, repeats), bytes=nbytes,
                         ref=product.startswith("ref")))  # fmt: skip
    return rows


def measure(
    n_scale: float = 1.0, repeats: int = 5, *, sparse_scale: float | None = None, log=print
) -> list[dict]:
    """All rows of the probe: dense float64, float32, then B4's CSR (``sparse_scale`` times
    its 100,000 rows; ``n_scale`` by default) in both dtypes."""
    n = max(1000, int(1_000_000 * n_scale))
    rows: list[dict] = []
    for dtype in (np.float64, np.float32):
        rows += _dense_rows(n, 100, dtype, repeats)
        log(f"[roofline] dense {np.dtype(dtype).name} done", flush=True)
    for dtype in (np.float64, np.float32):
        rows += _sparse_rows(n_scale if sparse_scale is None else sparse_scale, dtype, repeats)
        log(f"[roofline] CSR {np.dtype(dtype).name} done", flush=True)
    read = {}
    for r in rows:
        if r["product"].startswith("stream read"):
            read[r["case"]] = r["bytes"] / r["t"]
        r["gbs"] = r["bytes"] / r["t"] / 1e9
        r["of_read"] = r["bytes"] / r["t"] / read[r["case"]]
    return rows


HEADER = ["case", "product", "ms", "GB/s", "of read", "GFLOP/s", f"≥ {TARGET:.0%}"]


def _cells(r: dict) -> list[str]:
    is_read = r["product"].startswith("stream read")
    ok = "" if is_read or r.get("ref") else ("yes" if r["of_read"] >= TARGET else "no")
    flops = r.get("flops")
    return [
        r["case"],
        r["product"],
        f"{r['t'] * 1e3:.1f}",
        f"{r['gbs']:.1f}",
        f"{r['of_read']:.0%}",
        f"{flops / r['t'] / 1e9:.1f}" if flops else "",
        ok,
    ]


def text_table(rows: list[dict]) -> str:
    body = [_cells(r) for r in rows]
    widths = [max(len(x[i]) for x in [HEADER] + body) for i in range(len(HEADER))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(x, widths, strict=True)) for x in [HEADER, *body]]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def markdown_section(rows: list[dict], *, command: str, key: str) -> str:
    from .report import machine_description

    date = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"<!-- {key} start -->",
        f"## R1: roofline probe ({key})",
        "",
        f"- date: {date}; library: `{Path(tld.__file__).parent.parent}`",
        f"- machine: {machine_description()}"
        + (f"; device {torch.cuda.get_device_name(_DEVICE)}" if _DEVICE.type == "cuda" else ""),
        f"- command: `{command}`",
        "- rate = bytes of X / best time; `of read` = that rate / the streaming read's; `ref` rows"
        " are the plain torch / NumPy / SciPy products over the same memory",
        "",
        "| " + " | ".join(HEADER) + " |",
        "|" + "---|" * len(HEADER),
    ]
    lines += ["| " + " | ".join(_cells(r)) + " |" for r in rows]
    lines.append(f"<!-- {key} end -->")
    return "\n".join(lines) + "\n"


def precision_fits(n_scale: float = 0.2, repeats: int = 3, *, log=print) -> list[dict]:
    """B1's Newton fit (tol 1e-6) on float64 X, on float32 X with float64 coefficients (the
    mixed precision products) and on float32 throughout, through the public objective and
    solver (no estimator: the engine picks the coefficients' dtype). Best wall time of
    ``repeats``, interleaved; relative suboptimality against a float64 fit at tol 1e-10."""
    from torchlogit.objective import ElasticNetPenalty, LinearObjective, make_loss
    from torchlogit.solvers import NewtonSolver

    from .problems import make_b1

    X, y = make_b1(max(1000, int(1_000_000 * n_scale)))
    n, d = X.shape
    yt = torch.from_numpy(y.astype(np.int64))

    def objective(Xn):
        Xt = torch.from_numpy(Xn)
        data = tld.InMemoryData(Xt, yt, torch.ones(n, dtype=Xt.dtype), weight_sum=float(n))
        return LinearObjective(make_loss(2), data, ElasticNetPenalty(0.0, 1.0 / n, d),
                               fit_intercept=True, n_features=d)  # fmt: skip

    X64, X32 = X.astype(np.float64), X.astype(np.float32)
    cases = {
        "float64": (X64, torch.float64),
        "float32 X, float64 coef": (X32, torch.float64),
        "float32": (X32, torch.float32),
    }
    exact = objective(X64)
    zeros = torch.zeros(exact.coef_shape, dtype=torch.float64)
    f_star = float(exact.value(NewtonSolver(tol=1e-10).solve(exact, zeros).coef))
    rows = {k: dict(case=k, t=float("inf")) for k in cases}
    for _ in range(repeats):
        for name, (Xn, dtype) in cases.items():
            obj = objective(Xn)
            try:
                t = time.perf_counter()
                res = NewtonSolver(tol=1e-6).solve(obj, torch.zeros(obj.coef_shape, dtype=dtype))
                t = time.perf_counter() - t
            except RuntimeError as exc:  # older code: no mixed precision products
                rows[name].update(note=str(exc)[:60])
                continue
            f = float(exact.value(res.coef.to(torch.float64)))
            rows[name].update(t=min(rows[name]["t"], t), iters=res.n_iter,
                              passes=res.n_passes, subopt=(f - f_star) / abs(f_star))  # fmt: skip
    t64 = rows["float64"]["t"]
    for r in rows.values():
        log(f"[B1 n-scale {n_scale:g}] {r['case']:24s} best {r['t']:.3f} s  x{t64 / r['t']:.2f} "
            f"vs float64  iters {r.get('iters')}  passes {r.get('passes')}  rel subopt "
            f"{r.get('subopt', float('nan')):.1e} {r.get('note', '')}", flush=True)  # fmt: skip
    return list(rows.values())


def main(argv, *, command: str, results: Path) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks roofline", description=__doc__)
    p.add_argument("--n-scale", type=float, default=1.0, help="fraction of the rows")
    p.add_argument("--repeats", type=int, default=5, help="timed repeats per product (best)")
    p.add_argument("--markdown", action="store_true", help=f"update {results}")
    p.add_argument("--key", default="R1", help="section name in the results file")
    p.add_argument("--results", type=Path, default=results)
    p.add_argument("--sparse-scale", type=float, default=None, help="B4's rows (default n-scale)")
    p.add_argument("--device", default="cpu", help="where the arrays live (cuda: on the GPU)")
    p.add_argument(
        "--fits",
        action="store_true",
        help="instead: time B1's Newton fit in float64, float32 X + float64 coefficients, float32",
    )
    args = p.parse_args(argv)
    global _DEVICE
    _DEVICE = torch.device(args.device)
    if args.fits:
        precision_fits(args.n_scale, args.repeats)
        return 0
    rows = measure(args.n_scale, args.repeats, sparse_scale=args.sparse_scale)
    print(text_table(rows), flush=True)
    if args.markdown:
        from .report import update_results

        section = markdown_section(rows, command=command, key=args.key)
        update_results(args.results, args.key, section)
        print(f"[roofline] wrote {args.results}")
    return 0

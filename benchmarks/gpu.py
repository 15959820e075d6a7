"""G1: logistic regression on a GPU, against the memory's physical limit and the CPU.

One command (under 5 minutes on an H100 / H200)::

    PYTHONPATH=src python -m benchmarks.gpu            # 20,000,000 x 128 float32 on cuda
    PYTHONPATH=src python -m benchmarks.gpu --device cpu --n 100000   # the logic, on a CPU

What it measures (``BENCHMARKS.md``, G1):

1. G1 generated on the device: ``X ~ N(0, 1)`` of shape ``(n, d)`` in float32, labels
   ``y ~ Bernoulli(sigmoid(X w + b))`` for a random ``w`` (seeded). L2, ``C = 1``.
2. The achieved memory bandwidth of the two products of a gradient pass, ``X d`` and
   ``G^T X`` (bytes of X read / time, median of repeats, synchronised), against the card's
   HBM bandwidth (H100 SXM 3.35 TB/s, H200 4.8 TB/s; ``--hbm-tbs`` to give another).
3. Time to solution: ``LogisticRegression(device=...).fit(X, y)`` from device tensors (the
   whole ``fit``, validation included, and the solver alone), at the tolerance ladder's first
   tolerance that reaches a relative suboptimality of 1e-6. The optimum comes from a float64
   fit on the device at a tight tolerance (a float32 one when float64 does not fit); the
   objective of every fit is evaluated in float64.
4. scikit-learn on this machine's CPU cores: ``lbfgs`` and ``newton-cholesky`` on a row
   subsample (``--sklearn-rows``), timed to 1e-6 of the subsample's own optimum, and that time
   scaled by ``n / rows`` (their cost per iteration is linear in ``n``).
5. scikit-learn's array-API ``lbfgs`` on the device tensors (a subsample), where it runs.

Results are printed, written as JSON (``--json``) and, with ``--markdown``, as the G1 section
of ``benchmarks/RESULTS.md``.
"""

from __future__ import annotations

import os

# scikit-learn's array-API dispatch needs SciPy's, switched on before SciPy is imported.
os.environ.setdefault("SCIPY_ARRAY_API", "1")

import argparse  # noqa: E402
import datetime as _dt
import json  # noqa: E402
import math  # noqa: E402
import platform  # noqa: E402
import shlex
import sys
import time
import traceback
from pathlib import Path

import numpy as np
import torch

HBM_TBS = {"H100": 3.35, "H200": 4.8, "A100": 2.0, "H800": 3.35, "GH200": 4.0}


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _timed(fn, device, repeats: int = 1):
    """``(median seconds, last result)`` of ``fn()`` with device synchronisation."""
    times, out = [], None
    for _ in range(repeats):
        _sync(device)
        t0 = time.perf_counter()
        out = fn()
        _sync(device)
        times.append(time.perf_counter() - t0)
    return float(np.median(times)), out


def make_g1(n: int, d: int, device: torch.device, *, seed: int = 0, chunk: int = 2_000_000):
    """``(X float32 (n, d), y int64 (n,))`` generated on ``device`` in row chunks."""
    gen = torch.Generator(device=device).manual_seed(seed)
    w = torch.randn(d, device=device, generator=gen) * (2.0 / math.sqrt(d))
    b = 0.3
    X = torch.empty(n, d, dtype=torch.float32, device=device)
    y = torch.empty(n, dtype=torch.int64, device=device)
    for start in range(0, n, chunk):
        stop = min(start + chunk, n)
        Xc = X[start:stop]
        Xc.normal_(generator=gen)
        p = torch.sigmoid(Xc @ w + b)
        y[start:stop] = (torch.rand(stop - start, device=device, generator=gen) < p).long()
    return X, y


def averaged_objective64(X, y, coef, intercept, *, C: float, chunk: int = 1_000_000) -> float:
    """scikit-learn's objective divided by ``C n``, in float64, by row chunks of ``X``."""
    w = torch.as_tensor(np.asarray(coef, dtype=np.float64).reshape(-1), device=X.device)
    b = float(np.asarray(intercept).reshape(-1)[0])
    n = X.shape[0]
    total = torch.zeros((), dtype=torch.float64, device=X.device)
    for start in range(0, n, chunk):
        z = X[start : start + chunk].double() @ w + b
        yc = y[start : start + chunk].double()
        total += (torch.nn.functional.softplus(z) - yc * z).sum()
    return float(total) / n + 0.5 * float((w * w).sum()) / (C * n)


def bandwidth(X, y, device, repeats: int = 5) -> dict:
    """Achieved bandwidth of ``X d`` and ``G^T X`` (the two reads of X in a gradient pass)."""
    from torchlogit.data import InMemoryData
    from torchlogit.objective import ElasticNetPenalty, LinearObjective, make_loss

    n, d = X.shape
    sw = torch.ones(n, dtype=X.dtype, device=device)
    obj = LinearObjective(
        make_loss(2),
        InMemoryData(X, y, sw),
        ElasticNetPenalty(0.0, 1.0 / n, d),
        fit_intercept=True,
        n_features=d,
    )
    coef = torch.full((1, d + 1), 0.01, dtype=X.dtype, device=device)
    direction = torch.full_like(coef, -0.001)
    point = obj.point(coef)  # warm-up (kernels, cuBLAS handles)
    t_xd, line = _timed(lambda: obj.line(point, direction), device, repeats)
    line.value(1.0)
    t_gtx, _ = _timed(lambda: obj._point_from_raw(coef, line._raws(1.0)), device, repeats)
    t_grad, _ = _timed(lambda: obj.value_gradient(coef), device, repeats)
    nbytes = X.numel() * X.element_size()
    return {
        "bytes_of_X": nbytes,
        "X_d_s": t_xd,
        "GtX_with_loss_s": t_gtx,
        "value_gradient_s": t_grad,
        "X_d_TBs": nbytes / t_xd / 1e12,
        "GtX_TBs": nbytes / t_gtx / 1e12,
        "value_gradient_TBs": 2 * nbytes / t_grad / 1e12,
    }


def hbm_peak_tbs(device: torch.device, override: float | None) -> tuple[float | None, str]:
    if override:
        return override, "given"
    if device.type != "cuda":
        return None, "cpu"
    name = torch.cuda.get_device_name(device)
    for key in sorted(HBM_TBS, key=len, reverse=True):
        if key in name:
            return HBM_TBS[key], name
    return None, name


def torchlogit_fits(X, y, device, *, C, tols, best, log) -> list[dict]:
    from torchlogit import LogisticRegression

    out = []
    for tol in tols:
        clf = LogisticRegression(C=C, tol=tol, device=device, max_iter=200)
        t, _ = _timed(lambda clf=clf: clf.fit(X, y), device)
        f = averaged_objective64(X, y, clf.coef_, clf.intercept_, C=C)
        row = {
            "solver": f"torchlogit ({clf.solver_}, {str(X.dtype).replace('torch.', '')})",
            "tol": tol,
            "fit_s": t,
            "solve_s": clf.history_["time"][-1] if clf.history_["time"] else math.nan,
            "iters": int(clf.n_iter_[0]),
            "passes": int(getattr(clf, "n_passes_", 0) or 0),
            "objective": f,
            "subopt": (f - best) / abs(best),
        }
        log(row)
        out.append(row)
        if row["subopt"] <= 1e-6:
            break
    return out


def reference(X, y, device, *, C, log) -> tuple[float, str]:
    """Best objective: a float64 fit on the device when it fits in memory, else float32."""
    from torchlogit import LogisticRegression

    try:
        X64 = X.double()
        clf = LogisticRegression(C=C, tol=1e-10, device=device, max_iter=100).fit(X64, y)
        del X64
        how = "float64 Newton, tol 1e-10, on the device"
    except torch.OutOfMemoryError:
        if device.type == "cuda":
            torch.cuda.empty_cache()
        clf = LogisticRegression(C=C, tol=1e-7, device=device, max_iter=100).fit(X, y)
        how = "float32 Newton, tol 1e-7, on the device (float64 did not fit)"
    f = averaged_objective64(X, y, clf.coef_, clf.intercept_, C=C)
    log({"reference": how, "objective": f})
    if device.type == "cuda":
        torch.cuda.empty_cache()
    return f, how


def sklearn_scaled(X, y, *, C, rows, log) -> list[dict]:
    """scikit-learn on the CPU on ``rows`` rows, time to 1e-6 of that subsample's optimum."""
    from sklearn.linear_model import LogisticRegression as SkLR

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from benchmarks.objective import relative_suboptimality, sklearn_objective

    n = X.shape[0]
    rows = min(rows, n)
    Xs = X[:rows].cpu().numpy().astype(np.float64)  # scikit-learn's solvers work in float64
    ys = y[:rows].cpu().numpy()
    ref = SkLR(C=C, solver="newton-cholesky", tol=1e-10, max_iter=100).fit(Xs, ys)
    best = sklearn_objective(Xs, ys, ref.coef_, ref.intercept_, C=C, l1_ratio=0.0)
    out = []
    for solver, tols in (("lbfgs", (1e-4, 1e-6, 1e-8)), ("newton-cholesky", (1e-4, 1e-6, 1e-8))):
        for tol in tols:
            clf = SkLR(C=C, solver=solver, tol=tol, max_iter=1000)
            t0 = time.perf_counter()
            clf.fit(Xs, ys)
            t = time.perf_counter() - t0
            f = sklearn_objective(Xs, ys, clf.coef_, clf.intercept_, C=C, l1_ratio=0.0)
            sub = relative_suboptimality(f, best)
            row = {
                "solver": f"scikit-learn {solver} (CPU, {os.cpu_count()} cores, float64)",
                "tol": tol,
                "rows": rows,
                "fit_s": t,
                "scaled_fit_s": t * n / rows,
                "iters": int(np.max(clf.n_iter_)),
                "subopt": sub,
            }
            log(row)
            if sub <= 1e-6:
                out.append(row)
                break
        else:
            out.append(row)
    return out


def sklearn_array_api(X, y, *, C, rows, log) -> dict:
    """scikit-learn's lbfgs with array-API dispatch on the device tensors, where it runs."""
    try:
        import sklearn
        from sklearn.linear_model import LogisticRegression as SkLR

        rows = min(rows, X.shape[0])
        with sklearn.config_context(array_api_dispatch=True):
            clf = SkLR(C=C, solver="lbfgs", tol=1e-6, max_iter=1000)
            t0 = time.perf_counter()
            clf.fit(X[:rows], y[:rows])
            t = time.perf_counter() - t0
        row = {"solver": "scikit-learn lbfgs, array API on the device", "rows": rows, "fit_s": t}
    except Exception as exc:
        row = {
            "solver": "scikit-learn lbfgs, array API on the device",
            "error": f"{type(exc).__name__}: {str(exc)[:200]}",
        }
    log(row)
    return row


def profile_fit(X, y, device, *, C: float) -> None:
    """Where a whole ``fit`` spends its time (validation, preparation, the solver): cProfile's
    top 30 functions by cumulative time (device work is charged to the calls that wait)."""
    import cProfile
    import pstats

    from torchlogit import LogisticRegression

    clf = LogisticRegression(C=C, tol=1e-4, device=device)
    prof = cProfile.Profile()
    _sync(device)
    prof.enable()
    clf.fit(X, y)
    _sync(device)
    prof.disable()
    pstats.Stats(prof).sort_stats("cumulative").print_stats(30)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m benchmarks.gpu", description=__doc__.split("\n")[0]
    )
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--n", type=int, default=20_000_000)
    ap.add_argument("--d", type=int, default=128)
    ap.add_argument("--C", type=float, default=1.0)
    ap.add_argument("--tols", type=float, nargs="+", default=[1e-4, 1e-5, 1e-6])
    ap.add_argument("--hbm-tbs", type=float, default=None, help="the card's HBM bandwidth")
    ap.add_argument("--sklearn-rows", type=int, default=1_000_000)
    ap.add_argument("--skip-sklearn", action="store_true")
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--profile", action="store_true", help="instead: cProfile one fit (top 30)")
    ap.add_argument("--markdown", action="store_true", help="update benchmarks/RESULTS.md (G1)")
    args = ap.parse_args(argv)
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        print(
            "CUDA is not available here; run with --device cpu to test the logic", file=sys.stderr
        )
        return 2
    report: dict = {
        "command": "PYTHONPATH=src python -m benchmarks.gpu "
        + " ".join(shlex.quote(a) for a in (sys.argv[1:] if argv is None else argv)),
        "date": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "torch": torch.__version__,
        "host": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
        "n": args.n,
        "d": args.d,
        "stages": {},
    }

    def log(obj):
        print(json.dumps(obj, default=str), flush=True)

    def stage(name, fn):
        t0 = time.perf_counter()
        try:
            report["stages"][name] = fn()
        except Exception as exc:
            traceback.print_exc()
            report["stages"][name] = {"error": f"{type(exc).__name__}: {exc}"}
        print(f"[{name}] {time.perf_counter() - t0:.1f} s", flush=True)

    peak, card = hbm_peak_tbs(device, args.hbm_tbs)
    report["device"] = card
    report["hbm_peak_TBs"] = peak
    t_gen, (X, y) = _timed(lambda: make_g1(args.n, args.d, device), device)
    report["generate_s"] = t_gen
    log({"generated": list(X.shape), "seconds": t_gen, "device": card, "hbm_peak_TBs": peak})

    # warm-up: kernels, cuBLAS / cuSOLVER handles, the estimator's code paths
    from torchlogit import LogisticRegression

    LogisticRegression(device=device).fit(X[:20_000], y[:20_000])

    if args.profile:
        profile_fit(X, y, device, C=args.C)
        return 0
    stage("bandwidth", lambda: bandwidth(X, y, device))
    bw = report["stages"]["bandwidth"]
    if peak and "X_d_TBs" in bw:
        bw["X_d_fraction_of_HBM"] = bw["X_d_TBs"] / peak
        bw["GtX_fraction_of_HBM"] = bw["GtX_TBs"] / peak
    ref_box = {}

    def _ref():
        f, how = reference(X, y, device, C=args.C, log=log)
        ref_box["f"] = f
        return {"objective": f, "how": how}

    stage("reference", _ref)
    if "f" in ref_box:
        stage(
            "torchlogit",
            lambda: torchlogit_fits(
                X, y, device, C=args.C, tols=args.tols, best=ref_box["f"], log=log
            ),
        )
    if not args.skip_sklearn:
        stage(
            "sklearn_cpu", lambda: sklearn_scaled(X, y, C=args.C, rows=args.sklearn_rows, log=log)
        )
        stage(
            "sklearn_array_api",
            lambda: sklearn_array_api(
                X, y, C=args.C, rows=min(args.sklearn_rows, 2_000_000), log=log
            ),
        )
    if device.type == "cuda":
        report["max_memory_GB"] = torch.cuda.max_memory_allocated(device) / 1e9
    print(json.dumps(report, indent=1, default=str))
    if args.json:
        args.json.write_text(json.dumps(report, indent=1, default=str))
    if args.markdown:
        from benchmarks.report import update_results

        update_results(Path(__file__).with_name("RESULTS.md"), "G1", g1_markdown(report))
    return 0


def g1_markdown(report: dict) -> str:
    st = report["stages"]
    lines = [
        "<!-- G1 start -->",
        f"## G1: {report['n']:,} x {report['d']} float32 on {report['device']}",
        "",
        f"- date: {report['date']}; torch {report['torch']}; host {report['host']}",
        f"- command: `{report['command']}`",
        f"- generated on the device in {report['generate_s']:.2f} s",
    ]
    bw = st.get("bandwidth", {})
    if "X_d_TBs" in bw:
        peak = report.get("hbm_peak_TBs")
        frac = (
            f" ({bw['X_d_fraction_of_HBM']:.0%} / {bw['GtX_fraction_of_HBM']:.0%} of {peak} TB/s)"
            if peak
            else ""
        )
        lines.append(
            f"- bandwidth: `X d` {bw['X_d_TBs']:.2f} TB/s ({bw['X_d_s'] * 1e3:.2f} ms), "
            f"`G^T X` with the loss {bw['GtX_TBs']:.2f} TB/s ({bw['GtX_with_loss_s'] * 1e3:.2f} ms)"
            + frac
        )
    else:
        lines.append(f"- bandwidth: {bw}")
    ref = st.get("reference", {})
    lines.append(f"- reference: {ref.get('how', ref)}; objective {ref.get('objective', '—')}")
    lines += ["", "| solver | tol | fit (s) | solve (s) | iters | passes | rel. subopt |"]
    lines.append("|---|---|---|---|---|---|---|")
    for r in st.get("torchlogit", []) if isinstance(st.get("torchlogit"), list) else []:
        lines.append(
            f"| {r['solver']} | {r['tol']:g} | {r['fit_s']:.3f} | {r['solve_s']:.3f} | "
            f"{r['iters']} | {r['passes']} | {r['subopt']:.1e} |"
        )
    sk = st.get("sklearn_cpu")
    if isinstance(sk, list):
        lines += [
            "",
            "| scikit-learn on the CPU | tol | rows | fit (s) | scaled to n (s) | iters |",
        ]
        lines[-1] += " rel. subopt |"
        lines.append("|---|---|---|---|---|---|---|")
        for r in sk:
            lines.append(
                f"| {r['solver']} | {r['tol']:g} | {r['rows']:,} | {r['fit_s']:.2f} | "
                f"{r['scaled_fit_s']:.1f} | {r['iters']} | {r['subopt']:.1e} |"
            )
    elif sk is not None:
        lines.append(f"- scikit-learn on the CPU: {sk}")
    if "sklearn_array_api" in st:
        lines.append(f"- scikit-learn array API on the device: {st['sklearn_array_api']}")
    lines.append("<!-- G1 end -->")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())

"""``python -m benchmarks B1 B2 ... [--n-scale 0.1] [--solvers ...] [--markdown]``.

``python -m benchmarks roofline [--n-scale 1] [--markdown]``: the R1 probe (:mod:`.roofline`).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import shlex
import sys
from pathlib import Path

from .harness import run_problem
from .peers import REFERENCE, RUNNERS
from .problems import PROBLEMS
from .report import markdown_section, text_table, update_results

RESULTS = Path(__file__).with_name("RESULTS.md")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="Time torchlogit and its peers to a relative suboptimality of 1e-6.",
    )
    p.add_argument(
        "problems", nargs="*", help=f"problem ids ({', '.join(PROBLEMS)}), or roofline (R1)"
    )
    p.add_argument("--n-scale", type=float, default=1.0, help="fraction of the rows (quick runs)")
    p.add_argument(
        "--solvers",
        nargs="+",
        default=None,
        help="runners to time (default: torchlogit and the problem's peers); "
        f"known: {', '.join(RUNNERS)}",
    )
    p.add_argument("--target", type=float, default=1e-6, help="relative suboptimality target")
    p.add_argument(
        "--budget", type=float, default=300.0, help="seconds per solver for its tolerance search"
    )
    p.add_argument(
        "--reference",
        default=None,
        help="NAME:TOL of the reference fit (default per problem: "
        + ", ".join(f"{k} {v[0]}:{v[1]:g}" for k, v in REFERENCE.items())
        + ")",
    )
    p.add_argument(
        "--dtype",
        choices=["float32", "float64"],
        default=None,
        help="cast dense X to this dtype before every fit (default: the generator's, float64)",
    )
    p.add_argument("--markdown", action="store_true", help=f"update {RESULTS}")
    p.add_argument("--results", type=Path, default=RESULTS, help="the Markdown file to update")
    p.add_argument("--scaling", action="store_true", help="time per iteration at n/4, n/2, n of B1")
    return p


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    command = "PYTHONPATH=src python -m benchmarks " + " ".join(shlex.quote(a) for a in argv)
    if argv[:1] == ["roofline"]:
        from .roofline import main as roofline_main

        return roofline_main(argv[1:], command=command, results=RESULTS)
    args = _parser().parse_args(argv)
    unknown = [p for p in args.problems if p not in PROBLEMS]
    if unknown:
        print(f"unknown problems {unknown}; known: {list(PROBLEMS)}", file=sys.stderr)
        return 2
    if args.solvers:
        bad = [s for s in args.solvers if s not in RUNNERS]
        if bad:
            print(f"unknown solvers {bad}; known: {list(RUNNERS)}", file=sys.stderr)
            return 2
    reference = None
    if args.reference:
        name, _, tol = args.reference.partition(":")
        reference = (name, float(tol or 1e-10))
    if not args.problems and not args.scaling:
        _parser().print_help()
        return 2

    for pid in args.problems:
        problem = PROBLEMS[pid]
        print(f"[{pid}] generating {problem.description} (n-scale {args.n_scale:g})", flush=True)
        X, y = problem.generate(args.n_scale)
        if args.dtype and not problem.sparse:
            X = X.astype(args.dtype)
        solvers = args.solvers or ["torchlogit", *problem.peers]
        log_lines: list[str] = []

        def log(msg, _lines=log_lines):
            print(msg, flush=True)
            _lines.append(msg)

        fits, ref = run_problem(
            problem,
            X,
            y,
            solvers,
            target=args.target,
            budget=args.budget,
            reference=reference,
            log=log,
        )
        print()
        print(text_table(fits, ref, args.target))
        print(flush=True)
        if args.markdown:
            section = markdown_section(
                problem,
                fits,
                ref,
                args.target,
                command=command,
                n_rows=X.shape[0],
                n_scale=args.n_scale,
                log=log_lines,
            )
            key = pid if args.n_scale == 1.0 else f"{pid}-scale-{args.n_scale:g}"
            key += f"-{args.dtype}" if args.dtype else ""
            update_results(args.results, key, section.replace(pid + " start", key + " start")
                           .replace(pid + " end", key + " end"))  # fmt: skip
            print(f"[{pid}] wrote {args.results}")
        del X, y

    if args.scaling:
        from .report import machine_description
        from .scaling import scaling_markdown, scaling_rows

        rows = scaling_rows(PROBLEMS["B1"], args.n_scale)
        for r in rows:
            print(
                f"n={r['n']:>9,}  solve {r['solve_s']:.2f} s  iters {r['iters']}  passes "
                f"{r['passes']}  {r['s_per_iter']:.3f} s/iter  {r['ms_per_pass']:.1f} ms/pass"
            )
        if args.markdown:
            date = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
            md = scaling_markdown(rows, command=command, machine=machine_description(), date=date)
            update_results(args.results, "scaling", md)
    return 0

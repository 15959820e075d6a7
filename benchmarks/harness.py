"""Run one problem: a reference fit, then every solver, timed, on the same arrays.

The metric (``BENCHMARKS.md``): wall time of ``fit`` (user arrays in, fitted model out,
validation included) until the relative suboptimality ``(F - F*) / |F*|`` of scikit-learn's
objective is at most ``target`` (1e-6). ``F*`` is the best objective of the run: the
reference fit at a very tight tolerance, or any fit that went lower.

Each solver's tolerance is searched: its ladder (loosest first) is run until a fit reaches the
target, and that fit's time is reported (the looser fits' times are not added: a user who
knows the right tolerance pays only that fit). Fits are run one after another in this process.
"""

from __future__ import annotations

import gc
import math
import time
import traceback
from dataclasses import dataclass, field

import numpy as np

from .objective import relative_suboptimality, sklearn_objective
from .peers import REFERENCE, RUNNERS, NotSupported


@dataclass
class Fit:
    """One fit of one solver at one tolerance."""

    solver: str
    tol: float | None = None
    time: float = math.nan
    objective: float = math.nan
    n_iter: int | None = None
    passes: int | None = None
    note: str = ""
    is_peer: bool = True
    subopt: float = math.nan
    hit_max_iter: bool = False
    tried: list = field(default_factory=list)  # (tol, time, objective) of every ladder step


def _objective(X, y_index, coef, intercept, problem) -> float:
    return sklearn_objective(X, y_index, coef, intercept, C=problem.C, l1_ratio=problem.l1_fraction)


def _encode(y):
    classes, y_index = np.unique(y, return_inverse=True)
    return y_index.reshape(-1)


def fit_once(name, X, y, y_index, problem, tol):
    """Time one fit; return a :class:`Fit` (errors become its note)."""
    runner = RUNNERS[name]
    fit = Fit(name, tol, is_peer=runner.is_peer)
    gc.collect()
    start = time.perf_counter()
    try:
        coef, intercept, n_iter, extra = runner.fit(X, y, problem, tol)
    except NotSupported as exc:
        fit.note = str(exc)
        return fit
    except MemoryError:
        fit.note = "out of memory"
        return fit
    except Exception as exc:  # a failing peer must not end the run
        fit.note = f"failed: {type(exc).__name__}: {exc}"
        traceback.print_exc()
        return fit
    fit.time = time.perf_counter() - start
    fit.n_iter = n_iter
    fit.passes = extra.get("passes")
    fit.hit_max_iter = bool(extra.get("hit_max_iter", False))
    fit.note = "; ".join(
        s
        for s in (extra.get("note", ""), f"solver={extra['solver']}" if "solver" in extra else "")
        if s
    )
    fit.objective = _objective(X, y_index, coef, intercept, problem)
    return fit


def run_problem(
    problem,
    X,
    y,
    solvers,
    *,
    target: float = 1e-6,
    budget: float = 300.0,
    reference: tuple[str, float] | None = None,
    log=print,
) -> tuple[list[Fit], Fit]:
    """Reference fit, then each solver's tolerance ladder. Returns ``(fits, reference)``."""
    y_index = _encode(y)
    ref_name, ref_tol = reference or REFERENCE[problem.id]
    log(f"[{problem.id}] reference: {ref_name} tol={ref_tol:g}")
    ref = fit_once(ref_name, X, y, y_index, problem, ref_tol)
    if not math.isfinite(ref.objective):
        raise RuntimeError(f"the reference fit failed: {ref.note}")
    log(f"[{problem.id}] reference objective {ref.objective:.12e} ({ref.time:.1f} s)")
    best = ref.objective
    fits = []
    for name in solvers:
        runner = RUNNERS[name]
        missing = runner.missing()
        if missing:
            fits.append(Fit(name, note=missing, is_peer=runner.is_peer))
            log(f"[{problem.id}] {name}: {missing}")
            continue
        spent, chosen = 0.0, None
        tried = []
        for tol in runner.tols:
            fit = fit_once(name, X, y, y_index, problem, tol)
            if not math.isfinite(fit.time):  # not supported or failed: no other tol helps
                chosen = fit
                break
            spent += fit.time
            best = min(best, fit.objective)
            sub = relative_suboptimality(fit.objective, best)
            tried.append((tol, fit.time, fit.objective))
            log(
                f"[{problem.id}] {name} tol={tol:g}: {fit.time:.2f} s, subopt {sub:.2e}, "
                f"iters {fit.n_iter}" + (f", passes {fit.passes}" if fit.passes else "")
            )
            chosen = fit
            if fit.hit_max_iter:
                fit.note = (fit.note + "; " if fit.note else "") + "stopped at max_iter"
            # a fit that ran out of iterations gets no further with a tighter tolerance
            if sub <= target or spent > budget or fit.hit_max_iter:
                break
        chosen.tried = tried
        fits.append(chosen)
    for f in fits + [ref]:
        f.subopt = relative_suboptimality(f.objective, best)
    if relative_suboptimality(ref.objective, best) > target * 1e-2:
        log(f"[{problem.id}] WARNING: a fit went below the reference by {ref.subopt:.2e}")
    return fits, ref


def fastest_peer(fits, target: float) -> Fit | None:
    ok = [f for f in fits if f.is_peer and math.isfinite(f.time) and f.subopt <= target]
    return min(ok, key=lambda f: f.time) if ok else None

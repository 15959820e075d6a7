"""Scaling check: torchlogit's time per iteration (and per pass) at n/4, n/2 and n of B1.

Each size is fitted at the same tolerance; the solver's own history gives the time of the
iterations (validation excluded), so ``time / iteration`` and ``time / pass`` should double
with ``n``.
"""

from __future__ import annotations

import gc
import time


def scaling_rows(problem, n_scale: float, *, tol: float = 1e-8, fractions=(0.25, 0.5, 1.0)):
    from torchlogit import LogisticRegression

    rows = []
    for frac in fractions:
        X, y = problem.generate(n_scale * frac)
        gc.collect()
        clf = LogisticRegression(C=problem.C, tol=tol, max_iter=1000)
        start = time.perf_counter()
        clf.fit(X, y)
        total = time.perf_counter() - start
        solve = clf.history_["time"][-1]
        n_iter = max(int(clf.n_iter_[0]), 1)
        passes = max(int(getattr(clf, "n_passes_", 0) or 0), 1)
        rows.append(
            {
                "n": X.shape[0],
                "fit_s": total,
                "solve_s": solve,
                "iters": n_iter,
                "passes": passes,
                "s_per_iter": solve / n_iter,
                "ms_per_pass": 1e3 * solve / passes,
                "solver": clf.solver_,
            }
        )
        del X, y, clf
    return rows


def scaling_markdown(rows, *, command: str, machine: str, date: str) -> str:
    head = "| n | fit (s) | solve (s) | iters | passes | s / iter | ms / pass | solver |"
    lines = [
        "<!-- scaling start -->",
        "## Scaling (B1 rows at n/4, n/2, n)",
        "",
        f"- date: {date}",
        f"- machine: {machine}",
        f"- command: `{command}`",
        "",
        head,
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['n']:,} | {r['fit_s']:.2f} | {r['solve_s']:.2f} | {r['iters']} | "
            f"{r['passes']} | {r['s_per_iter']:.3f} | {r['ms_per_pass']:.1f} | {r['solver']} |"
        )
    lines.append("<!-- scaling end -->")
    return "\n".join(lines) + "\n"

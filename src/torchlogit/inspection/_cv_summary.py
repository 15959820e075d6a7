"""The cross-validation table of a fitted ``LogisticRegressionCV``, derived from its
``scores_`` and ``coefs_paths_`` alone (nothing is refitted).

For the grid point ``(rho_r, C_k)`` (an ``l1_ratio`` and a ``C``) and the ``F`` folds'
held-out scores ``s_{f,r,k}`` (``scores_``, larger is better):

    mean_{r,k} = (1/F) sum_f s_{f,r,k},
    SE_{r,k}   = std_f(s_{f,r,k}, ddof=1) / sqrt(F),

the *min* choice is the point of largest summed score (ties: the first in ``C``-major order,
as the estimator and scikit-learn take it), ``(r*, k*)``; the *1se* choice is the smallest
``C`` at ``rho_{r*}`` with ``mean_{r*,k} >= mean_{r*,k*} - SE_{r*,k*}`` (glmnet's
``lambda.1se``). ``non-zeros`` is the folds' mean count of non-zero feature coefficients
(intercept left out, every class's logit counted) in ``coefs_paths_``: the fold fits at that
point, not the refit on all rows, which exists only at the chosen point (``coef_``).
"""

from __future__ import annotations

import numpy as np


def is_cv_model(model) -> bool:
    """Whether ``model`` carries a cross-validation path (``scores_`` and ``Cs_``)."""
    return getattr(model, "scores_", None) is not None and getattr(model, "Cs_", None) is not None


def cv_summary(model) -> dict:
    """The numbers of the table, as arrays over ``(n_l1_ratios, n_Cs)``.

    ``{"Cs", "l1_ratios", "mean", "se", "nonzeros", "coef_paths", "min", "1se", "n_folds"}``:
    ``min`` / ``1se`` are ``(r, k)`` index pairs (see the module docstring); ``coef_paths``
    the folds' mean of ``coefs_paths_``, ``(n_l1_ratios, n_Cs, m, p)``.
    """
    scores = np.asarray(model.scores_, dtype=np.float64)
    n_folds = scores.shape[0]
    Cs = np.asarray(model.Cs_, dtype=np.float64)
    mean = scores.mean(axis=0)
    se = scores.std(axis=0, ddof=1) / np.sqrt(n_folds)
    from ..fitting import cv_choices  # the estimator's own rule (torch is loaded with it)

    choices = cv_choices(scores, Cs)
    paths = np.asarray(model.coefs_paths_, dtype=np.float64)
    d = int(model.n_features_in_)
    nonzeros = np.count_nonzero(paths[..., :d], axis=(-2, -1)).mean(axis=0)
    ratios = np.asarray(getattr(model, "l1_ratios_", [None]), dtype=object).reshape(-1)
    return {
        "Cs": Cs,
        "l1_ratios": [None if v is None else float(v) for v in ratios],
        "mean": mean,
        "se": se,
        "nonzeros": nonzeros,
        "coef_paths": paths.mean(axis=0),
        "min": choices["min"],
        "1se": choices["1se"],
        "n_folds": n_folds,
    }


def iterations_text(model) -> str:
    """``"N iterations"``; for a CV model the refit's (``history_`` holds its iterates:
    ``n_iter_`` there is the fold paths', per grid point)."""
    n = int(np.max(np.asarray(getattr(model, "n_iter_", [0]))))
    history = getattr(model, "history_", None) or {}
    if not is_cv_model(model) or not history.get("objective"):
        return f"{n} iterations"
    refit = len(history["objective"]) - 1
    return f"{refit} iterations on all rows (fold paths: at most {n} per point)"


def scoring_name(model) -> str:
    scoring = getattr(model, "scoring", None)
    return scoring if isinstance(scoring, str) else "score"


def cv_rows(model) -> tuple[list[str], list[list[str]]]:
    """``(header, rows)`` of the table as text, one row per grid point in the grid's order;
    the last column marks the min and 1se choices and which one the model took."""
    s = cv_summary(model)
    several = len(s["l1_ratios"]) > 1
    chosen = getattr(model, "selection", "min")
    header = ["C", *(["l1_ratio"] * several), f"mean {scoring_name(model)}", "± SE",
              "non-zeros (fold mean)", "choice"]  # fmt: skip
    rows = []
    for r, ratio in enumerate(s["l1_ratios"]):
        for k, C in enumerate(s["Cs"]):
            marks = [m for m in ("min", "1se") if s[m] == (r, k)]
            mark = ", ".join(marks)
            if chosen in marks:
                mark += " (chosen)"
            rows.append([f"{C:.4g}", *([f"{ratio:g}"] if several else []), f"{s['mean'][r, k]:.6g}",
                         f"{s['se'][r, k]:.3g}", f"{s['nonzeros'][r, k]:.1f}", mark])  # fmt: skip
    return header, rows


def format_cv_table(model) -> str:
    """The cross-validation table as plain text (numbers right-aligned, the choice last)."""
    header, rows = cv_rows(model)
    widths = [max(len(h), *(len(row[j]) for row in rows)) for j, h in enumerate(header)]

    def line(cells):
        numbers = [f"{c:>{w}}" for c, w in zip(cells[:-1], widths, strict=False)]
        return "  ".join([*numbers, cells[-1]]).rstrip()

    return "\n".join([line(header), *(line(row) for row in rows)])

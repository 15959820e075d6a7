"""The fitted coefficients as a table: one row per feature plus the intercept, one column per
class's logit (a single column for two classes: the log-odds of ``classes_[1]``)."""

from __future__ import annotations

import numpy as np


def _names(model, feature_names=None) -> list[str]:
    if feature_names is None:
        feature_names = getattr(model, "feature_names_in_", None)
    if feature_names is None:
        feature_names = [f"x{j}" for j in range(model.n_features_in_)]
    return [str(f) for f in feature_names]


def coefficient_table(model, feature_names=None, *, top: int | None = None) -> dict:
    """``{"columns", "rows", "intercept", "n_nonzero", "n_coef", "shown", "n_features"}``.

    ``columns``: one header per logit; ``rows``: ``(feature, values)`` ordered by the largest
    absolute value over the logits (all of them, or the ``top`` largest); ``intercept``: the
    values of the intercept (zeros without one); ``n_nonzero`` / ``n_coef``: how many of the
    feature coefficients are not exactly zero (L1 and elastic-net set some to zero).
    """
    coef = np.asarray(model.coef_, dtype=float)
    intercept = np.asarray(model.intercept_, dtype=float).reshape(-1)
    names = _names(model, feature_names)
    classes = [str(c) for c in model.classes_]
    columns = [f"log-odds of {classes[1]!r}"] if coef.shape[0] == 1 else classes
    size = np.abs(coef).max(axis=0)
    order = np.argsort(-size, kind="stable")
    if top is not None:
        order = order[:top]
    return {
        "columns": columns,
        "rows": [(names[j], coef[:, j]) for j in order],
        "intercept": intercept,
        "fit_intercept": bool(getattr(model, "fit_intercept", True)),
        "n_nonzero": int(np.count_nonzero(coef)),
        "n_coef": int(coef.size),
        "shown": len(order),
        "n_features": coef.shape[1],
    }


def format_coefficients(model, feature_names=None, *, top: int | None = None) -> str:
    """A plain-text coefficient table (the intercept first, then features by size)."""
    t = coefficient_table(model, feature_names, top=top)
    label_w = max([len(n) for n, _ in t["rows"]] + [len("(intercept)"), len("feature")])
    col_w = max([len(c) for c in t["columns"]] + [12])
    lines = [f"{'feature':<{label_w}}  " + "  ".join(f"{c:>{col_w}}" for c in t["columns"])]
    rows = []
    if t["fit_intercept"]:
        rows.append(("(intercept)", t["intercept"]))
    rows += t["rows"]
    for name, values in rows:
        lines.append(f"{name:<{label_w}}  " + "  ".join(f"{v:>{col_w}.6g}" for v in values))
    what = (
        f"the {t['shown']} largest of {t['n_features']} features"
        if t["shown"] < t["n_features"]
        else f"all {t['n_features']} features"
    )
    lines.append(f"({what}; {t['n_nonzero']} of {t['n_coef']} coefficients are non-zero)")
    return "\n".join(lines)

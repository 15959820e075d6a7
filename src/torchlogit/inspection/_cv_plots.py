"""The two plots glmnet users know, for a cross-validated model (numbers from
:func:`~torchlogit.inspection.cv_summary`): the CV curve and the coefficient paths, both
against ``log10 C`` (``C = 1 / lambda``: the penalty weakens to the right)."""

from __future__ import annotations

import numpy as np

from ._plots import _figure, _save, plain

_MAX_LABELLED = 10
_MAX_CLASS_PANELS = 6


def _mark_choices(ax, summary, *, legend: bool):
    """Vertical lines at the min and 1se choices' ``log10 C``."""
    Cs = summary["Cs"]
    for key, style in (("min", "--"), ("1se", ":")):
        k = summary[key][1]
        ax.axvline(np.log10(Cs[k]), color="black", ls=style, lw=1,
                   label=f"{key}: C = {Cs[k]:.3g}" if legend else None)  # fmt: skip


def plot_cv_curve(summary, path, *, scoring: str = "score", selection: str = "min"):
    """Mean held-out score ± one standard error against ``log10 C``, one curve per
    ``l1_ratio``; the min (dashed) and 1se (dotted) choices marked, the chosen one named."""
    fig = _figure(6.4, 4.4)
    ax = fig.subplots()
    x = np.log10(summary["Cs"])
    order = np.argsort(x, kind="stable")
    several = len(summary["l1_ratios"]) > 1
    for r, ratio in enumerate(summary["l1_ratios"]):
        m, se = summary["mean"][r, order], summary["se"][r, order]
        label = f"l1_ratio {ratio:g}" if several else "mean ± SE"
        ax.errorbar(x[order], m, yerr=se, fmt="o-", ms=3, lw=1.2, capsize=2, color=f"C{r % 10}",
                    label=label)  # fmt: skip
    _mark_choices(ax, summary, legend=True)
    ax.set(xlabel="log10 C (weaker penalty to the right)", ylabel=f"held-out {plain(scoring)}",
           title=f"Cross-validation ({summary['n_folds']} folds; chosen: {selection})")  # fmt: skip
    ax.legend(loc="best", fontsize=8)
    ax.grid(alpha=0.3)
    return _save(fig, path)


def plot_cv_paths(summary, feature_names, classes, path):
    """Each feature's coefficient (the folds' mean of ``coefs_paths_`` at the min choice's
    ``l1_ratio``) against ``log10 C``; one panel per logit (one for two classes), the
    largest paths named; the min and 1se choices marked."""
    r = summary["min"][0]
    paths = summary["coef_paths"][r]  # (n_Cs, m, p)
    d = len(feature_names)
    x = np.log10(summary["Cs"])
    order = np.argsort(x, kind="stable")
    m = min(paths.shape[1], _MAX_CLASS_PANELS)
    fig = _figure(6.8 if m == 1 else 4.2 * min(m, 3), 4.4 if m == 1 else 3.4 * -(-m // 3))
    axes = np.atleast_1d(fig.subplots(-(-m // 3) if m > 1 else 1, min(m, 3), sharex=True))
    axes = axes.ravel()
    names = [plain(f) for f in feature_names]
    for j in range(m):
        ax, coef = axes[j], paths[order, j, :d]  # (n_Cs, d)
        big = np.argsort(-np.abs(coef).max(axis=0), kind="stable")[:_MAX_LABELLED]
        for i in range(d):
            ax.plot(x[order], coef[:, i], lw=1.2 if i in big else 0.6,
                    color=f"C{i % 10}" if i in big else "grey",
                    label=names[i] if i in big else None)  # fmt: skip
        ax.axhline(0, color="black", lw=0.6)
        _mark_choices(ax, summary, legend=False)
        what = f"log-odds of {plain(classes[1])!r}" if paths.shape[1] == 1 else plain(classes[j])
        ax.set_title(f"Coefficient paths ({what})", fontsize=9 if m > 1 else 11)
        ax.grid(alpha=0.3)
        ax.legend(loc="upper left", fontsize=7 if m > 1 else 8, ncol=1 + (len(big) > 5))
    for ax in axes[m:]:
        ax.set_visible(False)
    fig.supxlabel("log10 C (dashed: min, dotted: 1se)", fontsize=9)
    return _save(fig, path)

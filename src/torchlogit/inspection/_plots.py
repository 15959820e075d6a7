"""Diagnostic plots of a fitted model, each written to a PNG file.

Figures are built with ``matplotlib.figure.Figure`` and the Agg canvas directly: no pyplot,
no global backend switch, nothing shown on screen, safe in threads and on headless servers.
Each function takes what it plots and a ``path``, and returns ``path``.
"""

from __future__ import annotations

import numpy as np

_MAX_CLASS_CURVES = 10
_DPI = 110


def _figure(width=6.4, height=4.4, **kwargs):
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained", **kwargs)


def _save(fig, path):
    fig.savefig(path, dpi=_DPI, format="png", facecolor="white")
    return path


def plain(text) -> str:
    """``text`` shown as written: a ``$`` would start matplotlib's mathtext (``$x$``)."""
    return str(text).replace("$", r"\$")


def _class_names(classes) -> list[str]:
    return [plain(c) for c in classes]


def _legend_outside(ax, title):
    """The legend to the right of the axes, so that it never covers a curve."""
    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=8, title=title,
              title_fontsize=8, borderaxespad=0)  # fmt: skip


def plot_history(history: dict, path, *, tol: float | None = None):
    """Objective and largest gradient entry per iteration (the solver's progress)."""
    fig = _figure(9.0, 3.8)
    ax1, ax2 = fig.subplots(1, 2)
    obj = np.asarray(history.get("objective", []), dtype=float)
    gn = np.asarray(history.get("gradient_norm", []), dtype=float)
    it = np.arange(len(obj))
    ms = 4 if len(obj) <= 40 else 0  # markers only while they can be told apart
    ax1.plot(it, obj, "o-", color="C0", ms=ms)
    ax1.set(xlabel="iteration", ylabel="objective (averaged)", title="Objective")
    if len(obj) > 1 and np.all(obj - obj.min() >= 0):
        gap = obj - obj.min()
        if np.any(gap[:-1] > 0):
            inset = ax1.inset_axes([0.45, 0.45, 0.5, 0.45])
            inset.semilogy(it[:-1], np.maximum(gap[:-1], 1e-17), "o-", color="C1", ms=ms * 0.75)
            inset.set_title("objective − final", fontsize=8)
            inset.tick_params(labelsize=7)
    ax2.semilogy(np.arange(len(gn)), np.maximum(gn, 1e-300), "o-", color="C2", ms=ms)
    if tol is not None and tol > 0:
        ax2.axhline(tol, color="grey", ls="--", lw=1, label=f"tol = {tol:g}")
        ax2.legend(loc="upper right")
    ax2.set(xlabel="iteration", ylabel="max |gradient|", title="Gradient (stopping rule)")
    for ax in (ax1, ax2):
        ax.grid(alpha=0.3)
        ax.xaxis.get_major_locator().set_params(integer=True)
    return _save(fig, path)


def _one_vs_rest(y, proba, classes):
    """``(name, y_binary, score)`` per curve: one for two classes, one per class above."""
    names = _class_names(classes)
    if len(classes) == 2:
        return [(names[1], y == classes[1], proba[:, 1])]
    return [(names[k], y == classes[k], proba[:, k]) for k in range(len(classes))][
        :_MAX_CLASS_CURVES
    ]


def plot_roc(y, proba, classes, path):
    """ROC curve(s) with their AUC; one-vs-rest per class for more than two classes."""
    from sklearn.metrics import roc_auc_score, roc_curve

    fig = _figure(6.4, 4.4)
    ax = fig.subplots()
    for i, (name, yb, score) in enumerate(_one_vs_rest(y, proba, classes)):
        if yb.all() or not yb.any():
            continue
        fpr, tpr, _ = roc_curve(yb, score)
        ax.plot(fpr, tpr, lw=2, color=f"C{i}",
                label=f"{name} (AUC {roc_auc_score(yb, score):.3f})")  # fmt: skip
    ax.plot([0, 1], [0, 1], color="grey", ls="--", lw=1, label="chance")
    ax.set(xlim=(-0.01, 1.01), ylim=(-0.01, 1.01), aspect="equal")
    ax.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC curve")
    _legend_outside(ax, "positive class")
    ax.grid(alpha=0.3)
    return _save(fig, path)


def plot_precision_recall(y, proba, classes, path):
    """Precision-recall curve(s) with average precision; the prevalence as the baseline."""
    from sklearn.metrics import average_precision_score, precision_recall_curve

    fig = _figure(6.4, 4.4)
    ax = fig.subplots()
    for i, (name, yb, score) in enumerate(_one_vs_rest(y, proba, classes)):
        if yb.all() or not yb.any():
            continue
        precision, recall, _ = precision_recall_curve(yb, score)
        ap = average_precision_score(yb, score)
        ax.step(recall, precision, where="post", lw=2, color=f"C{i}", label=f"{name} (AP {ap:.3f})")
        ax.axhline(yb.mean(), color=f"C{i}", ls=":", lw=1)
    ax.set(xlim=(-0.01, 1.01), ylim=(-0.01, 1.05), aspect="equal")
    ax.set(xlabel="recall", ylabel="precision", title="Precision–recall (dotted: prevalence)")
    _legend_outside(ax, "positive class")
    ax.grid(alpha=0.3)
    return _save(fig, path)


def plot_calibration(y, proba, classes, path, *, n_bins: int = 10):
    """Reliability diagram: the observed frequency of the class per bin of predicted
    probability, each point labelled with the number of rows in its bin. Two classes: one
    panel over a histogram of the predictions; more: one small panel per class (one vs
    rest, at most 10), on shared axes, so that no curve hides another."""
    curves = _one_vs_rest(y, proba, classes)
    if len(curves) == 1:
        fig = _figure(5.2, 5.6)
        ax, hist = fig.subplots(2, 1, sharex=True, height_ratios=[3, 1])
        _calibration_panel(ax, *curves[0][1:], n_bins, color="C0")
        ax.set(ylabel="observed frequency", title=f"Calibration (class {curves[0][0]})")
        ax.legend(loc="upper left", fontsize=8)
        hist.hist(curves[0][2], bins=n_bins, range=(0, 1), color="C0", alpha=0.45)
        hist.set(xlabel="predicted probability", ylabel="rows")
        hist.grid(alpha=0.3)
        return _save(fig, path)
    cols = min(5, len(curves))
    rows = -(-len(curves) // cols)
    fig = _figure(2.3 * cols + 0.6, 2.3 * rows + 0.8)
    axes = np.atleast_1d(fig.subplots(rows, cols, sharex=True, sharey=True)).ravel()
    for k, (name, yb, score) in enumerate(curves):
        _calibration_panel(axes[k], yb, score, n_bins, color=f"C{k}", small=True)
        axes[k].set_title(f"class {name}", fontsize=9)
    for ax in axes[len(curves) :]:
        ax.set_visible(False)
    fig.supxlabel("predicted probability (one vs rest)", fontsize=9)
    fig.supylabel("observed frequency", fontsize=9)
    fig.suptitle("Calibration per class (numbers: rows per bin)", fontsize=10)
    return _save(fig, path)


def _calibration_panel(ax, yb, score, n_bins, *, color, small=False):
    edges = np.linspace(0, 1, n_bins + 1)
    which = np.clip(np.digitize(score, edges[1:-1]), 0, n_bins - 1)
    counts = np.bincount(which, minlength=n_bins)
    keep = counts > 0
    mean = np.bincount(which, weights=score, minlength=n_bins)[keep] / counts[keep]
    frac = np.bincount(which, weights=yb.astype(float), minlength=n_bins)[keep] / counts[keep]
    ax.plot([0, 1], [0, 1], color="grey", ls="--", lw=1, label="perfectly calibrated")
    ax.plot(mean, frac, "o-", color=color, ms=3 if small else 4, label="observed")
    for xm, yf, c in zip(mean, frac, counts[keep], strict=True):
        ha = "right" if xm > 0.9 else "left" if xm < 0.1 else "center"  # inside the panel
        ax.annotate(str(int(c)), (xm, yf), textcoords="offset points", xytext=(0, 4),
                    ha=ha, fontsize=6 if small else 7, color="#444")  # fmt: skip
    ax.set(xlim=(-0.02, 1.02), ylim=(-0.05, 1.12))
    ax.grid(alpha=0.3)
    if small:
        ax.tick_params(labelsize=7)


def plot_coefficients(coef, feature_names, classes, path, *, top: int = 20):
    """The ``top`` coefficients largest in absolute value (a bar chart, or a heat map with
    one column per class for more than two classes). They are on the inputs' scale."""
    coef = np.asarray(coef, dtype=float)
    names = [plain(f) for f in feature_names]
    size = np.abs(coef).max(axis=0)
    order = np.argsort(-size, kind="stable")[:top][::-1]  # largest at the top
    k = len(order)
    fig = _figure(6.8, max(2.4, 0.32 * k + 1.4))
    ax = fig.subplots()
    if coef.shape[0] == 1:
        values = coef[0, order]
        colors = ["C3" if v < 0 else "C0" for v in values]
        ax.barh(np.arange(k), values, color=colors)
        ax.axvline(0, color="black", lw=0.8)
        ax.set_xlabel(f"coefficient (log-odds of class {_class_names(classes)[1]!r} per unit)")
        ax.grid(axis="x", alpha=0.3)
    else:
        order = order[::-1]  # imshow draws row 0 at the top
        values = coef[:, order].T
        lim = float(np.abs(values).max()) or 1.0
        im = ax.imshow(values, cmap="RdBu_r", vmin=-lim, vmax=lim, aspect="auto")
        if values.size <= 200:
            for (i, j), v in np.ndenumerate(values):
                color = "white" if abs(v) > 0.6 * lim else "black"
                ax.text(j, i, f"{v:.2g}", ha="center", va="center", fontsize=7, color=color)
        rotate = 45 if coef.shape[0] > 4 else 0
        ax.set_xticks(np.arange(coef.shape[0]), _class_names(classes), rotation=rotate,
                      ha="right" if rotate else "center")  # fmt: skip
        ax.set_xlabel("class")
        fig.colorbar(im, ax=ax, label="coefficient")
    ax.set_yticks(np.arange(k), [names[j] for j in order], fontsize=8)
    shown = f"{k} largest of {coef.shape[1]}" if coef.shape[1] > k else f"all {k}"
    ax.set_title(f"Coefficients ({shown})")
    return _save(fig, path)


def plot_decision_boundary(model, X, y, classes, feature_names, path, *, max_points=2000):
    """Two features: the predicted probability (two classes) or class (more) over the
    plane, with the data on top."""
    from matplotlib.colors import ListedColormap

    X = np.asarray(X, dtype=float)
    y = np.asarray(y)
    rng = np.random.default_rng(0)
    shown = rng.choice(len(X), max_points, replace=False) if len(X) > max_points else slice(None)
    lo, hi = X.min(axis=0), X.max(axis=0)
    pad = 0.08 * np.where(hi > lo, hi - lo, 1.0)
    g0, g1 = np.meshgrid(
        np.linspace(lo[0] - pad[0], hi[0] + pad[0], 300),
        np.linspace(lo[1] - pad[1], hi[1] + pad[1], 300),
    )
    grid = np.column_stack([g0.ravel(), g1.ravel()])
    if hasattr(model, "feature_names_in_"):
        import pandas as pd

        grid = pd.DataFrame(grid, columns=model.feature_names_in_)
    proba = np.asarray(model.predict_proba(grid), dtype=float)
    fig = _figure(6.0, 5.0)
    ax = fig.subplots()
    names = _class_names(classes)
    if len(classes) == 2:
        cs = ax.contourf(g0, g1, proba[:, 1].reshape(g0.shape), levels=np.linspace(0, 1, 11),
                         cmap="RdBu_r", alpha=0.45)  # fmt: skip
        ax.contour(g0, g1, proba[:, 1].reshape(g0.shape), levels=[0.5], colors="black")
        fig.colorbar(cs, ax=ax, label=f"P(class {names[1]})")
        colors = ["#2166ac", "#b2182b"]
    else:
        colors = [f"C{k % 10}" for k in range(len(classes))]
        region = proba.argmax(axis=1).reshape(g0.shape)
        ax.contourf(g0, g1, region, levels=np.arange(len(classes) + 1) - 0.5,
                    cmap=ListedColormap(colors), alpha=0.3)  # fmt: skip
    for k, c in enumerate(classes):
        sel = y[shown] == c
        ax.scatter(X[shown][sel, 0], X[shown][sel, 1], s=14, color=colors[k], edgecolor="black",
                   linewidth=0.3, label=names[k])  # fmt: skip
    ax.legend(loc="best", fontsize=8, title="true class", title_fontsize=8)
    ax.set(xlabel=plain(feature_names[0]), ylabel=plain(feature_names[1]),
           title="Decision boundary")  # fmt: skip
    return _save(fig, path)


def plot_forest(names, estimate, lower, upper, path, *, alpha: float = 0.05):
    """Each coefficient's estimate (dot) and its ``1 - alpha`` confidence interval (bar),
    one row per term, zero marked: the terms whose bar crosses zero are not significant at
    that level."""
    n = len(names)
    fig = _figure(6.4, max(2.0, 0.28 * n + 1.0))
    ax = fig.add_subplot()
    rows = np.arange(n)[::-1]
    ax.errorbar(estimate, rows, xerr=[np.subtract(estimate, lower), np.subtract(upper, estimate)],
                fmt="o", color="tab:blue", ecolor="tab:blue", capsize=3, markersize=4)  # fmt: skip
    ax.axvline(0.0, color="grey", lw=1, ls="--")
    ax.set_yticks(rows, [plain(n) for n in names], fontsize=8)
    ax.set_xlabel(f"log-odds, with {100 * (1 - alpha):g}% confidence interval")
    ax.grid(True, axis="x", alpha=0.3)
    return _save(fig, path)

"""An HTML report of a fitted model on labelled data: numbers, tables and linked PNG plots."""

from __future__ import annotations

import html
import time
from pathlib import Path

import numpy as np

from .._version import __version__
from . import _plots
from ._metrics import classification_metrics

_CSS = """
body { font-family: system-ui, -apple-system, Segoe UI, Helvetica, Arial, sans-serif;
       max-width: 1100px; margin: 2em auto; padding: 0 1em; color: #222; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; } h2 { font-size: 1.2em; margin-top: 1.6em; }
.sub { color: #666; margin-top: 0; }
table { border-collapse: collapse; margin: 0.5em 0; }
td, th { border: 1px solid #ddd; padding: 4px 10px; text-align: right; }
th { background: #f4f4f4; } td.l, th.l { text-align: left; }
td.diag { background: #e6f2e6; font-weight: 600; }
.grid { display: flex; flex-wrap: wrap; gap: 12px; }
figure { margin: 0; } figure img { max-width: 100%; border: 1px solid #eee; }
figcaption { color: #555; font-size: 0.9em; max-width: 560px; }
"""


def _table(rows, header=None) -> str:
    out = ["<table>"]
    if header:
        out.append("<tr>" + "".join(f"<th>{html.escape(str(h))}</th>" for h in header) + "</tr>")
    for row in rows:
        cells = [f'<td class="l">{html.escape(str(row[0]))}</td>']
        cells += [f"<td>{html.escape(str(v))}</td>" for v in row[1:]]
        out.append("<tr>" + "".join(cells) + "</tr>")
    out.append("</table>")
    return "\n".join(out)


def _confusion_table(cm, classes) -> str:
    names = [html.escape(str(c)) for c in classes]
    out = ['<table><tr><th class="l">true \\ predicted</th>']
    out += [f"<th>{n}</th>" for n in names] + ["</tr>"]
    for i, row in enumerate(cm):
        out.append(f'<tr><th class="l">{names[i]}</th>')
        out += [f"<td{' class=diag' if i == j else ''}>{int(v)}</td>" for j, v in enumerate(row)]
        out.append("</tr>")
    out.append("</table>")
    return "".join(out)


def _figure(name: str, caption: str) -> str:
    return (
        f'<figure><img src="{name}" alt="{html.escape(caption)}">'
        f"<figcaption>{html.escape(caption)}</figcaption></figure>"
    )


def _format_param(value) -> str:
    return repr(value) if isinstance(value, str) else str(value)


REPORT_FILES = (
    "index.html",
    "objective.png",
    "roc.png",
    "precision_recall.png",
    "calibration.png",
    "coefficients.png",
    "decision_boundary.png",
)


def write_report(model, X, y, out_dir, *, title=None, data_name=None, feature_names=None,
                 in_sample=None, train=None, target=None, training=None):  # fmt: skip
    """Write ``index.html`` and its PNG plots for ``model`` evaluated on ``(X, y)``.

    Plots: objective and gradient per iteration (from ``history_``), ROC and precision-recall
    curves, calibration, the largest coefficients, and the decision boundary when the model
    has two features. Files are built in a temporary directory and moved into ``out_dir``
    (created if missing) only when all are written. Returns the path of ``index.html``.
    """
    from ..io import atomic_directory

    metrics = classification_metrics(model, X, y)
    y = np.asarray(y.detach().cpu().numpy() if hasattr(y, "detach") else y)
    classes = model.classes_
    if feature_names is None:
        feature_names = getattr(model, "feature_names_in_", None)
    if feature_names is None:
        feature_names = [f"x{j}" for j in range(model.n_features_in_)]
    feature_names = [str(f) for f in feature_names]
    proba = metrics["proba"]
    figures = []
    with atomic_directory(out_dir) as tmp:
        history = getattr(model, "history_", None) or {}
        if history.get("objective"):
            _plots.plot_history(history, tmp / "objective.png", tol=getattr(model, "tol", None))
            figures.append(
                (
                    "objective.png",
                    "The solver's objective (scikit-learn's divided by C·Σ weights) and its "
                    "largest gradient entry per iteration; it stops when the gradient is "
                    "below tol.",
                )
            )
        _plots.plot_roc(y, proba, classes, tmp / "roc.png")
        figures.append(("roc.png", "ROC curve(s) on this data; AUC in the legend."))
        _plots.plot_precision_recall(y, proba, classes, tmp / "precision_recall.png")
        figures.append(("precision_recall.png", "Precision against recall; AP in the legend."))
        _plots.plot_calibration(y, proba, classes, tmp / "calibration.png")
        figures.append(
            (
                "calibration.png",
                "Observed frequency of the class per bin of predicted probability "
                "(on the diagonal when calibrated), and how the predictions are spread.",
            )
        )
        _plots.plot_coefficients(model.coef_, feature_names, classes, tmp / "coefficients.png")
        figures.append(
            (
                "coefficients.png",
                "The largest coefficients (per unit of each input: scale the inputs to "
                "compare them).",
            )
        )
        if model.n_features_in_ == 2:
            Xn = np.asarray(X.detach().cpu().numpy() if hasattr(X, "detach") else X, dtype=float)
            _plots.plot_decision_boundary(
                model, Xn, y, classes, feature_names, tmp / "decision_boundary.png"
            )
            figures.append(("decision_boundary.png", "Predictions over the plane of the data."))
        page = _page(model, metrics, figures, title=title, data_name=data_name)
        (tmp / "index.html").write_text(page, encoding="utf-8")
    return Path(out_dir) / "index.html"


def _page(model, metrics, figures, *, title, data_name) -> str:
    title = title or f"torchlogit report: {type(model).__name__}"
    scores = [
        ("samples", metrics["n_samples"]),
        ("accuracy", f"{metrics['accuracy']:.4f}"),
        ("log-loss", f"{metrics['log_loss']:.5f}"),
        ("ROC AUC" + (" (one-vs-rest, macro)" if len(model.classes_) > 2 else ""),
         f"{metrics['roc_auc']:.4f}"),
    ]  # fmt: skip
    fit = [
        ("classes", ", ".join(str(c) for c in model.classes_)),
        ("features", model.n_features_in_),
        ("solver", getattr(model, "solver_", "?")),
        ("iterations", int(np.asarray(getattr(model, "n_iter_", [0])).max())),
        ("converged", getattr(model, "converged_", "?")),
    ]
    history = getattr(model, "history_", None) or {}
    if history.get("objective"):
        fit.append(("final objective", f"{history['objective'][-1]:.10g}"))
    params = [(k, _format_param(v)) for k, v in sorted(model.get_params(deep=False).items())]
    sub = f"evaluated on {html.escape(str(data_name))} · " if data_name else ""
    sub += f"torchlogit {__version__} · {time.strftime('%Y-%m-%d %H:%M:%S')}"
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
        f'<p class="sub">{sub}</p>',
        '<div class="grid"><div><h2>Scores</h2>',
        _table(scores),
        "</div><div><h2>Fit</h2>",
        _table(fit),
        "</div><div><h2>Parameters</h2>",
        _table(params),
        "</div></div>",
        "<h2>Confusion matrix</h2>",
        _confusion_table(metrics["confusion_matrix"], model.classes_),
        "<h2>Plots</h2>",
        '<div class="grid">',
        *(_figure(name, caption) for name, caption in figures),
        "</div></body></html>",
    ]
    return "\n".join(parts) + "\n"

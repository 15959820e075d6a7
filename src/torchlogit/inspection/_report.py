"""An HTML report of a fitted model on labelled data: what was evaluated, numbers, tables and
linked PNG plots (layout and pieces in :mod:`._report_html`)."""

from __future__ import annotations

import time
import warnings
from pathlib import Path

import numpy as np

from .._version import __version__
from . import _plots
from ._coefficients import coefficient_table
from ._cv_section import CV_CURVE_FILE, CV_PATHS_FILE, cv_section
from ._cv_summary import is_cv_model, iterations_text
from ._inference_section import FOREST_FILE, standard_errors
from ._metrics import classification_metrics
from ._report_html import CSS, card, confusion_table, esc, figure, placeholder, table

#: Every file a report writes into its folder (index.html first).
REPORT_FILES = (
    "index.html",
    "objective.png",
    "roc.png",
    "precision_recall.png",
    "calibration.png",
    "coefficients.png",
    "decision_boundary.png",
    FOREST_FILE,
    CV_CURVE_FILE,
    CV_PATHS_FILE,
)
_TOP_COEFFICIENTS = 30


def _numpy(a):
    return np.asarray(a.detach().cpu().numpy() if hasattr(a, "detach") else a)


def _absent(y, classes) -> list[str]:
    return [str(c) for c in classes if not np.any(y == c)]


def write_report(model, X, y, out_dir, *, title=None, data_name=None, feature_names=None,
                 in_sample=None, train=None, target=None, training=None):  # fmt: skip
    """Write ``index.html`` and its PNG plots for ``model`` evaluated on ``(X, y)``.

    ``data_name``: what ``(X, y)`` is (a file name); ``in_sample``: True when it is the
    training data, False when held-out, None when unknown (the page says which);
    ``train``: optional ``(X_train, y_train, name)`` whose scores are shown beside;
    ``target``: the label column; ``training``: the model file's metadata (training file,
    rows, target, standardisation).

    Plots: objective and gradient per iteration, ROC and precision-recall curves,
    calibration, the largest coefficients, the decision boundary for two features, and for a
    cross-validated model its CV table, CV curve and coefficient paths; a
    plot that cannot be drawn (one class present) is a sentence saying why. Warnings raised
    while drawing are shown on the page, not leaked. Files are built in a temporary folder and
    moved into ``out_dir`` only when all are written. Returns the path of ``index.html``.
    """
    from ..io import atomic_directory

    metrics = classification_metrics(model, X, y)
    y = _numpy(y)
    train_metrics = None
    if train is not None:
        train_metrics = classification_metrics(model, train[0], train[1])
        train_metrics["y"], train_metrics["name"] = _numpy(train[1]), str(train[2])
    classes = model.classes_
    if feature_names is None:
        feature_names = getattr(model, "feature_names_in_", None)
    if feature_names is None:
        feature_names = [f"x{j}" for j in range(model.n_features_in_)]
    feature_names = [str(f) for f in feature_names]
    with atomic_directory(out_dir) as tmp, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        figures = _draw(model, X, y, metrics["proba"], classes, feature_names, tmp)
        notes = sorted({" ".join(str(w.message).split()) for w in caught})
        rows = (train[0], train[1]) if train is not None else (X, y) if in_sample else None
        se_section, forest = _standard_errors(model, rows, tmp)
        figures.append(forest)
        cv_html, cv_figures = cv_section(model, feature_names, tmp)
        page = _page(model, metrics, train_metrics, y, cv_figures + figures, notes,
                     feature_names, title=title, data_name=data_name, in_sample=in_sample,
                     target=target, training=training or {}, se_section=se_section,
                     cv_html=cv_html)  # fmt: skip
        (tmp / "index.html").write_text(page, encoding="utf-8")
    return Path(out_dir) / "index.html"


def _standard_errors(model, rows, tmp) -> tuple[str, str]:
    """The standard-error section, except for a model whose C was chosen by
    cross-validation: the choice used the same rows, which the usual errors ignore."""
    if not is_cv_model(model):
        return standard_errors(model, rows, tmp)
    why = ("not shown for a model whose C was chosen by cross-validation: the choice used "
           "these rows, and the usual standard errors do not account for it")  # fmt: skip
    return f"<p>{esc(why)}</p>", placeholder("Forest plot", why)


def _draw(model, X, y, proba, classes, feature_names, tmp) -> list[str]:
    """The plots' HTML (figures or placeholders), drawing the PNGs into ``tmp``."""
    out = []
    history = getattr(model, "history_", None) or {}
    if history.get("objective"):
        _plots.plot_history(
            history, tmp / "objective.png", tol=getattr(model, "tol_", getattr(model, "tol", None))
        )
        out.append(figure("objective.png", "The solver's objective (scikit-learn's divided by "
                          "C·Σ weights) and its largest gradient entry per iteration; it stops "
                          "when the gradient is below tol."))  # fmt: skip
    present = [c for c in classes if np.any(y == c)]
    absent = _absent(y, classes)
    if len(present) < 2:
        why = (f"the data hold only class {present[0]}; " if present else "no rows; ") + (
            "a curve needs rows of the class and rows of the others.")  # fmt: skip
        out.append(placeholder("ROC curve", why))
        out.append(placeholder("Precision–recall curve", why))
    else:
        missing = f" No curve for {', '.join(absent)}: absent from this data." if absent else ""
        _plots.plot_roc(y, proba, classes, tmp / "roc.png")
        out.append(figure("roc.png", f"ROC curve(s) on this data; AUC in the legend.{missing}"))
        _plots.plot_precision_recall(y, proba, classes, tmp / "precision_recall.png")
        out.append(figure("precision_recall.png", "Precision against recall; average precision "
                          f"in the legend, the class's share dotted.{missing}"))  # fmt: skip
    _plots.plot_calibration(y, proba, classes, tmp / "calibration.png")
    out.append(figure("calibration.png", "Observed frequency of the class per bin of predicted "
                      "probability (on the diagonal when calibrated); the numbers are the rows "
                      "in each bin: a bin of a few rows says little.",
                      wide=len(classes) > 2))  # fmt: skip
    _plots.plot_coefficients(model.coef_, feature_names, classes, tmp / "coefficients.png")
    out.append(
        figure(
            "coefficients.png",
            "The largest coefficients, per unit of each input "
            "column (scale the inputs, or fit with --standardize, to compare them).",
        )
    )
    if model.n_features_in_ == 2:
        Xn = np.asarray(_numpy(X), dtype=float)
        _plots.plot_decision_boundary(model, Xn, y, classes, feature_names,
                                      tmp / "decision_boundary.png")  # fmt: skip
        out.append(figure("decision_boundary.png", "Predictions over the plane of the data."))
    return out


def _auc(metrics, y, classes) -> str:
    if np.isfinite(metrics["roc_auc"]):
        return f"{metrics['roc_auc']:.4f}"
    absent = _absent(y, classes)
    return f"n/a (class {', '.join(absent)} absent)" if absent else "n/a"


def _scores(model, metrics, y, train_metrics, held) -> str:
    classes = model.classes_
    rows = [
        ["rows", metrics["n_samples"]],
        ["accuracy", f"{metrics['accuracy']:.4f}"],
        ["log-loss", f"{metrics['log_loss']:.5f}"],
        ["ROC AUC" + (" (one-vs-rest, macro)" if len(classes) > 2 else ""),
         _auc(metrics, y, classes)],
    ]  # fmt: skip
    header = ["", f"this data ({held})"]
    if train_metrics is not None:
        header.append("training data (in-sample)")
        extra = [train_metrics["n_samples"], f"{train_metrics['accuracy']:.4f}",
                 f"{train_metrics['log_loss']:.5f}",
                 _auc(train_metrics, train_metrics["y"], classes)]  # fmt: skip
        for row, v in zip(rows, extra, strict=True):
            row.append(v)
    return table(rows, header)


def _balance(model, y, train_metrics) -> str:
    header = ["class", "rows", "share"]
    if train_metrics is not None:
        header += ["training rows", "training share"]
    rows = []
    for c in model.classes_:
        n = int(np.sum(y == c))
        row = [c, n, f"{n / max(len(y), 1):.1%}"]
        if train_metrics is not None:
            t = int(np.sum(train_metrics["y"] == c))
            row += [t, f"{t / max(len(train_metrics['y']), 1):.1%}"]
        rows.append(row)
    return table(rows, header)


def _per_class(model, metrics, y) -> str:
    from sklearn.metrics import precision_recall_fscore_support

    classes = model.classes_
    p, r, f, s = precision_recall_fscore_support(y, metrics["pred"], labels=classes,
                                                 zero_division=0)  # fmt: skip
    rows = [[c, f"{p[k]:.3f}", f"{r[k]:.3f}", f"{f[k]:.3f}", int(s[k])]
            for k, c in enumerate(classes)]  # fmt: skip
    w = s / max(s.sum(), 1)
    rows.append(["macro average", f"{p.mean():.3f}", f"{r.mean():.3f}", f"{f.mean():.3f}",
                 int(s.sum())])  # fmt: skip
    rows.append(["weighted average", f"{w @ p:.3f}", f"{w @ r:.3f}", f"{w @ f:.3f}",
                 int(s.sum())])  # fmt: skip
    return table(rows, ["class", "precision", "recall", "F1", "rows"])


def _coefficients(model, feature_names) -> str:
    t = coefficient_table(model, feature_names, top=_TOP_COEFFICIENTS)
    rows = []
    if t["fit_intercept"]:
        rows.append(["(intercept)", *(f"{v:.5g}" for v in t["intercept"])])
    rows += [[name, *(f"{v:.5g}" for v in values)] for name, values in t["rows"]]
    shown = (f"the {t['shown']} largest of {t['n_features']} features"
             if t["shown"] < t["n_features"] else f"all {t['n_features']} features")  # fmt: skip
    return (f"<p>{esc(shown)}; <b>{t['n_nonzero']} of {t['n_coef']}</b> coefficients are "
            "non-zero; on the original columns</p>"
            + table(rows, ["feature", *t["columns"]]))  # fmt: skip


def _fit_rows(model, training) -> list:
    classes = model.classes_
    rows = [("model", f"{type(model).__name__}, {len(classes)} classes"),
            ("features", model.n_features_in_)]  # fmt: skip
    if training.get("training_data"):
        rows.append(("trained on", training["training_data"]))
        if training.get("n_samples") is not None:
            rows.append(("training rows", training["n_samples"]))
    if training.get("standardize"):
        rows.append(("standardized", "yes (coefficients shown on the original columns)"))
    if is_cv_model(model):
        rows.append(("C (cross-validated)", f"{model.C_:.4g}, selection {model.selection}"))
    rows.append(("solver", getattr(model, "solver_", "?")))
    n_iter = int(np.asarray(getattr(model, "n_iter_", [0])).max())
    rows.append(("iterations", iterations_text(model) if is_cv_model(model) else n_iter))
    rows.append(("converged", "yes" if getattr(model, "converged_", True) else "NO"))
    history = getattr(model, "history_", None) or {}
    if history.get("gradient_norm"):
        rows.append(("final max|gradient|", f"{history['gradient_norm'][-1]:.2e}"))
    if history.get("objective"):
        rows.append(("final objective", f"{history['objective'][-1]:.10g}"))
    return rows


def _non_default_params(model) -> list:
    defaults = type(model)().get_params(deep=False)
    rows = []
    for name, value in sorted(model.get_params(deep=False).items()):
        if name in ("verbose", "checkpoint_dir", "distributed"):
            continue
        default = defaults.get(name)
        same = value is default or (type(value) is type(default) and value == default)
        if not same:
            rows.append((name, "none" if value is None else value))
    return rows or [("(all defaults)", "")]


def _evaluated(metrics, data_name, in_sample, target, training) -> str:
    what = esc(data_name) if data_name else "the given rows"
    col = f", target column <b>{esc(target)}</b>" if target else ""
    if in_sample is True:
        badge = ('<span class="badge in">in-sample</span> these are the rows the model was '
                 "fitted on: the scores are optimistic; evaluate on held-out rows to judge "
                 "it")  # fmt: skip
    elif in_sample is False:
        trained = training.get("training_data")
        badge = ('<span class="badge out">held-out</span> not the training data'
                 + (f" (trained on {esc(trained)})" if trained else ""))  # fmt: skip
    else:
        badge = ('<span class="badge unknown">unknown</span> whether these rows were used '
                 "for training")  # fmt: skip
    return (f'<p class="eval">Scores on <b>{what}</b>: {metrics["n_samples"]} rows{col}. '
            f"{badge}.</p>")  # fmt: skip


def _page(model, metrics, train_metrics, y, figures, notes, feature_names, *, title,
          data_name, in_sample, target, training, se_section="", cv_html="") -> str:  # fmt: skip
    title = title or f"torchlogit report: {type(model).__name__}"
    held = {True: "in-sample", False: "held-out"}.get(in_sample, "evaluated")
    sub = f"torchlogit {__version__} · {time.strftime('%Y-%m-%d %H:%M:%S')}"
    cards = [
        card("Scores", _scores(model, metrics, y, train_metrics, held)),
        card("Class balance", _balance(model, y, train_metrics)),
        card("Per class", _per_class(model, metrics, y)),
        card("Confusion matrix", confusion_table(metrics["confusion_matrix"], model.classes_)),
        card("Model and fit", table(_fit_rows(model, training), kv=True)),
        card("Settings (non-default only)", table(_non_default_params(model), kv=True)),
    ]
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{esc(title)}</title><style>{CSS}</style></head><body>",
        f"<h1>{esc(title)}</h1>",
        f'<p class="sub">{sub}</p>',
        _evaluated(metrics, data_name, in_sample, target, training),
        *(f'<p class="note">note: {esc(n)}</p>' for n in notes),
        '<div class="cards">',
        *cards,
        "</div>",
        "<h2>Coefficients</h2>",
        _coefficients(model, feature_names),
        *(["<h2>Cross-validation</h2>", cv_html] if cv_html else []),
        "<h2>Standard errors</h2>",
        se_section,
        "<h2>Plots</h2>",
        '<div class="plots">',
        *figures,
        "</div></body></html>",
    ]
    return "\n".join(parts) + "\n"

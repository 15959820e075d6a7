"""The numbers people ask of a fitted classifier on labelled data (scikit-learn's metrics)."""

from __future__ import annotations

import math

import numpy as np


def _numpy(a) -> np.ndarray:
    if hasattr(a, "detach"):
        return a.detach().cpu().numpy()
    return np.asarray(a)


def check_labels(model, y) -> np.ndarray:
    """``y`` as a NumPy array whose labels are all among ``model.classes_``.

    Raises ``ValueError`` naming the first unknown label and its row (counting from 1).
    """
    y = _numpy(y)
    known = np.isin(y, model.classes_)
    if not known.all():
        i = int(np.flatnonzero(~known)[0])
        label = y[i].item() if isinstance(y[i], np.generic) else y[i]
        raise ValueError(
            f"row {i + 1}: label {label!r} is not one of the model's classes "
            f"{model.classes_.tolist()}"
        )
    return y


def classification_metrics(model, X, y) -> dict:
    """Accuracy, log-loss, ROC AUC and the confusion matrix of ``model`` on ``(X, y)``.

    ROC AUC is the binary AUC of ``classes_[1]`` for two classes and the one-vs-rest macro
    average for more (``nan`` when a class is absent from ``y``). The confusion matrix has
    rows = true class, columns = predicted class, both in ``classes_`` order. Also returns
    ``proba`` ``(n, K)`` and ``pred`` ``(n,)`` for reuse.
    """
    from sklearn.metrics import accuracy_score, confusion_matrix, log_loss, roc_auc_score

    y = check_labels(model, y)
    classes = model.classes_
    proba = _numpy(model.predict_proba(X)).astype(np.float64)
    pred = _numpy(model.predict(X))
    present = np.isin(classes, y)
    if len(classes) == 2:
        auc = roc_auc_score(y == classes[1], proba[:, 1]) if present.all() else math.nan
    else:
        auc = (
            roc_auc_score(np.searchsorted(classes, y), proba, multi_class="ovr")
            if present.all()
            else math.nan
        )
    return {
        "n_samples": int(len(y)),
        "classes": classes,
        "accuracy": float(accuracy_score(y, pred)),
        "log_loss": float(log_loss(y, proba, labels=classes)),
        "roc_auc": float(auc),
        "confusion_matrix": confusion_matrix(y, pred, labels=classes),
        "proba": proba,
        "pred": pred,
    }


def format_metrics(metrics: dict) -> str:
    """A plain-text block: the three scores, then the confusion matrix with class labels."""
    lines = [
        f"samples   {metrics['n_samples']}",
        f"accuracy  {metrics['accuracy']:.6f}",
        f"log-loss  {metrics['log_loss']:.6f}",
        f"ROC AUC   {metrics['roc_auc']:.6f}",
        "",
        "confusion matrix (rows: true class, columns: predicted class)",
    ]
    labels = [str(c) for c in metrics["classes"]]
    cm = metrics["confusion_matrix"]
    width = max([len(s) for s in labels] + [len(str(int(cm.max())))] + [4])
    lines.append(" " * (width + 2) + " ".join(f"{s:>{width}}" for s in labels))
    for label, row in zip(labels, cm, strict=True):
        lines.append(f"{label:>{width}}  " + " ".join(f"{int(v):>{width}d}" for v in row))
    return "\n".join(lines)

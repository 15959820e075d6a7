"""Labels read as text (CSV): what type they become, decided once from the distinct values.

Parsing every value as a number when it looks like one merges classes (``"1"`` and ``"01"``
become 1, ``"007"`` becomes 7). ``target_type="auto"`` instead keeps the text unless *every*
distinct value is written canonically as a number of one kind — an integer without leading
zeros or a plus sign (``"-3"``, ``"0"``, ``"42"``), or a float as Python writes it
(``"0.5"``, ``"1.0"``) — or every one is a boolean in one spelling (``"True"`` / ``"False"``,
``"true"`` / ``"false"``, ``"TRUE"`` / ``"FALSE"``). Then no two texts map to one label.
"""

from __future__ import annotations

import dataclasses
import re

import numpy as np

TARGET_TYPES = ("auto", "str", "int", "float")
_INT = re.compile(r"-?(0|[1-9][0-9]*)")
_BOOLS = ({"True", "False"}, {"true", "false"}, {"TRUE", "FALSE"})


def _canonical_float(s: str) -> bool:
    try:
        return repr(float(s)) == s
    except ValueError:
        return False


def label_kind(classes) -> str:
    """``"int"``, ``"float"``, ``"bool"`` or ``"str"`` for the distinct labels ``classes``
    (texts; labels already parsed keep their type's kind)."""
    classes = np.asarray(classes)
    if classes.dtype.kind in "iu":
        return "int"
    if classes.dtype.kind == "f":
        return "float"
    if classes.dtype.kind == "b":
        return "bool"
    texts = [str(c) for c in classes.tolist()]
    if all(_INT.fullmatch(t) and -(2**63) <= int(t) < 2**63 for t in texts):
        return "int"
    if all(_canonical_float(t) for t in texts):
        return "float"
    if any(set(texts) <= b for b in _BOOLS):
        return "bool"
    return "str"


def cast_labels(y: np.ndarray, kind: str | None) -> np.ndarray:
    """Texts ``y`` as labels of ``kind`` (``None`` / ``"str"``: unchanged)."""
    if kind in (None, "str") or y.dtype.kind not in "OUS":
        return y
    if kind == "int":
        return np.asarray(y, dtype=str).astype(np.int64)
    if kind == "float":
        return np.asarray(y, dtype=str).astype(np.float64)
    return np.char.lower(np.asarray(y, dtype=str)) == "true"


def relabel_summary(summary, kind: str):
    """``summary`` with its text classes cast to ``kind`` (re-sorted, sums with them)."""
    classes = cast_labels(np.asarray(summary.classes, dtype=object), kind)
    if classes is summary.classes or kind in (None, "str"):
        return summary
    order = np.argsort(classes, kind="stable")
    return dataclasses.replace(
        summary,
        classes=np.asarray(classes)[order],
        class_weight_sums=np.asarray(summary.class_weight_sums)[order],
    )

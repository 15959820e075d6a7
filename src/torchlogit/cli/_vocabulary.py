"""The command line's words in every message: estimator errors and warnings are written for
Python callers (``penalty='l2'``, ``max_iter=1``, ``None``); the command line says
``--penalty l2``, ``--max-iter 1``, ``--penalty none``. :func:`to_cli` translates one line at
the boundary, so the estimator keeps speaking Python to Python users."""

from __future__ import annotations

import re

#: Estimator parameter -> command-line flag.
FLAGS = {
    "C": "--C",
    "penalty": "--penalty",
    "l1_ratio": "--l1-ratio",
    "solver": "--solver",
    "max_iter": "--max-iter",
    "tol": "--tol",
    "class_weight": "--class-weight",
    "dtype": "--dtype",
    "device": "--device",
    "checkpoint_dir": "--checkpoint-dir",
}

_SKLEARN = re.compile(r"The '(\w+)' parameter of \w+ must be (.+?)\. Got (.+?) instead\.")
_ASSIGN = re.compile(r"\b(" + "|".join(FLAGS) + r")\s?=\s?('[^']*'|[^\s,;:)]+)")
_BARE = re.compile(r"(?<![-\w'])(max_iter|l1_ratio|class_weight|checkpoint_dir|tol)(?![\w'])")
_PHRASES = [
    ("scale the data (e.g. sklearn.preprocessing.StandardScaler)", "add --standardize"),
    ("sklearn.preprocessing.StandardScaler", "--standardize"),
    ("fit_intercept=False", "--no-intercept"),
    ("lower C", "lower --C"),
    ("finite C", "finite --C"),
]


def _value(name: str, raw: str) -> str:
    value = raw.strip("'")
    if value == "None":
        return "none" if name == "penalty" else "(not given)"
    return value


def _assign(m: re.Match) -> str:
    name, raw = m.group(1), m.group(2)
    return f"{FLAGS[name]} {_value(name, raw)}"


def _sklearn(m: re.Match) -> str:
    name, cond, got = m.group(1), m.group(2), m.group(3)
    flag = FLAGS.get(name, f"--{name.replace('_', '-')}")
    cond = cond.replace(" or None", " or none" if name == "penalty" else "")
    return f"{flag} must be {cond}; got {_value(name, got)}"


def to_cli(message: str) -> str:
    """``message`` with Python parameter spellings replaced by the command's flags."""
    for old, new in _PHRASES:
        message = message.replace(old, new)
    message = _SKLEARN.sub(_sklearn, message)
    message = _ASSIGN.sub(_assign, message)
    return _BARE.sub(lambda m: FLAGS[m.group(1)], message)

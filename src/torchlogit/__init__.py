"""torchlogit: logistic regression done right, on PyTorch.

>>> from torchlogit import LogisticRegression
>>> clf = LogisticRegression(C=1.0).fit(X, y)  # doctest: +SKIP

The estimators (and with them torch and scikit-learn) are imported on first use, so that
``torchlogit --help`` and ``import torchlogit.cli`` start in a fraction of a second.
"""

from ._version import __version__

_LAZY = {"LogisticRegression", "LogisticRegressionCV", "SeparableDataWarning", "l1_min_c"}


def __getattr__(name):
    if name in _LAZY:
        from . import estimators

        value = getattr(estimators, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'torchlogit' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | _LAZY)


def load(path, *, device=None):
    """Read a model saved with ``clf.save(path)``; see :func:`torchlogit.io.load`."""
    from .io import load as _load

    return _load(path, device=device)


__all__ = [
    "LogisticRegression",
    "LogisticRegressionCV",
    "SeparableDataWarning",
    "__version__",
    "l1_min_c",
    "load",
]

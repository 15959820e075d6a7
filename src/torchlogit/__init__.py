"""torchlogit: logistic regression done right, on PyTorch.

>>> from torchlogit import LogisticRegression
>>> clf = LogisticRegression(C=1.0).fit(X, y)  # doctest: +SKIP
"""

from ._version import __version__
from .estimators import LogisticRegression, SeparableDataWarning, l1_min_c


def load(path, *, device=None):
    """Read a model saved with ``clf.save(path)``; see :func:`torchlogit.io.load`."""
    from .io import load as _load

    return _load(path, device=device)


__all__ = ["LogisticRegression", "SeparableDataWarning", "__version__", "l1_min_c", "load"]

"""torchlogit: logistic regression done right, on PyTorch.

>>> from torchlogit import LogisticRegression
>>> clf = LogisticRegression(C=1.0).fit(X, y)  # doctest: +SKIP
"""

from ._version import __version__
from .estimators import LogisticRegression, SeparableDataWarning

__all__ = ["LogisticRegression", "SeparableDataWarning", "__version__"]

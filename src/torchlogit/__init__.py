"""torchlogit: logistic regression done right, on PyTorch.

>>> from torchlogit import LogisticRegression
>>> clf = LogisticRegression(C=1.0).fit(X, y)  # doctest: +SKIP
"""

from . import io as _io
from ._version import __version__
from .estimators import LogisticRegression, SeparableDataWarning, l1_min_c, register_file_writers

# The estimators' save / export_onnx write through the file layer, which sits to their right.
register_file_writers(save=_io.save, export_onnx=_io.export_onnx)


def load(path, *, device=None):
    """Read a model saved with ``clf.save(path)``; see :func:`torchlogit.io.load`."""
    return _io.load(path, device=device)


__all__ = ["LogisticRegression", "SeparableDataWarning", "__version__", "l1_min_c", "load"]

"""Model files and PyTorch for the estimators, without importing the file formats.

``io`` knows the estimator classes, not the reverse: ``torchlogit.io`` registers its writers
here when it is imported (:func:`register_file_writers`) and the estimators' ``save`` /
``export_onnx`` call them. An estimator saved before anything imported ``torchlogit.io``
imports it by name first (no import statement: the layers stay acyclic).
"""

from __future__ import annotations

import importlib

import torch
from sklearn.utils.validation import check_is_fitted

#: ``"save"`` and ``"export_onnx"``: ``torchlogit.io.save`` / ``export_onnx``.
_FILE_WRITERS: dict = {}


def register_file_writers(*, save, export_onnx) -> None:
    """Make the estimators' ``save`` / ``export_onnx`` call these (``torchlogit.io``'s)."""
    _FILE_WRITERS.update(save=save, export_onnx=export_onnx)


def _writer(name: str):
    if name not in _FILE_WRITERS:
        importlib.import_module("torchlogit.io")  # registers its writers on import
    return _FILE_WRITERS[name]


class ModelFilesMixin:
    """``save``, ``export_onnx`` and ``to_torch`` for an estimator with ``coef_tensor_``."""

    def save(self, path, *, metadata=None):
        """Write the model to a safetensors file (no pickle); see :func:`torchlogit.io.save`."""
        _writer("save")(self, path, metadata=metadata)

    def to_torch(self, dtype=torch.float32):
        """The fitted model as a :class:`torchlogit.nn.LogisticLayer` on the model's device,
        in ``dtype`` (float32 by default, as ``nn.Linear``; ``None``: the fitted dtype)."""
        from ..nn import LogisticLayer

        check_is_fitted(self, "coef_")
        return LogisticLayer.from_estimator(self, dtype=dtype, device=self.coef_tensor_.device)

    def export_onnx(self, path, *, dtype=None):
        """Write an ONNX graph that outputs probabilities; see :func:`torchlogit.io.export_onnx`."""
        _writer("export_onnx")(self, path, dtype=dtype)

"""Model files and PyTorch for the estimators, without importing the file formats.

``io`` knows the estimator classes, not the reverse: the package root registers io's writers
here (:func:`register_file_writers`) and the estimators' ``save`` / ``export_onnx`` call them.
"""

from __future__ import annotations

from sklearn.utils.validation import check_is_fitted

#: ``"save"`` and ``"export_onnx"``: ``torchlogit.io.save`` / ``export_onnx``.
_FILE_WRITERS: dict = {}


def register_file_writers(*, save, export_onnx) -> None:
    """Make the estimators' ``save`` / ``export_onnx`` call these (``torchlogit.io``'s)."""
    _FILE_WRITERS.update(save=save, export_onnx=export_onnx)


class ModelFilesMixin:
    """``save``, ``export_onnx`` and ``to_torch`` for an estimator with ``coef_tensor_``."""

    def save(self, path, *, metadata=None):
        """Write the model to a safetensors file (no pickle); see :func:`torchlogit.io.save`."""
        _FILE_WRITERS["save"](self, path, metadata=metadata)

    def to_torch(self):
        """The fitted model as a :class:`torchlogit.nn.LogisticLayer` on the model's device."""
        from ..nn import LogisticLayer

        check_is_fitted(self, "coef_")
        return LogisticLayer.from_estimator(self)

    def export_onnx(self, path, *, dtype=None):
        """Write an ONNX graph that outputs probabilities; see :func:`torchlogit.io.export_onnx`."""
        _FILE_WRITERS["export_onnx"](self, path, dtype=dtype)

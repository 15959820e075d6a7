"""Files: safe model files (safetensors + JSON, never pickle), ONNX export, data tables.

>>> from torchlogit.io import save, load
>>> save(clf, "model.safetensors")  # doctest: +SKIP
>>> clf2 = load("model.safetensors", device="cpu")  # doctest: +SKIP
"""

from ._atomic import (
    OutputPathError,
    atomic_directory,
    atomic_path,
    check_output,
    check_output_dir,
)
from ._errors import DataFileError, ModelFileError
from ._format import MAX_HEADER_BYTES
from ._model import FORMAT_VERSION, load, read_metadata, save
from ._onnx import export_onnx
from ._tables import feature_matrix, read_table, target_vector, write_table


def _register_with_the_estimators() -> None:
    """The estimators' ``save`` / ``export_onnx`` write through this layer, which sits to
    their right: it registers its writers with them when it is imported."""
    from ..estimators import register_file_writers

    register_file_writers(save=save, export_onnx=export_onnx)


_register_with_the_estimators()

__all__ = [
    "FORMAT_VERSION",
    "MAX_HEADER_BYTES",
    "DataFileError",
    "ModelFileError",
    "OutputPathError",
    "atomic_directory",
    "atomic_path",
    "check_output",
    "check_output_dir",
    "export_onnx",
    "feature_matrix",
    "load",
    "read_metadata",
    "read_table",
    "save",
    "target_vector",
    "write_table",
]

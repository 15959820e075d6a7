"""Data layer: validation, label encoding, dtype and device, batches."""

from ._csv import CSVSource
from ._design import (  # the products the objective layer applies X with
    Batch,
    linear_predict,
    row_square_norms,
    transpose_matmul,
    weighted_cross_gram,
    weighted_gram,
    weighted_square_sums,
)
from ._labels import class_weight_per_sample, encode_labels
from ._memory import InMemoryData
from ._numpy_source import NumpySource
from ._parquet import ParquetSource
from ._sources import ArraySource, SourceSummary, StreamingSource
from ._sparse import SparseDesign, is_sparse_design
from ._streaming import StreamingData
from ._validation import (
    resolve_device,
    resolve_dtype,
    validate_sample_weight,
    validate_X,
    validate_X_y,
)

__all__ = [
    "ArraySource",
    "Batch",
    "CSVSource",
    "InMemoryData",
    "NumpySource",
    "ParquetSource",
    "SourceSummary",
    "SparseDesign",
    "StreamingData",
    "StreamingSource",
    "class_weight_per_sample",
    "encode_labels",
    "is_sparse_design",
    "linear_predict",
    "resolve_device",
    "resolve_dtype",
    "row_square_norms",
    "transpose_matmul",
    "validate_X",
    "validate_X_y",
    "validate_sample_weight",
    "weighted_cross_gram",
    "weighted_gram",
    "weighted_square_sums",
]

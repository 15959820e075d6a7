"""Data layer: validation, label encoding, dtype and device, batches."""

from ._array_source import ArraySource
from ._columns import ColumnSubset
from ._csv import CSVSource
from ._design import (
    Batch,
    add_gram_block,
    iter_row_blocks,
    linear_predict,
    row_square_norms,
    transpose_matmul,
    weighted_cross_gram,
    weighted_gram,
    weighted_grams,
    weighted_square_sums,
)
from ._folds import (
    FoldedData,
    HashFolds,
    IndexFolds,
    StackedFoldData,
    decode_fold_codes,
    fold_codes,
    fold_counts,
    fold_data,
    fold_weight_sums,
    stacked_fold_data,
)
from ._integrity import canonical_json, document_checksum
from ._kernels import panel_rows
from ._labels import (
    class_weight_per_sample,
    encode_labels,
    label_indices,
    label_values,
    per_class_weights,
)
from ._labels_text import TARGET_TYPES, cast_labels, label_kind
from ._memory import InMemoryData
from ._numpy_source import NumpySource
from ._parquet import ParquetSource
from ._paths import DATA_SUFFIXES, FILE_FORMATS, expand_paths, file_format
from ._prepare import TrainingSet, prepare, prepare_batch, validate_offset
from ._reducer import LocalReducer
from ._sources import SourceSummary, StreamingSource
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
    "add_gram_block",
    "panel_rows",
    "canonical_json",
    "document_checksum",
    "DATA_SUFFIXES",
    "FILE_FORMATS",
    "TARGET_TYPES",
    "ArraySource",
    "Batch",
    "CSVSource",
    "ColumnSubset",
    "FoldedData",
    "HashFolds",
    "InMemoryData",
    "IndexFolds",
    "LocalReducer",
    "NumpySource",
    "ParquetSource",
    "SourceSummary",
    "SparseDesign",
    "StackedFoldData",
    "StreamingData",
    "StreamingSource",
    "TrainingSet",
    "cast_labels",
    "class_weight_per_sample",
    "encode_labels",
    "label_indices",
    "label_values",
    "expand_paths",
    "file_format",
    "decode_fold_codes",
    "fold_codes",
    "fold_counts",
    "fold_data",
    "fold_weight_sums",
    "stacked_fold_data",
    "is_sparse_design",
    "iter_row_blocks",
    "label_kind",
    "linear_predict",
    "per_class_weights",
    "prepare",
    "prepare_batch",
    "resolve_device",
    "resolve_dtype",
    "row_square_norms",
    "transpose_matmul",
    "validate_X",
    "validate_X_y",
    "validate_offset",
    "validate_sample_weight",
    "weighted_cross_gram",
    "weighted_gram",
    "weighted_grams",
    "weighted_square_sums",
]

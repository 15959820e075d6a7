"""Data layer: validation, label encoding, dtype and device, batches."""

from ._design import Batch
from ._labels import class_weight_per_sample, encode_labels
from ._memory import InMemoryData
from ._validation import (
    resolve_device,
    resolve_dtype,
    validate_sample_weight,
    validate_X,
    validate_X_y,
)

__all__ = [
    "Batch",
    "InMemoryData",
    "class_weight_per_sample",
    "encode_labels",
    "resolve_device",
    "resolve_dtype",
    "validate_X",
    "validate_X_y",
    "validate_sample_weight",
]

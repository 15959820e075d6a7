"""The errors that the file layer raises: each names the file and what is wrong with it."""

from __future__ import annotations


class ModelFileError(ValueError):
    """A model file cannot be read: not a torchlogit file, truncated, tampered or too new."""


class DataFileError(ValueError):
    """A data file (CSV / Parquet) cannot be used: names the file, and the column and row."""


__all__ = ["DataFileError", "ModelFileError"]

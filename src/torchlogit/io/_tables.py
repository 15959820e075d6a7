"""Data tables for the command line: CSV / Parquet in (pyarrow), checked columns out.

Every problem is a :class:`DataFileError` that names the file and, where it applies, the
column and the row (rows count from 1 after the header; for CSV the file's line is given
too). Output tables are written to a temporary file and renamed.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..data import file_format
from ._atomic import atomic_path
from ._errors import DataFileError


def _kind(path) -> str:
    """``"csv"`` or ``"parquet"``, from the one table of formats (``data.FILE_FORMATS``)."""
    kind = file_format(path)
    if kind is not None:
        return kind
    raise DataFileError(
        f"{path}: unknown file type; use a name ending in .csv (or .csv.gz, .tsv) or .parquet"
    )


def _where(path, row: int) -> str:
    """Human position of 0-based data row ``row``."""
    if _kind(path) == "csv":
        return f"row {row + 1} (line {row + 2})"
    return f"row {row + 1}"


def read_table(path, *, text_columns=()):
    """Read a CSV or Parquet file into a pandas ``DataFrame`` (pyarrow does the parsing).

    ``text_columns``: columns kept as the text written in the file (``"007"`` stays
    ``"007"``; an empty field is missing), for labels that only look like numbers.
    """
    import pyarrow as pa

    kind = _kind(path)
    p = Path(path)
    if not p.is_file():
        raise DataFileError(f"{path}: no such file" if not p.exists() else f"{path}: not a file")
    if p.stat().st_size == 0:
        raise DataFileError(f"{path}: the file is empty")
    try:
        if kind == "csv":
            import pyarrow.csv as pacsv

            delimiter = "\t" if str(path).lower().endswith(".tsv") else ","
            convert = pacsv.ConvertOptions(
                column_types={c: pa.string() for c in text_columns}, strings_can_be_null=True
            )
            table = pacsv.read_csv(
                p, parse_options=pacsv.ParseOptions(delimiter=delimiter), convert_options=convert
            )
        else:
            import pyarrow.parquet as pq

            table = pq.read_table(p)
            for c in text_columns:
                if c in table.column_names and not pa.types.is_string(table[c].type):
                    i = table.column_names.index(c)
                    table = table.set_column(i, c, table[c].cast(pa.string()))
    except (pa.ArrowException, OSError) as exc:
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if "Empty CSV file" in msg:
            raise DataFileError(f"{path}: the file is empty") from None
        raise DataFileError(f"{path}: cannot read it as {kind.upper()}: {msg}") from None
    if table.num_columns == 0:
        raise DataFileError(f"{path}: the file has no columns")
    names = table.column_names
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise DataFileError(f"{path}: the column name {dupes[0]!r} appears more than once")
    if table.num_rows == 0:
        raise DataFileError(f"{path}: the file has a header but no data rows")
    return table.to_pandas()


def _missing_column(path, df, name) -> DataFileError:
    cols = ", ".join(repr(str(c)) for c in df.columns[:20])
    more = ", ..." if len(df.columns) > 20 else ""
    return DataFileError(f"{path}: no column {name!r} (the columns are {cols}{more})")


def feature_matrix(df, columns, path):
    """``df[columns]`` as float64 (a new ``DataFrame``), every value checked finite.

    Numeric and boolean columns convert directly; text columns must hold numbers.
    """
    import pandas as pd
    from pandas.api.types import is_bool_dtype, is_numeric_dtype, is_string_dtype

    out = {}
    for name in columns:
        if name not in df.columns:
            raise _missing_column(path, df, name)
        col = df[name]
        if is_bool_dtype(col) or is_numeric_dtype(col):
            values = col.to_numpy(dtype=np.float64, na_value=np.nan)
        elif is_string_dtype(col) or col.dtype == object:
            values = pd.to_numeric(col, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
        else:
            raise DataFileError(
                f"{path}: column {name!r} has type {col.dtype}; features must be numbers"
            )
        bad = ~np.isfinite(values)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raw = col.iloc[i]
            raw = raw.item() if isinstance(raw, np.generic) else raw
            if pd.isna(raw):
                what = "missing value"
            elif isinstance(raw, str):
                what = f"{raw!r} is not a number"
            else:
                what = f"{raw!r} is not finite"
            raise DataFileError(f"{path}: column {name!r}, {_where(path, i)}: {what}")
        out[str(name)] = values
    return pd.DataFrame(out, index=df.index)


def target_vector(df, name, path) -> np.ndarray:
    """The labels in column ``name`` as a NumPy array; no missing values allowed."""
    import pandas as pd

    if name not in df.columns:
        raise _missing_column(path, df, name)
    col = df[name]
    missing = col.isna().to_numpy()
    if missing.any():
        i = int(np.flatnonzero(missing)[0])
        raise DataFileError(f"{path}: column {name!r}, {_where(path, i)}: missing label")
    if isinstance(col.dtype, pd.CategoricalDtype):
        col = col.astype(col.cat.categories.dtype)
    return col.to_numpy()


def write_table(df, path) -> None:
    """Write ``df`` as CSV or Parquet (by ``path``'s extension), atomically."""
    kind = _kind(path)
    name = str(path).lower()
    compression = "gzip" if name.endswith(".gz") else "bz2" if name.endswith(".bz2") else None
    with atomic_path(path) as tmp:
        if kind == "csv":
            sep = "\t" if name.endswith(".tsv") else ","
            df.to_csv(tmp, index=False, sep=sep, compression=compression)
        else:
            df.to_parquet(tmp, index=False, engine="pyarrow")

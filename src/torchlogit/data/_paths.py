"""Input files: the one table of file formats and the one path expander.

``FILE_FORMATS`` maps a format to the name endings that mean it (lower case); every reader
(streaming sources, the command line, the model-file tables) asks :func:`file_format`.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Sequence
from pathlib import Path

FILE_FORMATS: dict[str, tuple[str, ...]] = {
    "parquet": (".parquet", ".parq", ".pq"),
    "csv": (".csv", ".csv.gz", ".csv.bz2", ".tsv"),
}

#: Every ending of a data file, in any format.
DATA_SUFFIXES: tuple[str, ...] = tuple(s for v in FILE_FORMATS.values() for s in v)


def file_format(path) -> str | None:
    """``"parquet"``, ``"csv"`` or ``None`` from the name's ending (case ignored)."""
    name = os.fspath(path).lower()
    for kind, suffixes in FILE_FORMATS.items():
        if name.endswith(suffixes):
            return kind
    return None


def expand_paths(
    patterns: str | os.PathLike | Sequence[str | os.PathLike],
    *,
    suffixes: tuple[str, ...] = DATA_SUFFIXES,
    must_exist: bool = False,
) -> list[str]:
    """The files named by ``patterns``, in the patterns' order (a folder's or a glob's sorted).

    Each pattern is a file, a folder (its files ending in one of ``suffixes``) or a glob.
    ``must_exist=False`` keeps a named file that does not exist (reading it then gives the
    error) and returns ``[]`` when nothing matches; ``must_exist=True`` (the sources) raises
    a ``ValueError`` for a missing file, an empty folder, a glob without match or no input.
    """
    if isinstance(patterns, (str, os.PathLike)):
        patterns = [patterns]
    suffixes = tuple(s.lower() for s in suffixes)
    found: list[str] = []
    for pattern in patterns:
        s = os.fspath(pattern)
        if os.path.isdir(s):
            here = sorted(
                str(f)
                for f in Path(s).iterdir()
                if f.is_file() and f.name.lower().endswith(suffixes)
            )
            if must_exist and not here:
                raise ValueError(f"folder {s!r} holds no {'/'.join(suffixes)} files")
            found += here
        elif glob.has_magic(s):
            here = sorted(glob.glob(s))
            if must_exist and not here:
                raise ValueError(f"no file matches {s!r}")
            found += here
        elif must_exist and not os.path.isfile(s):
            raise ValueError(f"no such file or folder: {s!r}")
        else:
            found.append(s)
    if must_exist and not found:
        raise ValueError("no input files given")
    return found

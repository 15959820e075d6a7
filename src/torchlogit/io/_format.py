"""The container: a safetensors file whose header carries torchlogit's JSON.

Layout (the safetensors format, https://huggingface.co/docs/safetensors):

    8 bytes  little-endian u64 ``N``
    N bytes  UTF-8 JSON: {"__metadata__": {"torchlogit": "<JSON document>"},
                          "<tensor name>": {"dtype": "F64", "shape": [...], "data_offsets": [b, e]},
                          ...}
    rest     the tensors' bytes, back to back

Reading never runs code from the file: only a regular file is opened (a FIFO, device or
directory is refused before anything is read, so nothing blocks), its header is checked here
(its size against a fixed limit and against the file's size, its JSON, every tensor's dtype,
shape and byte range) and then the tensors are read from the same open file into buffers of
the checked sizes; the torchlogit document carries a SHA-256 over itself and every tensor's
bytes, so corruption and edits are detected. Memory is bounded by the header limit plus the
tensors' declared (and verified) size. (``safetensors`` writes the files; reading is done
here so that the file checked is the file read. Tensors are read in the host's byte order,
which is the format's little-endian on every platform PyTorch ships for.)
"""

from __future__ import annotations

import json
import math
import os
import stat
from pathlib import Path

import torch

from ..data import canonical_json as data_canonical_json
from ..data import document_checksum
from ._atomic import atomic_path
from ._errors import ModelFileError

#: The key under ``__metadata__`` that holds torchlogit's JSON document.
METADATA_KEY = "torchlogit"
#: Headers larger than this are refused before being read, so that parsing a hostile header
#: costs at most a few hundred MB. Feature names dominate a real header: 16 MiB holds about
#: a million of them; :func:`write_container` refuses to write a larger one.
MAX_HEADER_BYTES = 16 * 2**20

_DTYPES = {
    "F64": (torch.float64, 8),
    "F32": (torch.float32, 4),
    "F16": (torch.float16, 2),
    "BF16": (torch.bfloat16, 2),
    "I64": (torch.int64, 8),
    "I32": (torch.int32, 4),
    "I16": (torch.int16, 2),
    "I8": (torch.int8, 1),
    "U8": (torch.uint8, 1),
    "BOOL": (torch.bool, 1),
}


def canonical_json(doc) -> str:
    """A model file's JSON document as the checksum covers it (finite numbers only)."""
    return data_canonical_json(doc)


def checksum(doc: dict, tensors: dict[str, torch.Tensor]) -> str:
    """SHA-256 over the canonical JSON of ``doc`` and each tensor (by name, sorted)."""
    return document_checksum(doc, tensors)


def write_container(path, doc: dict, tensors: dict[str, torch.Tensor]) -> None:
    """Write ``tensors`` and the JSON ``doc`` (plus its checksum) to ``path`` atomically."""
    from safetensors.torch import save_file

    tensors = {k: v.detach().cpu().contiguous() for k, v in tensors.items()}
    doc = dict(doc)
    doc["sha256"] = checksum(doc, tensors)
    text = canonical_json(doc)
    room = MAX_HEADER_BYTES - 200 * (len(tensors) + 1)  # the tensors' own header entries
    if len(json.dumps(text)) > room:
        raise ValueError(
            f"{path}: the model's metadata ({len(text)} bytes, mostly feature names) exceeds "
            f"the {MAX_HEADER_BYTES}-byte header limit of the model file format"
        )
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata={METADATA_KEY: text})


def _sniff(prefix: bytes) -> str:
    if prefix[:1] == b"\x80" or prefix[:1] in (b"(", b"]", b"}", b"c"):
        return " (it looks like a Python pickle, which torchlogit never loads)"
    if prefix[:2] == b"PK":
        return " (it looks like a zip archive, e.g. torch.save; torchlogit never unpickles)"
    return ""


def _fail(path, what: str) -> ModelFileError:
    return ModelFileError(f"{path}: {what}")


_KINDS = (
    (stat.S_ISDIR, "is a directory, not a model file"),
    (stat.S_ISFIFO, "is a FIFO (named pipe), not a regular file"),
    (stat.S_ISCHR, "is a character device, not a regular file"),
    (stat.S_ISBLK, "is a block device, not a regular file"),
    (stat.S_ISSOCK, "is a socket, not a regular file"),
)


def _open_regular(path: Path):
    """``path`` opened for reading, after checking (on the open file) that it is a regular file.

    The open does not block (``O_NONBLOCK``: a FIFO with no writer would block it forever)
    and the check is on the descriptor, so the path cannot be swapped in between.
    """
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        raise _fail(path, "no such file") from None
    except IsADirectoryError:
        raise _fail(path, "is a directory, not a model file") from None
    except OSError as exc:
        raise _fail(path, f"cannot be opened ({exc.strerror or exc})") from None
    try:
        mode = os.fstat(fd).st_mode
        for is_kind, what in _KINDS:
            if is_kind(mode):
                raise _fail(path, what)
        if not stat.S_ISREG(mode):
            raise _fail(path, "is not a regular file")
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def _parse_header(f, path: Path) -> tuple[dict, dict, int]:
    """``(doc, tensor_index, data_start)`` from the open file ``f`` (see :func:`read_header`)."""
    size = os.fstat(f.fileno()).st_size
    prefix = f.read(8)
    if len(prefix) < 8:
        raise _fail(path, f"not a torchlogit model file (only {size} bytes)")
    n = int.from_bytes(prefix, "little")
    if n > MAX_HEADER_BYTES:
        raise _fail(
            path,
            f"not a torchlogit model file: its header would be {n} bytes, more than "
            f"the limit of {MAX_HEADER_BYTES}{_sniff(prefix)}",
        )
    if 8 + n > size:
        raise _fail(
            path,
            f"truncated or not a torchlogit model file: the header needs {n} bytes "
            f"but only {size - 8} follow{_sniff(prefix)}",
        )
    raw = f.read(n)
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise _fail(path, "not a torchlogit model file: its header is not valid JSON") from None
    if not isinstance(header, dict):
        raise _fail(path, "not a torchlogit model file: its header is not a JSON object")
    meta = header.pop("__metadata__", None)
    if not isinstance(meta, dict) or not isinstance(meta.get(METADATA_KEY), str):
        raise _fail(path, "a safetensors file, but not one written by torchlogit (no metadata)")
    try:
        doc = json.loads(meta[METADATA_KEY])
    except (ValueError, RecursionError):
        raise _fail(path, "corrupted: torchlogit's metadata is not valid JSON") from None
    if not isinstance(doc, dict):
        raise _fail(path, "corrupted: torchlogit's metadata is not a JSON object")

    data_size = size - 8 - n
    index, ranges = {}, []
    for name, entry in header.items():
        try:
            dtype, itemsize = _DTYPES[entry["dtype"]]
            shape = [int(s) for s in entry["shape"]]
            begin, end = (int(o) for o in entry["data_offsets"])
            ok = all(s >= 0 for s in shape) and 0 <= begin <= end
        except (KeyError, TypeError, ValueError, OverflowError):
            ok = False
        if not ok or end - begin != math.prod(shape) * itemsize:
            raise _fail(path, f"corrupted: the header entry for tensor {name!r} is invalid")
        index[name] = (dtype, tuple(shape), begin, end)
        ranges.append((begin, end))
    covered = 0
    for begin, end in sorted(ranges):
        if begin != covered:
            raise _fail(path, "corrupted: the tensors' byte ranges overlap or leave gaps")
        covered = end
    if covered != data_size:
        raise _fail(
            path,
            f"truncated or corrupted: the header declares {covered} bytes of tensor data "
            f"but the file holds {data_size}",
        )
    return doc, index, 8 + n


def read_header(path) -> tuple[dict, dict]:
    """Check the container's header; return ``(doc, tensor_index)`` without reading tensors.

    ``doc`` is torchlogit's JSON document (its checksum not yet verified) and
    ``tensor_index`` maps each tensor's name to ``(dtype, shape, begin, end)``. ``path``
    must be a regular file (a FIFO, device or directory is refused before reading).
    """
    path = Path(path)
    with _open_regular(path) as f:
        doc, index, _ = _parse_header(f, path)
    return doc, index


def _read_tensor(f, path: Path, name: str, dtype, shape, start: int) -> torch.Tensor:
    t = torch.empty(shape, dtype=dtype)
    buf = memoryview(t.reshape(-1).view(torch.uint8).numpy())
    f.seek(start)
    if f.readinto(buf) != len(buf):
        raise _fail(path, f"truncated: the file ends inside tensor {name!r}")
    return t


def read_container(path) -> tuple[dict, dict[str, torch.Tensor]]:
    """Read and verify a container: ``(doc, tensors)`` with every tensor on the CPU.

    Everything is read from one open file, checked to be a regular file: the header first
    (its limits and every tensor's byte range), then each tensor into a buffer of the size
    the header declared, which the file's size bounds. Memory: the header plus the tensors.
    """
    path = Path(path)
    with _open_regular(path) as f:
        doc, index, data_start = _parse_header(f, path)
        tensors = {
            name: _read_tensor(f, path, name, dtype, shape, data_start + begin)
            for name, (dtype, shape, begin, _) in index.items()
        }
    stored = doc.pop("sha256", None)
    try:
        actual = checksum(doc, tensors)
    except (ValueError, RecursionError):
        raise _fail(path, "corrupted: torchlogit's metadata cannot be checked") from None
    if stored != actual:
        raise _fail(
            path,
            "the checksum does not match: the file was modified or damaged after it was saved",
        )
    return doc, tensors

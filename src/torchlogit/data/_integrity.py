"""Content hashes of input files: what identifies a file is its bytes, not its name or time.

A file replaced by one of the same size with its modification time restored (``cp -p``,
``rsync -a``) has the same ``(path, size, mtime)``; its sha256 differs. :func:`file_digest`
reads the file once and remembers the hash for as long as the file's full ``stat`` (size,
modification and change times, inode, device) is unchanged — the change time ``ctime``
cannot be set back by a user, so a rewrite is always seen, and refits in one process
do not read the files again.
"""

from __future__ import annotations

import hashlib
import json
import os

import torch

_BLOCK = 1 << 20
_DIGESTS: dict[tuple, str] = {}


def stat_key(path: str) -> tuple:
    """What identifies a file's bytes short of reading them: path, size, mtime, ctime, inode
    and device (a rewrite, even of the same size with its mtime restored, changes ctime)."""
    st = os.stat(path)
    return (
        os.path.abspath(path),
        st.st_size,
        st.st_mtime_ns,
        st.st_ctime_ns,
        st.st_ino,
        st.st_dev,
    )


def file_digest(path) -> str:
    """sha256 of the bytes of the file at ``path`` (remembered while its stat is unchanged)."""
    path = os.fspath(path)
    key = stat_key(path)
    got = _DIGESTS.get(key)
    if got is not None:
        return got
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(_BLOCK):
            h.update(block)
    got = h.hexdigest()
    if stat_key(path) == key:  # not rewritten while it was read
        _DIGESTS[key] = got
    return got


def files_digest(paths) -> str | None:
    """One sha256 over the names and content hashes of ``paths`` in order (None: no paths)."""
    paths = [os.fspath(p) for p in paths]
    if not paths:
        return None
    h = hashlib.sha256()
    for p in paths:
        h.update(f"{os.path.basename(p)}\0{file_digest(p)}\0".encode())
    return h.hexdigest()


def bytes_digest(data: bytes) -> str:
    """sha256 of ``data`` (the cache entries' checksum)."""
    return hashlib.sha256(data).hexdigest()


def canonical_json(doc, *, allow_nan: bool = False) -> str:
    """The one JSON spelling of ``doc`` that a checksum covers (sorted keys, no spaces);
    ``allow_nan``: NaN / infinity allowed (a checkpoint's history), else a ValueError."""
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), allow_nan=allow_nan)


def document_checksum(doc: dict, tensors: dict, *, allow_nan: bool = False) -> str:
    """sha256 over ``doc`` (:func:`canonical_json`) and each tensor, sorted by name: its
    name, dtype, shape and bytes (read in place for a contiguous CPU tensor). The integrity
    check of model files and of checkpoints."""
    h = hashlib.sha256(canonical_json(doc, allow_nan=allow_nan).encode("utf-8"))
    for name in sorted(tensors):
        t = tensors[name].detach().cpu().contiguous()
        h.update(f"\0{name}\0{t.dtype}\0{list(t.shape)}\0".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy())
    return h.hexdigest()

"""Checkpoints of a running solve: one safetensors file, replaced atomically each iteration.

The file holds the iterate ``coef``, the solver's tensors (L-BFGS: its correction pairs) and,
in the safetensors metadata, a JSON document with the iteration count, the history, the
solver's scalar state, a ``meta`` dictionary that identifies the problem (data, penalty,
solver) and a ``sha256`` over that document and every tensor's name, dtype, shape and bytes
(:func:`checksum`, the same construction as the model files'). It is written to a temporary
file in the same folder and moved over the previous one with :func:`os.replace`, so a process
killed at any moment leaves either the previous checkpoint or the new one, never a partial
file. No pickle is involved.

A checkpoint that cannot be trusted — unreadable, truncated, empty, a folder in its place, a
missing key, a checksum that does not match, a non-finite iterate or state — raises
:class:`CheckpointError` naming the file and what is wrong, and is never resumed: deleting the
file (or choosing another ``checkpoint_dir``) starts the fit afresh. An error rather than a
silent restart, because damage to a file the fit just wrote means the disk or another process
is at fault, which the user should know. A non-finite iterate is never saved (the previous,
finite checkpoint stays).
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import torch

from ..data import canonical_json as data_canonical_json
from ..data import document_checksum
from ._types import ResumeState

CHECKPOINT_FILE = "checkpoint.safetensors"


class CheckpointError(ValueError):
    """A checkpoint file is damaged or cannot be read; the message names the file."""


def canonical_json(doc) -> str:
    """A checkpoint's JSON document as the checksum covers it (its history may hold NaN)."""
    return data_canonical_json(doc, allow_nan=True)


def checksum(doc: dict, tensors: dict[str, torch.Tensor]) -> str:
    """The model files' integrity check (:func:`torchlogit.data.document_checksum`)."""
    return document_checksum(doc, tensors, allow_nan=True)


def _all_finite(t: torch.Tensor) -> bool:
    return not (t.is_floating_point() or t.is_complex()) or bool(torch.isfinite(t).all())


def _finite_scalars(value) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, (list, tuple)):
        return all(_finite_scalars(v) for v in value)
    if isinstance(value, dict):
        return all(_finite_scalars(v) for v in value.values())
    return True


class Checkpoint:
    """Save and load a solver's state in ``directory``.

    Parameters
    ----------
    directory : str or path (created when missing)
    meta : dict
        JSON-serialisable description of the problem; :meth:`load` returns nothing when the
        stored one differs, so a checkpoint is never resumed for another problem.
    """

    def __init__(self, directory, meta: dict):
        self.dir = Path(directory)
        if self.dir.exists() and not self.dir.is_dir():
            raise CheckpointError(f"checkpoint_dir {str(self.dir)!r} is not a folder")
        self.dir.mkdir(parents=True, exist_ok=True)
        self.path = self.dir / CHECKPOINT_FILE
        self.meta = json.loads(json.dumps(meta, sort_keys=True, default=str))
        self.n_saved = 0

    def save(self, n_iter: int, coef: torch.Tensor, history, state: dict) -> None:
        """Write ``coef`` and ``state`` after ``n_iter`` iterations (atomically).

        A non-finite ``coef`` is not written: the previous checkpoint stays.
        """
        from safetensors.torch import save_file

        tensors = {"coef": coef.detach().to("cpu").contiguous()}
        if not _all_finite(tensors["coef"]):
            return
        scalars = {}
        for k, v in state.items():
            if isinstance(v, torch.Tensor):
                tensors[f"state.{k}"] = v.detach().to("cpu").contiguous()
            else:
                scalars[k] = v
        doc = {
            "meta": self.meta,
            "n_iter": int(n_iter),
            "history": history.as_dict(),
            "scalars": scalars,
        }
        doc = json.loads(canonical_json(doc))  # what a reader will see (tuples -> lists)
        doc["sha256"] = checksum(doc, tensors)
        tmp = self.path.with_name(f".{CHECKPOINT_FILE}.{os.getpid()}.tmp")
        try:
            save_file(tensors, str(tmp), metadata={"torchlogit": canonical_json(doc)})
            with open(tmp, "rb") as fh:
                os.fsync(fh.fileno())
            os.replace(tmp, self.path)
        except Exception as exc:  # noqa: BLE001 - OSError or safetensors' own (disk full)
            tmp.unlink(missing_ok=True)  # the previous checkpoint, if any, is intact
            raise CheckpointError(
                f"cannot write checkpoint {str(self.path)!r}: {exc} (disk full?)"
            ) from exc
        self.n_saved += 1

    def _damaged(self, what: str) -> CheckpointError:
        return _damaged(self.path, what)

    def _read(self) -> tuple[dict, dict] | None:
        return read_verified(self.path)

    def load(self) -> ResumeState | None:
        """The saved state, or None when there is none or it belongs to another problem.

        Raises :class:`CheckpointError` when the file is damaged (see the module docstring).
        """
        got = self._read()
        if got is None:
            return None
        doc, tensors = got
        if doc.get("meta") != self.meta:
            return None
        try:
            coef, n_iter = tensors["coef"], int(doc["n_iter"])
            state, history = dict(doc["scalars"]), dict(doc["history"])
        except (KeyError, TypeError, ValueError) as exc:
            raise self._damaged(f"lacks a field ({exc})") from None
        bad = [k for k, t in tensors.items() if not _all_finite(t)]
        if bad:
            raise self._damaged(f"holds non-finite values (NaN or infinity) in {bad}")
        if not _finite_scalars(state):
            raise self._damaged("holds a non-finite solver state")
        for k, v in tensors.items():
            if k.startswith("state."):
                state[k[len("state.") :]] = v
        return ResumeState(coef=coef, n_iter=n_iter, history=history, state=state)

    def stored_meta(self) -> dict | None:
        """The ``meta`` of the checkpoint on disk (None when there is none)."""
        got = self._read()
        return None if got is None else got[0].get("meta")


def _damaged(path: Path, what: str) -> CheckpointError:
    return CheckpointError(
        f"checkpoint {str(path)!r} {what}; delete it (or choose another "
        "checkpoint_dir) to start the fit afresh"
    )


def read_verified(path) -> tuple[dict, dict] | None:
    """``(doc, tensors)`` of the checkpoint file at ``path``, checksum verified.

    None when there is no file; :class:`CheckpointError` naming the file when it cannot be
    trusted (see the module docstring).
    """
    from safetensors import safe_open

    path = Path(path)
    if not os.path.lexists(path):
        return None
    if not path.is_file():
        raise _damaged(path, "is not a regular file")
    if path.stat().st_size == 0:
        raise _damaged(path, "is empty (0 bytes)")
    try:
        with safe_open(str(path), framework="pt") as fh:
            raw = (fh.metadata() or {}).get("torchlogit")
            tensors = {k: fh.get_tensor(k) for k in fh.keys()}  # noqa: SIM118
    except Exception as exc:  # noqa: BLE001 - safetensors raises several types
        raise _damaged(path, f"cannot be read (truncated or corrupt?): {exc}") from None
    if raw is None:
        raise _damaged(path, "has no torchlogit metadata")
    try:
        doc = json.loads(raw)
    except ValueError as exc:
        raise _damaged(path, f"has corrupt metadata ({exc})") from None
    if not isinstance(doc, dict):
        raise _damaged(path, "has corrupt metadata (not a JSON object)")
    stored = doc.pop("sha256", None)
    if stored is None:
        raise _damaged(path, "has no checksum (written by an older version?)")
    if stored != checksum(doc, tensors):
        raise _damaged(path, "does not match its checksum (modified or damaged on disk)")
    return doc, tensors


def stored_iteration(path) -> int:
    """The iteration count of the checkpoint at ``path`` once its checksum is verified;
    ``-1`` when there is none or it cannot be trusted (a damaged file never wins a resume)."""
    try:
        got = read_verified(path)
    except CheckpointError:
        return -1
    if got is None:
        return -1
    try:
        return int(got[0]["n_iter"])
    except (KeyError, TypeError, ValueError):
        return -1

"""Checkpoints of a running solve: one safetensors file, replaced atomically each iteration.

The file holds the iterate ``coef``, the solver's tensors (L-BFGS: its correction pairs) and,
in the safetensors metadata, a JSON document with the iteration count, the history, the
solver's scalar state and a ``meta`` dictionary that identifies the problem (data, penalty,
solver). It is written to a temporary file in the same folder and moved over the previous one
with :func:`os.replace`, so a process killed at any moment leaves either the previous
checkpoint or the new one, never a partial file. No pickle is involved.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch

from ._types import ResumeState

CHECKPOINT_FILE = "checkpoint.safetensors"


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
        self.dir.mkdir(parents=True, exist_ok=True)
        self.path = self.dir / CHECKPOINT_FILE
        self.meta = json.loads(json.dumps(meta, sort_keys=True, default=str))
        self.n_saved = 0

    def save(self, n_iter: int, coef: torch.Tensor, history, state: dict) -> None:
        """Write ``coef`` and ``state`` after ``n_iter`` iterations (atomically)."""
        from safetensors.torch import save_file

        tensors = {"coef": coef.detach().to("cpu").contiguous()}
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
        tmp = self.path.with_name(f".{CHECKPOINT_FILE}.{os.getpid()}.tmp")
        save_file(tensors, str(tmp), metadata={"torchlogit": json.dumps(doc)})
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, self.path)
        self.n_saved += 1

    def load(self) -> ResumeState | None:
        """The saved state, or None when there is none or it belongs to another problem."""
        from safetensors import safe_open

        if not self.path.exists():
            return None
        with safe_open(str(self.path), framework="pt") as fh:
            doc = json.loads(fh.metadata()["torchlogit"])
            if doc.get("meta") != self.meta:
                return None
            tensors = {k: fh.get_tensor(k) for k in fh.keys()}  # noqa: SIM118
        state = dict(doc["scalars"])
        for k, v in tensors.items():
            if k.startswith("state."):
                state[k[len("state.") :]] = v
        return ResumeState(
            coef=tensors["coef"], n_iter=doc["n_iter"], history=doc["history"], state=state
        )

    def stored_meta(self) -> dict | None:
        """The ``meta`` of the checkpoint on disk (None when there is none)."""
        from safetensors import safe_open

        if not self.path.exists():
            return None
        with safe_open(str(self.path), framework="pt") as fh:
            return json.loads(fh.metadata()["torchlogit"]).get("meta")

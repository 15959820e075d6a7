"""Checkpoints of a distributed fit: one file per rank, the most advanced one wins on resume.

The estimator's ``checkpoint_dir`` makes the solver save its state after every iteration.
Under a process group every rank holds the same state (same coefficients, same solver
memory), so rank 0 saves to ``checkpoint_dir`` and rank ``r > 0`` to
``checkpoint_dir/rank-r`` (no two processes ever write one file, whether or not the folder is
shared between machines). A worker killed between its own save and the others' leaves the
ranks one iteration apart; before the solver starts, :func:`synchronise` copies the most
advanced rank's file to every rank, so all resume from the same iteration. Only a file whose
checksum verifies counts: a damaged one (whatever iteration its metadata claims) never wins
and is never copied over another rank's good checkpoint.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..solvers import stored_iteration
from ._comm import Communicator

CHECKPOINT_FILE = "checkpoint.safetensors"  # the solvers' file name


def rank_directory(directory, rank: int) -> Path:
    return Path(directory) if rank == 0 else Path(directory) / f"rank-{rank}"


def synchronise(comm: Communicator, directory: Path) -> list[int]:
    """Give every rank the most advanced rank's checkpoint; returns each rank's iteration."""
    path = directory / CHECKPOINT_FILE
    its = comm.all_gather_object(stored_iteration(path))
    best = max(range(len(its)), key=lambda r: (its[r], -r))
    if its[best] < 0 or all(i == its[best] for i in its):
        return its
    payload = comm.all_gather_object(path.read_bytes() if comm.rank == best else None)[best]
    if its[comm.rank] != its[best]:
        directory.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{CHECKPOINT_FILE}.{os.getpid()}.sync.tmp")
        tmp.write_bytes(payload)
        os.replace(tmp, path)
    return its


def rank_checkpoint_dir(base, comm: Communicator) -> str:
    """This rank's checkpoint folder under ``base``, synchronised with the other ranks'.

    Rank 0 uses ``base`` itself, rank ``r`` ``base/rank-r``; the most advanced rank's file is
    copied to every rank first, so that all resume from the same iteration.
    """
    mine = rank_directory(base, comm.rank)
    mine.mkdir(parents=True, exist_ok=True)
    synchronise(comm, mine)
    return str(mine) if comm.rank else base

"""scikit-learn's ``n_jobs`` and ``random_state`` for the solvers.

``n_jobs`` is the number of CPU threads torch uses while the solver runs (``None``: leave the
current setting; ``-1``: all cores; ``-2``: all but one, as joblib counts); it changes nothing
on CUDA. ``random_state`` (int, ``numpy.random.RandomState`` or ``None``) becomes the integer
seed of the solvers that sample (``"sgd"`` / ``"adam"``'s ``random_state`` option).
"""

from __future__ import annotations

import os
from contextlib import contextmanager

import numpy as np
import torch

__all__ = ["seed_of", "threads"]


def seed_of(random_state) -> int:
    """An integer seed from scikit-learn's ``random_state`` (int or ``RandomState``)."""
    if isinstance(random_state, (int, np.integer)):
        return int(random_state)
    if isinstance(random_state, np.random.RandomState):
        return int(random_state.randint(np.iinfo(np.int32).max))
    raise ValueError(
        f"random_state must be an int, a numpy RandomState or None; got {random_state!r}"
    )


@contextmanager
def threads(n_jobs, device):
    """Run the body with ``n_jobs`` torch CPU threads (restored afterwards)."""
    if n_jobs is None or torch.device(device).type != "cpu":
        yield
        return
    n_cpu = os.cpu_count() or 1
    n = int(n_jobs) if n_jobs > 0 else max(1, n_cpu + 1 + int(n_jobs))
    before = torch.get_num_threads()
    torch.set_num_threads(max(1, n))
    try:
        yield
    finally:
        torch.set_num_threads(before)

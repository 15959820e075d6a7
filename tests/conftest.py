"""Shared test set-up.

The test problems are small (at most a few thousand rows): there, several BLAS / OpenMP
threads cost more in start-up and spin-waiting than they save, and on a busy machine they can
make a 1797 x 61 Gram product 40x slower than one thread does. Tests check numbers, not speed
(benchmarks measure speed), so they run single-threaded unless ``TORCHLOGIT_TEST_THREADS``
says otherwise.
"""

from __future__ import annotations

import os

# scikit-learn's array-API checks (the estimator declares ``array_api_support``) run only when
# SciPy's array-API mode is on, as in scikit-learn's own CI; it must be set before SciPy loads.
os.environ.setdefault("SCIPY_ARRAY_API", "1")

import torch
from threadpoolctl import threadpool_limits

_THREADS = int(os.environ.get("TORCHLOGIT_TEST_THREADS", "1"))
torch.set_num_threads(_THREADS)
threadpool_limits(_THREADS)

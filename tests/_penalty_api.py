"""A test's penalty name in scikit-learn 1.8+'s parameters (``penalty`` is deprecated there)."""

from __future__ import annotations

import numpy as np


def penalty_params(penalty, l1_ratio=None) -> dict:
    """``"l2"`` -> ``l1_ratio=0``, ``"l1"`` -> ``l1_ratio=1``, ``"elasticnet"`` -> the given
    ``l1_ratio``, ``None`` -> ``C=inf``."""
    if penalty is None:
        return {"C": np.inf}
    return {"l1_ratio": {"l2": 0.0, "l1": 1.0}.get(penalty, l1_ratio)}

"""scikit-learn 1.8+'s penalty parameters, turned into the spec's penalty kind.

scikit-learn >= 1.8 chooses the penalty ``r(W) = rho ||W||_1 + (1 - rho)/2 ||W||_2^2`` with
``l1_ratio = rho`` alone (default ``0.0``: L2; ``1.0``: L1; in between: elastic-net) and
``C = inf`` for no penalty; ``penalty`` is deprecated (``"deprecated"`` is its default). This
module reproduces scikit-learn 1.9's rules, warnings and errors exactly
(``LogisticRegression.fit`` in ``sklearn/linear_model/_logistic.py``):

- ``penalty="deprecated"``: the kind is ``"l2"`` for ``l1_ratio`` in {0, None} (``None``
  warns ``FutureWarning``), ``"l1"`` for 1, ``"elasticnet"`` otherwise; ``None`` when
  ``C = inf``.
- ``penalty`` given: it is the kind, with a ``FutureWarning``; a fractional ``l1_ratio`` with
  a kind other than ``"elasticnet"`` warns that it is unused, and ``penalty="l2"`` / ``"l1"``
  with ``l1_ratio`` other than 0 / 1 warns that the two disagree; ``penalty=None`` with a ``C``
  other than 1 warns that ``C`` is ignored.
- ``"elasticnet"`` without an ``l1_ratio`` is an error.
"""

from __future__ import annotations

import warnings

import numpy as np

__all__ = ["PENALTY_DEPRECATED", "effective_penalty", "resolve_penalty"]

PENALTY_DEPRECATED = "deprecated"


def effective_penalty(penalty, C, l1_ratio):
    """``(kind, l1_ratio)``: the penalty kind these parameters choose (no warnings) and the
    elastic-net mixing it uses (``None`` unless the kind is ``"elasticnet"``)."""
    if penalty == PENALTY_DEPRECATED:
        if l1_ratio is None or l1_ratio == 0:
            kind = "l2"
        elif l1_ratio == 1:
            kind = "l1"
        else:
            kind = "elasticnet"
        if C == np.inf:
            kind = None
    else:
        kind = penalty
    return kind, (l1_ratio if kind == "elasticnet" else None)


def resolve_penalty(penalty, C, l1_ratio, *, stacklevel: int = 3):
    """:func:`effective_penalty`, with scikit-learn 1.9's warnings and errors (see the module
    docstring)."""
    if penalty == PENALTY_DEPRECATED:
        if l1_ratio is None:
            warnings.warn(
                "'l1_ratio=None' was deprecated in version 1.8 and will trigger an error in "
                "1.10. Use 0<=l1_ratio<=1 instead.",
                FutureWarning,
                stacklevel=stacklevel,
            )
    else:
        warnings.warn(
            "'penalty' was deprecated in version 1.8 and will be removed in 1.10. To avoid "
            "this warning, leave 'penalty' set to its default value and use 'l1_ratio' or "
            "'C' instead. Use l1_ratio=0 instead of penalty='l2', l1_ratio=1 instead of "
            "penalty='l1', l1_ratio set to a float between 0 and 1 instead of "
            "penalty='elasticnet', and C=np.inf instead of penalty=None.",
            FutureWarning,
            stacklevel=stacklevel,
        )
    kind, ratio = effective_penalty(penalty, C, l1_ratio)
    if kind != "elasticnet" and l1_ratio is not None and 0 < l1_ratio < 1:
        warnings.warn(
            f"l1_ratio parameter is only used when penalty is 'elasticnet'. Got (penalty={kind})",
            UserWarning,
            stacklevel=stacklevel,
        )
    if (penalty == "l2" and l1_ratio != 0) or (penalty == "l1" and l1_ratio != 1):
        warnings.warn(
            f"Inconsistent values: penalty={penalty} with l1_ratio={l1_ratio}. penalty is "
            "deprecated. Please use l1_ratio only.",
            UserWarning,
            stacklevel=stacklevel,
        )
    if kind == "elasticnet" and l1_ratio is None:
        raise ValueError("l1_ratio must be specified when penalty is elasticnet.")
    if penalty is None and C != 1.0:
        warnings.warn(
            "Setting penalty=None will ignore the C and l1_ratio parameters",
            UserWarning,
            stacklevel=stacklevel,
        )
    return kind, ratio

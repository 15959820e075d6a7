"""What a line search and a Newton step reuse: points, lines along a direction, batch lists.

A :class:`Point` keeps the raw predictions ``X W^T + b (+ offset)`` of every batch, so the
Hessian and a line search at it need no product with ``X``; a :class:`Line` evaluates
``f(coef + t d)`` from ``raw + t X d`` (the offset is already in ``raw``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch


def hessian_dtype(dtype: torch.dtype, device: torch.device) -> torch.dtype:
    """The dtype a Hessian is accumulated and held in: float64 for float32 (or narrower) data.

    Along redundant (collinear) features only the L2 penalty ``1 / (C S)`` makes the Hessian
    definite; a Gram assembled in float32 carries rounding of ``~ u lambda_max`` (``u = 2^-24``),
    as large as that penalty, so it is indefinite in any precision and Newton's Cholesky fails.
    Accumulated in float64 from float32 numbers (``x_ij x_ik`` is exact there) it is the exact
    Hessian of those numbers to float64 rounding. Devices without float64 (MPS) keep ``dtype``.
    """
    if dtype.itemsize >= 8 or torch.device(device).type == "mps":
        return dtype
    return torch.float64


@dataclass
class Point:
    """An iterate with what the next steps reuse: ``f``, ``grad`` and the raw predictions.

    ``raw`` holds ``X_b W^T + b`` for every batch ``b`` (in ``data.batches()`` order), so the
    Hessian and a line search at this point need no product with ``X`` to recompute them.
    """

    coef: torch.Tensor
    value: torch.Tensor  # 0-d
    gradient: torch.Tensor  # shape of coef
    raw: list
    hessian: torch.Tensor | None = None  # when it came with the value (plain objectives)
    hessian_options: dict = field(default_factory=dict)  # its row sample ({}: all rows)


class Line:
    """``phi(t) = f(coef + t d)`` along a direction, from ``raw + t X d`` (no pass over X).

    Built by :meth:`LinearObjective.line`, which computes ``X d`` once (one pass). Because
    the raw prediction is linear in ``coef``, every trial step of a line search costs only
    elementwise work on ``(n, m)`` arrays; :meth:`point` then computes the gradient at the
    accepted step (one pass: ``G^T X``), reusing the raw predictions and the data term of
    the last :meth:`value` at the same ``t``.
    """

    def __init__(self, objective, point: Point, direction: torch.Tensor, raw_dir: list):
        self.objective = objective
        self.start = point
        self.direction = direction
        self.raw_dir = raw_dir
        self._last = None  # (t, raws, reduced data term)

    def _raws(self, t: float):
        return [
            torch.add(r, rd, alpha=t) for r, rd in zip(self.start.raw, self.raw_dir, strict=True)
        ]

    def value(self, t: float) -> torch.Tensor:
        """``phi(t)`` as a 0-d tensor."""
        obj = self.objective
        raws = self._raws(t)
        total = torch.zeros((), dtype=self.direction.dtype, device=self.direction.device)
        for batch, raw in zip(obj.data.batches(), raws, strict=True):
            sw, y = obj._weights(batch, raw.dtype), obj._labels(batch, raw.dtype)
            total = total + torch.dot(sw, obj.loss.loss(y, raw))
        total = obj.reduce(total.reshape(1))[0]
        self._last = (t, raws, total)
        coef = self.start.coef + t * self.direction
        return total / obj._weight_sum() + obj.penalty.smooth_value(coef)

    def point(self, t: float) -> Point:
        """The :class:`Point` at ``coef + t d``: value and gradient (one pass over X)."""
        coef = self.start.coef + t * self.direction
        if self._last is not None and self._last[0] == t:
            return self.objective._point_from_raw(coef, self._last[1], data_term=self._last[2])
        return self.objective._point_from_raw(coef, self._raws(t))


class BatchList:
    """A list of batches as a data source (``batches()``, ``weight_sum``, ``n_samples``); the
    row sample of :meth:`LinearObjective.row_sample` is one."""

    def __init__(self, batches: list):
        self._batches = batches
        self.weight_sum = float(sum(float(b.sample_weight.sum()) for b in batches))
        self.n_samples = sum(b.n_samples for b in batches)

    def batches(self):
        return iter(self._batches)

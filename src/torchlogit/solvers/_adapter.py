"""The point / line / Hessian interface the smooth solvers run on, for any objective.

:class:`~torchlogit.objective.LinearObjective` provides it natively: a :class:`Point` keeps the
raw predictions ``X W^T + b``, a line ``f(coef + t d)`` is evaluated from ``raw + t X d``
(one product with ``X`` per direction, none per trial step), and the Hessian is built from the
kept raw predictions. An objective with only ``value`` / ``value_gradient`` /
``value_gradient_hessian`` (a user's, or a wrapper) is adapted here with the same results and
the passes those methods cost.
"""

from __future__ import annotations

import torch

from ..data import InMemoryData
from ..objective import BatchList, Point


class _GenericLine:
    def __init__(self, adapter, point: Point, direction: torch.Tensor):
        self.adapter = adapter
        self.start = point
        self.direction = direction

    def value(self, t: float) -> torch.Tensor:
        return self.adapter.objective.value(self.start.coef + t * self.direction)

    def point(self, t: float) -> Point:
        return self.adapter.point(self.start.coef + t * self.direction)


class _GenericAdapter:
    """Points, lines and Hessians from the plain methods.

    An objective that declares ``samples_hessian`` builds the Hessians of its points from
    the row sample the solver last asked :meth:`hessian` for (``options``); a wrapper with
    ``hessian_options`` (``LookaheadObjective``) is told the same, so the Hessian it computes
    in the line search's pass is the one the next step wants.
    """

    def __init__(self, objective, with_hessian: bool, hessian_options: dict | None = None):
        self.objective = objective
        self.with_hessian = with_hessian
        self.options: dict = {}
        self._use(hessian_options or {})

    def _use(self, options: dict) -> None:
        if not getattr(self.objective, "samples_hessian", False):
            options = {}
        self.options = dict(options)
        if hasattr(self.objective, "hessian_options"):
            self.objective.hessian_options = dict(self.options)

    def point(self, coef: torch.Tensor) -> Point:
        if self.with_hessian:  # Newton: one call, as the classic loop made (a wrapper such as
            # LookaheadObjective answers it from the line search's pass)
            options = dict(self.options)
            f, g, H = self.objective.value_gradient_hessian(coef, **options)
            return Point(coef, f, g, [], H, hessian_options=options)
        f, g = self.objective.value_gradient(coef)
        return Point(coef, f, g, [])

    def line(self, point: Point, direction: torch.Tensor):
        return _GenericLine(self, point, direction)

    def hessian(self, point: Point, *, row_fraction: float = 1.0, seed=None) -> torch.Tensor:
        self._use(sampling_options(row_fraction, seed))
        if point.hessian is None or point.hessian_options != self.options:
            # another sample than the point's (the solver grew it): one more pass, kept
            point.hessian = self.objective.value_gradient_hessian(point.coef, **self.options)[2]
            point.hessian_options = dict(self.options)
        return point.hessian


def sampling_options(row_fraction: float, seed=None) -> dict:
    """``value_gradient_hessian``'s keywords for a Hessian from ``row_fraction`` of the rows
    (none for all rows: the exact Hessian, whatever the seed)."""
    if row_fraction >= 1.0:
        return {}
    return {"row_fraction": float(row_fraction)} | ({} if seed is None else {"seed": seed})


def line_objective(objective, *, with_hessian: bool = False, hessian_options=None):
    """``objective`` itself when its class has ``point``, ``line`` and ``hessian``; else an
    adapter over its plain methods (``with_hessian``: each point also asks for the Hessian).

    The class is asked, not the instance: a wrapper that forwards attributes (such as
    ``LookaheadObjective``) must be driven through the plain methods it intercepts. Streamed
    data also take the plain methods: there a pass is a read of the source, and one fused
    value-and-gradient pass per trial beats a pass for ``X d`` plus one for the gradient;
    resuming from a checkpoint then also recomputes exactly what the uninterrupted run did.
    So do data whose raw predictions would be too many to keep (:data:`RAW_KEEP_MAX`).
    ``hessian_options`` (:func:`sampling_options`): the row sample of the adapter's first
    points' Hessians, until the solver asks :meth:`hessian` for another.
    """
    native = all(callable(getattr(type(objective), a, None)) for a in ("point", "line", "hessian"))
    data = getattr(objective, "data", None)
    if native and isinstance(data, (InMemoryData, BatchList)) and _raw_fits(objective, data):
        return objective
    return _GenericAdapter(objective, with_hessian, hessian_options)


#: A native point keeps ``rows x outputs`` raw predictions, and a line as many again plus a
#: trial's: above this many entries (128 MB each in float64) the plain methods are used,
#: which work through the rows in bounded blocks (thousands of classes: issue #13).
RAW_KEEP_MAX = 1 << 24


def _raw_fits(objective, data) -> bool:
    return data.n_samples * getattr(objective, "n_outputs", 1) <= RAW_KEEP_MAX

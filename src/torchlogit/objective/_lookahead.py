"""One pass instead of two for Newton on streamed data.

Newton's line search evaluates ``f`` at a trial point and, when the step is accepted (almost
always ``t = 1``), the next iteration evaluates ``(f, g, H)`` at the same point: two passes
over the data. :class:`LookaheadObjective` computes ``(f, g, H)`` in the line search's pass
and keeps it, so an iteration costs one pass. Worth it when a pass is dominated by reading
the data (streaming), not when the data sits in memory and the Hessian is the cost.
"""

from __future__ import annotations

import torch


class LookaheadObjective:
    """Wrap a :class:`LinearObjective`: ``value`` also computes and keeps ``(g, H)``.

    ``hessian_options`` (``row_fraction``, ``seed``: set by the solver's adapter, see
    :meth:`LinearObjective.value_gradient_hessian`) choose the rows the kept Hessian is built
    from; a later ``value_gradient_hessian`` at the same point with the same options is
    answered from what was kept, without a pass.
    """

    def __init__(self, objective):
        self.objective = objective
        self.hessian_options: dict = {}
        self._kept: tuple[torch.Tensor, dict, tuple] | None = None

    def __getattr__(self, name):
        if name == "objective":
            raise AttributeError(name)
        return getattr(self.objective, name)

    def value(self, coef: torch.Tensor) -> torch.Tensor:
        options = dict(self.hessian_options)
        out = self.objective.value_gradient_hessian(coef, **options)
        self._kept = (coef.detach().clone(), options, out)
        return out[0]

    def value_gradient_hessian(self, coef: torch.Tensor, **options):
        kept, self._kept = self._kept, None
        if (
            kept is not None
            and kept[1] == options
            and kept[0].shape == coef.shape
            and torch.equal(kept[0], coef)
        ):
            return kept[2]
        return self.objective.value_gradient_hessian(coef, **options)

"""Stochastic solvers driven by mini-batches: proximal SGD (``"sgd"``) and Adam (``"adam"``).

Both minimise the averaged objective ``f(W) = (1/S) sum_i s_i l_i + r(W)`` from unbiased
mini-batch estimates of its smooth part's gradient,

.. math::  \\hat g = \\frac{n}{S\\,|B|} \\sum_{i \\in B} s_i \\nabla \\ell_i + \\nabla r_{smooth},

followed by the proximal step of the non-smooth part (soft-thresholding for L1,
``penalty.prox``). One *iteration* is one epoch: a pass over ``objective.data.batches()``
with the rows of every chunk shuffled (chunk order is the data's order) and cut into
mini-batches of ``batch_size`` rows. They need only ``objective.batch_value_gradient`` and an
iterable of batches, so they run on in-memory and streamed data alike.

They reach a neighbourhood of the optimum, not the optimum: for an exact fit use the
full-batch solvers, which accept the same data. Stopping rule: the epoch's mean mini-batch
objective decreased by less than ``tol * max(1, |f|)`` (and did not rise) for two epochs
running; an objective that rises never counts as converged, and ``max_iter`` epochs without
the rule met is reported as not converged. Divergence stops the run with a ValueError: a
non-finite objective or iterate, or an epoch objective above ``DIVERGED_FACTOR`` times
``max(f_0, log 2)``, where ``f_0`` estimates the objective at the start from the first
mini-batch (the loss at zero coefficients is ``log K``; a step size that is too large sends
the epoch objective up by orders of magnitude, not by a factor of a few).
Step sizes: SGD uses ``eta_t = eta0 / sqrt(1 + t / T)`` (``t`` mini-batch steps so far,
``T`` steps per epoch; ``learning_rate="constant"`` keeps ``eta0``) with
``eta0 = 1 / L`` from the first chunk's mean ``L = c * mean ||x_a||^2 + lambda_2``
(``c``: the loss's ``curvature_bound``, ``1/4`` binary, ``1/2`` multinomial); Adam (Kingma &
Ba, 2015) uses ``lr`` with bias correction and the proximal step with step ``lr``.
"""

from __future__ import annotations

import math

import torch

from ..data import Batch, row_square_norms
from ._base import (
    SolverBase,
    SolverCapabilities,
    SolverResult,
    check_solver_penalty,
    register_solver,
)


def _n_rows(data) -> int:
    for name in ("n_rows", "n_samples"):
        if hasattr(data, name):
            return int(getattr(data, name))
    return sum(b.n_samples for b in data.batches())


DIVERGED_FACTOR = 100.0


def _check_diverged(name: str, epoch: int, f: float, f0: float, coef: torch.Tensor, eta) -> None:
    """Raise a ValueError saying so when the run has diverged (see the module docstring)."""
    finite = math.isfinite(f) and bool(torch.isfinite(coef).all())
    if finite and f <= DIVERGED_FACTOR * max(f0, math.log(2.0)):
        return
    what = "a non-finite objective or coefficient" if not finite else f"objective {f:.3g}"
    step = "eta0" if name == "sgd" else "lr"
    raise ValueError(
        f"solver {name!r} diverged in epoch {epoch + 1}: {what} (it started near "
        f"{f0:.3g}); the step size ({step}={float(eta):.3g}) is too large for these data. "
        f"Lower solver_options['{step}'], scale the features (e.g. "
        "sklearn.preprocessing.StandardScaler), or use a full-batch solver"
    )


def _stalled(obj: list, tol: float) -> bool:
    """Whether the last two epochs each *decreased* the objective by less than ``tol``.

    The decrease is relative (``tol * max(1, |f|)``) and must be non-negative: an objective
    that rises (a step too large, divergence) never counts as converged.
    """
    if len(obj) < 3:
        return False
    for k in (1, 2):
        before, after = obj[-k - 1], obj[-k]
        decrease = before - after
        if not (math.isfinite(after) and 0.0 <= decrease < tol * max(1.0, abs(after))):
            return False
    return True


class _StochasticSolver(SolverBase):
    requires = ("batch_value_gradient",)
    penalty_requires = ("prox", "value")
    capabilities = SolverCapabilities(proximal=True, minibatch=True, distributed=False)

    def __init__(self, *, batch_size: int = 256, random_state: int = 0, **kwargs):
        super().__init__(**kwargs)
        if int(batch_size) < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.batch_size = int(batch_size)
        self.random_state = int(random_state)

    # subclasses: set up their state from ``state`` (a resumed run) and take one step
    def _init_state(self, state: dict, coef: torch.Tensor, objective) -> dict:
        raise NotImplementedError  # pragma: no cover

    def _step(self, coef, grad, state: dict, objective) -> torch.Tensor:
        raise NotImplementedError  # pragma: no cover

    def _minibatches(self, data, epoch: int):
        gen = torch.Generator().manual_seed(self.random_state * 1_000_003 + epoch)
        for chunk in data.batches():
            n = chunk.n_samples
            perm = torch.randperm(n, generator=gen).to(chunk.X.device)
            for start in range(0, n, self.batch_size):
                idx = perm[start : start + self.batch_size]
                offset = None if chunk.offset is None else chunk.offset[idx]
                yield Batch(chunk.X[idx], chunk.y[idx], chunk.sample_weight[idx], offset)

    def solve(self, objective, coef0: torch.Tensor, resume=None) -> SolverResult:
        data, penalty = objective.data, objective.penalty
        check_solver_penalty(type(self), penalty)
        coef, epoch, history, state = self._resume(resume, coef0)
        coef = coef.clone()
        n = _n_rows(data)
        mean_weight = float(data.weight_sum) / n
        state = self._init_state(state, coef, objective)
        converged, message = False, f"reached max_iter={self.max_iter}"
        f0 = None
        while epoch < self.max_iter:
            total, rows = 0.0, 0
            for batch in self._minibatches(data, epoch):
                b = batch.n_samples
                lo, g = objective.batch_value_gradient(coef, batch)
                scale = 1.0 / (b * mean_weight)
                if f0 is None:  # the objective at the start, estimated on the first batch
                    f0 = float(lo) * scale + float(penalty.value(coef))
                total += float(lo) * scale * b
                rows += b
                grad = g * scale + penalty.smooth_gradient(coef)
                coef = self._step(coef, grad, state, objective)
            f = total / max(rows, 1) + float(penalty.value(coef))
            _check_diverged(self.name, epoch, f, f0 if f0 is not None else f, coef,
                            state.get("eta", getattr(self, "lr", math.nan)))  # fmt: skip
            history.record(f, math.nan, float(state.get("eta", math.nan)))
            self._log(epoch, f, math.nan, float(state.get("eta", math.nan)))
            epoch += 1
            if _stalled(history.objective, self.tol):
                converged, message = True, "converged (objective stalled)"
            if self._after_iteration(epoch, coef, history, self._export(state)):
                message = "stopped by callback"
                break
            if converged:
                break
        return SolverResult(
            coef=coef,
            n_iter=epoch,
            converged=converged,
            history=history,
            message=message,
            n_passes=epoch,
        )

    @staticmethod
    def _export(state: dict) -> dict:
        return {k: (v.clone() if isinstance(v, torch.Tensor) else v) for k, v in state.items()}


def _lipschitz_estimate(objective) -> float:
    """``c * mean ||x_a||^2 + lambda_2`` over the first chunk (``x_a = [x, 1]``).

    ``lambda_2``: the largest curvature of the penalty's smooth part (``lambda_2 max_j f_j``)."""
    for chunk in objective.data.batches():
        sq = row_square_norms(chunk.X) + float(objective.fit_intercept)
        c = objective.loss.curvature_bound
        zero = torch.zeros(objective.coef_shape, dtype=torch.float64, device=sq.device)
        curv = objective.penalty.smooth_hessian_diagonal(zero)
        return c * float(sq.mean()) + (float(curv.max()) if curv.numel() else 0.0)
    return 1.0  # pragma: no cover - data always has a chunk


@register_solver
class SGDSolver(_StochasticSolver):
    """Proximal mini-batch SGD (``solver="sgd"``).

    Parameters
    ----------
    batch_size : int, default=256
    eta0 : float, optional
        Initial step; default ``1 / L`` (see the module docstring).
    learning_rate : {"invscaling", "constant"}, default="invscaling"
    random_state : int, default=0
        Seeds the shuffles (epoch ``k`` uses its own seed, so a resumed run is identical).
    """

    name = "sgd"

    def __init__(self, *, eta0: float | None = None, learning_rate: str = "invscaling", **kw):
        super().__init__(**kw)
        if learning_rate not in ("invscaling", "constant"):
            raise ValueError(
                f"learning_rate must be 'invscaling' or 'constant', got {learning_rate!r}"
            )
        self.eta0 = eta0
        self.learning_rate = learning_rate

    def _init_state(self, state, coef, objective):
        if "eta0" not in state:
            state["eta0"] = float(self.eta0) if self.eta0 else 1.0 / _lipschitz_estimate(objective)
            state["t"] = 0
        state["per_epoch"] = max(1, math.ceil(_n_rows(objective.data) / self.batch_size))
        return state

    def _step(self, coef, grad, state, objective):
        eta = state["eta0"]
        if self.learning_rate == "invscaling":
            eta = eta / math.sqrt(1.0 + state["t"] / state["per_epoch"])
        state["t"] += 1
        state["eta"] = eta
        return objective.penalty.prox(coef - eta * grad, eta)


@register_solver
class AdamSolver(_StochasticSolver):
    """Adam with a proximal step for L1 (``solver="adam"``).

    Parameters
    ----------
    lr : float, default=0.01
    betas : (float, float), default=(0.9, 0.999)
    eps : float, default=1e-8
    batch_size, random_state : as :class:`SGDSolver`
    """

    name = "adam"

    def __init__(self, *, lr: float = 0.01, betas=(0.9, 0.999), eps: float = 1e-8, **kw):
        super().__init__(**kw)
        self.lr = float(lr)
        self.betas = (float(betas[0]), float(betas[1]))
        self.eps = float(eps)

    def _init_state(self, state, coef, objective):
        if "m" not in state:
            state["m"] = torch.zeros_like(coef)
            state["v"] = torch.zeros_like(coef)
            state["t"] = 0
        else:
            state["m"] = state["m"].to(dtype=coef.dtype, device=coef.device)
            state["v"] = state["v"].to(dtype=coef.dtype, device=coef.device)
        state["eta"] = self.lr
        return state

    def _step(self, coef, grad, state, objective):
        b1, b2 = self.betas
        state["t"] += 1
        t = state["t"]
        state["m"].mul_(b1).add_(grad, alpha=1 - b1)
        state["v"].mul_(b2).addcmul_(grad, grad, value=1 - b2)
        m_hat = state["m"] / (1 - b1**t)
        v_hat = state["v"] / (1 - b2**t)
        coef = coef - self.lr * m_hat / (v_hat.sqrt() + self.eps)
        return objective.penalty.prox(coef, self.lr)


__all__ = ["AdamSolver", "SGDSolver"]

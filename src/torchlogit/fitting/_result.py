"""The result of a fit, and the one conversion from the coefficient block to fitted attributes.

Coefficients are one tensor ``coef`` of shape ``(m, p)``: ``m = 1`` (two classes, one logit
for ``classes[1]``) or ``K``; ``p = d + 1`` with the intercept in the last column when the
intercept is fitted, else ``p = d``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch


def centre_multinomial(coef: torch.Tensor, free: torch.Tensor, groups: int = 1) -> torch.Tensor:
    """The representative of a multinomial ``coef`` whose unpenalised entries sum to zero
    over the classes.

    The softmax is invariant to a shift common to all ``K`` rows, so where the penalty does
    not pin the shift (``free``: entries with no penalty at all) the mean over the classes is
    removed. Two classes (one row) are returned unchanged. ``groups``: ``coef`` stacks that
    many models' ``K`` rows (cross-validation folds), each centred over its own rows.
    """
    if coef.shape[0] <= groups:
        return coef
    p = coef.shape[1]
    stacked = coef.reshape(groups, -1, p)
    centred = (stacked - stacked.mean(dim=1, keepdim=True)).reshape(coef.shape)
    return torch.where(free, centred, coef)


def coefficient_attributes(coef: torch.Tensor, n_features: int) -> dict:
    """``coef_`` ``(m, d)`` and ``intercept_`` ``(m,)`` NumPy arrays from the ``(m, p)`` block
    (``intercept_`` is zeros when ``p == d``, no intercept fitted)."""
    coef_np = coef.detach().cpu().numpy()
    return {
        "coef_": np.ascontiguousarray(coef_np[:, :n_features]),
        "intercept_": (
            coef_np[:, n_features].copy()
            if coef.shape[1] > n_features
            else np.zeros(coef.shape[0], coef_np.dtype)
        ),
    }


@dataclass
class FitResult:
    """What the engine returns: the model, how the solver got there, and where the rows were.

    ``coef`` is the centred ``(m, p)`` block (identical on every rank); ``history`` maps
    ``objective``, ``gradient_norm``, ``step_size``, ``time`` to per-iteration lists;
    ``distributed_info`` is ``None`` on one process; ``n_rows`` / ``passes`` are set for
    streamed data.
    """

    coef: torch.Tensor
    classes: np.ndarray
    n_features: int
    loss: object
    solver: str
    n_iter: int
    converged: bool
    message: str
    n_passes: int
    history: dict
    distributed_info: dict | None = None
    n_rows: int | None = None
    passes: list = field(default_factory=list)
    solver_state: dict = field(default_factory=dict)
    tol: float | None = None  # the tol the solver ran with (the spec's or its default_tol)
    at_precision: bool = False  # stopped by the stall rule (see solvers.SolverResult)

    @classmethod
    def from_solver(cls, result, *, coef, training, loss, solver: str, **extra) -> FitResult:
        """A result from a solver's :class:`~torchlogit.solvers.SolverResult` and the final,
        centred ``coef``."""
        return cls(
            coef=coef,
            classes=training.classes,
            n_features=training.n_features,
            loss=loss,
            solver=solver,
            n_iter=result.n_iter,
            converged=result.converged,
            message=result.message,
            n_passes=result.n_passes,
            history=result.history.as_dict(),
            at_precision=bool(getattr(result, "at_precision", False)),
            **extra,
        )

    def attributes(self) -> dict:
        """The scikit-learn fitted attributes this result defines (``coef_``, ``intercept_``,
        ``classes_``, ``n_iter_``, ``history_``, ``n_passes_``, ``solver_``, ``converged_``,
        and ``distributed_info_`` / ``n_rows_`` / ``passes_`` where they apply)."""
        out = coefficient_attributes(self.coef, self.n_features)
        out.update(
            classes_=self.classes,
            n_iter_=np.array([self.n_iter], dtype=np.int32),
            history_=self.history,
            n_passes_=self.n_passes,
            solver_=self.solver,
            converged_=self.converged,
        )
        if self.tol is not None:
            out["tol_"] = self.tol
        if self.distributed_info is not None:
            out["distributed_info_"] = self.distributed_info
        if self.n_rows is not None:
            out["n_rows_"] = self.n_rows
            out["passes_"] = list(self.passes)
        return out

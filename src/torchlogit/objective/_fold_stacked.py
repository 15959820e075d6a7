"""Every cross-validation fold's training problem at one ``C`` as one objective.

Fold ``f`` (training masks ``t_fi`` in {0, 1}, ``S_f = sum_i s_i t_fi``) minimises

.. math::

    f_f(W_f) = \\frac{1}{S_f} \\sum_i s_i t_{fi}\\, \\ell(y_i, z_{fi}) + \\frac{1}{S_f} r(W_f),
    \\qquad z_{fi} = W_f x_i + b_f (+ o_i),

with ``r(W) = ||W||^2 / (2 C)`` (or 0). The folds' problems share no coefficient, so

.. math::

    \\Phi(W_1, \\dots, W_F) = \\frac{1}{S} \\sum_f \\Big[\\sum_i s_i t_{fi}\\, \\ell(y_i, z_{fi})
    + r(W_f)\\Big] = \\sum_f \\frac{S_f}{S} f_f(W_f)

is minimised by every fold's own minimiser, for any common ``S > 0``. The coefficients are
stacked ``(F m, p)`` (fold ``f``'s ``(m, p)`` block in rows ``f m .. f m + m - 1``; ``m = 1``
binary, ``K`` multinomial; intercept last, never penalised), so the raw predictions of every
fold are one product ``X [W_1 ... W_F]^T`` ``(n, F m)`` and the gradient one product
``X^T (T * G)``, ``T`` the row's training mask repeated over its fold's ``m`` outputs: one
read of X serves every fold. The Hessian is block diagonal, fold ``f``'s block the single
fit's Hessian with weights ``s_i t_fi`` (over ``S``); the zero blocks between folds are never
computed.

Stopping rule. ``grad_{W_f} Phi = (S_f / S) grad f_f``, so a solver that stops at
``max |grad Phi| <= tol`` leaves ``max |grad f_f| <= tol S / S_f``. With ``S = min_f S_f``
(what :func:`torchlogit.data.stacked_fold_data`'s caller passes) every fold is solved at
least as tightly as its own fit at the same ``tol``, and the smallest fold exactly as
tightly.

The data (:class:`torchlogit.data.StackedFoldData`) carry each row's class and training
masks in one integer label (:func:`torchlogit.data.fold_codes`), so they travel with the row
through row blocks, samples and line searches unchanged.
"""

from __future__ import annotations

import torch

from ..data import Batch, decode_fold_codes
from ._linear import LinearObjective
from ._points import Point


class FoldStackedLoss:
    """``F`` copies of ``base`` (binomial or multinomial), copy ``f`` on raw columns
    ``f m .. f m + m - 1`` and masked by the row's training mask ``t_fi``, read from the
    label codes: ``loss = sum_f t_fi base.loss(y_i, z_fi)``, ``gradient`` block ``f`` =
    ``t_fi base.gradient(y_i, z_fi)``.

    Curvature needs the masks, which the raw predictions alone do not carry: the Hessian
    methods live on :class:`FoldStackedObjective` (one ``base`` Hessian per fold), and this
    loss's ``hessian_*`` refuse.
    """

    # labels are integer codes (class and masks), never converted to the raw's dtype
    is_multiclass = True

    def __init__(self, base, n_folds: int):
        self.base = base
        self.n_folds = int(n_folds)
        self.n_classes = base.n_classes
        self.n_outputs = self.n_folds * base.n_outputs
        # the base's invariance holds within each fold's block: one shift per fold
        self.shift_invariant = base.shift_invariant
        self.shift_groups = self.n_folds
        self.curvature_bound = base.curvature_bound
        self._decoded: dict = {}

    def decoded(self, codes: torch.Tensor, dtype: torch.dtype | None = None):
        """``(y (n,), masks t (n, F) bool)`` of label codes, and with ``dtype`` also
        ``(y repeated F times (n F,), t in dtype)``: decoded once per rows and kept (a fit
        reads the same rows, or the same row blocks, at every evaluation). The entry keeps
        ``codes`` alive, so its address names its rows."""
        key = (codes.data_ptr(), tuple(codes.shape), tuple(codes.stride()), codes.device)
        entry = self._decoded.get(key)
        if entry is None:
            if len(self._decoded) > 64:  # new rows at every call (a stream): do not grow
                self._decoded.clear()
            entry = self._decoded[key] = {"codes": codes}
            entry["y"], entry["t"] = decode_fold_codes(codes, self.n_folds)
        if dtype is None:
            return entry["y"], entry["t"]
        if dtype not in entry:
            yy = entry["y"].repeat_interleave(self.n_folds)
            if not self.base.is_multiclass:  # the binomial loss reads y in the raw's dtype
                yy = yy.to(dtype)
            entry[dtype] = (yy, entry["t"].to(dtype))
        return entry[dtype]

    def _unstack(self, codes: torch.Tensor, raw: torch.Tensor):
        """``(y repeated F times (n F,), raw as (n F, m), masks (n, F) in raw's dtype)``."""
        yy, t = self.decoded(codes, raw.dtype)
        return yy, raw.reshape(-1, self.base.n_outputs), t

    def loss(self, y: torch.Tensor, raw: torch.Tensor) -> torch.Tensor:
        """``sum_f t_fi l(y_i, z_fi)``, shape ``(n,)``."""
        yy, rr, t = self._unstack(y, raw)
        return (self.base.loss(yy, rr).view(-1, self.n_folds) * t).sum(dim=1)

    def gradient(self, y: torch.Tensor, raw: torch.Tensor) -> torch.Tensor:
        """Block ``f`` of ``(n, F m)``: ``t_fi dl/dz (y_i, z_fi)``."""
        yy, rr, t = self._unstack(y, raw)
        g = self.base.gradient(yy, rr).view(raw.shape[0], self.n_folds, -1)
        return (g * t.unsqueeze(2)).reshape(raw.shape)

    def loss_gradient(self, y: torch.Tensor, raw: torch.Tensor):
        yy, rr, t = self._unstack(y, raw)
        lo, g = self.base.loss_gradient(yy, rr)
        g = g.view(raw.shape[0], self.n_folds, -1) * t.unsqueeze(2)
        return (lo.view(-1, self.n_folds) * t).sum(dim=1), g.reshape(raw.shape)

    def _no_masks(self, *args, **kwargs):
        raise NotImplementedError(
            "a fold-stacked loss's curvature needs the rows' fold masks: use "
            "FoldStackedObjective's Hessian methods"
        )

    hessian_diagonal = hessian_blocks = hessian_product = predict_proba = _no_masks


class _FoldView:
    """Fold ``f``'s training rows as a single fit sees them: the stacked data's batches with
    labels decoded, weights ``s_i t_fi``, the offset's fold block; ``S`` unchanged."""

    def __init__(self, data, loss: FoldStackedLoss, fold: int):
        self.data = data
        self.loss = loss
        self.fold = fold
        self.weight_sum = data.weight_sum

    @property
    def n_samples(self):
        return getattr(self.data, "n_samples", None)

    def batches(self):
        m, f = self.loss.base.n_outputs, self.fold
        for batch in self.data.batches():
            y, t = self.loss.decoded(batch.y)
            w = torch.where(t[:, f], batch.sample_weight, 0.0)
            offset = None if batch.offset is None else batch.offset[:, f * m : (f + 1) * m]
            yield Batch(batch.X, y, w, offset)


class FoldStackedObjective(LinearObjective):
    """:class:`LinearObjective` of a :class:`FoldStackedLoss` (see the module docstring):
    value, gradient, points and lines are the linear objective's own (one product with X
    for every fold); every Hessian method is block diagonal, block ``f`` the
    :class:`LinearObjective` Hessian of fold ``f`` alone (its weights ``s_i t_fi``, the same
    ``S`` and penalty), through the same code as a single fit: the same row sample, the same
    exact Gram, the same multinomial form.

    Shape:
        - ``coef``: ``(F m, p)``; Hessians ``(F m p, F m p)``, zero off the diagonal blocks.
    """

    def _parts(self) -> list:
        """One :class:`LinearObjective` per fold over :class:`_FoldView` of the data (built
        per call: the data may change between calls, e.g. a row sample); they share this
        objective's row samples, which do not depend on the weights."""
        base = self.loss.base
        parts = []
        for f in range(self.loss.n_folds):
            part = LinearObjective(
                base,
                _FoldView(self.data, self.loss, f),
                self.penalty,
                fit_intercept=self.fit_intercept,
                n_features=self.n_features,
                reduce=self.reduce,
            )
            part._hessian_samples = self._hessian_samples
            parts.append(part)
        return parts

    def _block(self, t: torch.Tensor, f: int) -> torch.Tensor:
        m = self.loss.base.n_outputs
        return t[f * m : (f + 1) * m]

    def _merge(self, parts, blocks) -> torch.Tensor:
        """The fold blocks' Hessians as one block-diagonal matrix; the parts' passes counted
        (each part reads X once: ``F`` Grams per Hessian, no saving from stacking)."""
        self.n_passes += sum(part.n_passes for part in parts)
        return torch.block_diag(*blocks)

    def hessian(self, point: Point, *, row_fraction: float = 1.0, seed=None) -> torch.Tensor:
        """Block diagonal of the folds' Hessians at ``point``, from its raw predictions."""
        self.n_evaluations += 1
        parts, blocks = self._parts(), []
        m = self.loss.base.n_outputs
        for f, part in enumerate(parts):
            raws = [r[:, f * m : (f + 1) * m] for r in point.raw]
            pt = Point(self._block(point.coef, f), point.value, point.gradient, raws)
            blocks.append(part.hessian(pt, row_fraction=row_fraction, seed=seed))
        return self._merge(parts, blocks)

    def value_gradient_hessian(self, coef: torch.Tensor, *, row_fraction=1.0, seed=None):
        f, g = self.value_gradient(coef)
        parts = self._parts()
        blocks = [
            part.value_gradient_hessian(self._block(coef, k), row_fraction=row_fraction, seed=seed)[
                2
            ]
            for k, part in enumerate(parts)
        ]
        return f, g, self._merge(parts, blocks)

    def hessian_product(self, coef: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        parts = self._parts()
        out = [
            p.hessian_product(self._block(coef, f), self._block(v, f)) for f, p in enumerate(parts)
        ]
        self.n_passes += sum(part.n_passes for part in parts)
        return torch.cat(out, dim=0)

    def hessian_diagonal(self, coef: torch.Tensor) -> torch.Tensor:
        parts = self._parts()
        out = [p.hessian_diagonal(self._block(coef, f)) for f, p in enumerate(parts)]
        return torch.cat(out, dim=0)

    def hessian_operator(self, coef: torch.Tensor):
        parts = self._parts()
        ops = [p.hessian_operator(self._block(coef, f)) for f, p in enumerate(parts)]

        def apply(v: torch.Tensor) -> torch.Tensor:
            return torch.cat([op(self._block(v, f)) for f, op in enumerate(ops)], dim=0)

        return apply

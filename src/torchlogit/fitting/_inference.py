"""Statistical inference for a fitted model: information, sandwich meat, covariance.

Sample weights ``s_i`` are *frequency* weights (class weights folded in): a row of weight
``w`` counts as ``w`` identical rows, so every quantity below is a weighted sum over rows and
``N = sum_i s_i`` is the number of observations. For the augmented rows ``a_i = [1, x_i]``
(no ``1`` without an intercept), residuals ``r_i = p_i - onehot(y_i)`` and per-row curvature
``h_i`` (:meth:`hessian_blocks` of the loss), over every batch of the prepared data and every
rank (through the training set's reducer):

.. math::

    I = \\sum_i s_i \\, (h_i \\otimes a_i a_i^T)               \\quad \\text{(observed information)}

    M = \\sum_i s_i \\, (r_i r_i^T \\otimes a_i a_i^T)         \\quad \\text{(HC0 meat)}

    M_c = \\sum_g u_g u_g^T, \\quad u_g = \\sum_{i \\in g} s_i \\, r_i \\otimes a_i
    \\quad \\text{(cluster meat)}

and the covariances ``nonrobust = I^{-1}``, ``HC0 = I^{-1} M I^{-1}``,
``HC1 = HC0 · N / (N - q)`` and ``cluster = G/(G-1) · (N-1)/(N-q) · I^{-1} M_c I^{-1}``
(statsmodels' default small-sample correction; ``q`` parameters, ``G`` groups).

Parametrisation (statsmodels' ``Logit`` / ``MNLogit``): two classes, ``β = [b, w]`` (intercept
first); ``K > 2`` classes, the contrasts ``θ_k = β_k - β_0`` of ``classes[1:]`` against
``classes[0]``, class-major. Without a penalty the contrasts' information is the ``k, l >= 1``
sub-block of the ``K``-class one (same probabilities, class 0's logit held fixed). With an L2
penalty ``½ Σ_j f_j ||W_j||² / C`` the information is the penalised Hessian
``I + diag(f / C)`` of the ``K``-class coefficients, and the contrasts' covariance is
``A V A^T`` (``A``: the contrast map). L1 / elastic-net fits are refused (post-selection).

(Quasi-)separation is reported naming the terms concerned (:mod:`._inference_separation`).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import torch

from ..data import (
    Batch,
    SparseDesign,
    iter_row_blocks,
    linear_predict,
    transpose_matmul,
    weighted_grams,
)
from ..objective import make_loss
from ._engine import SeparableDataWarning, build_penalty
from ._inference_separation import DECIDED, decided_square_sums, warn_if_quasi_separated


@dataclass
class InferenceMoments:
    """The sums of one pass over the data at the fitted coefficients (float64, table order).

    ``params`` ``(q,)``; ``information``, ``meat`` ``(q, q)``; ``cluster_meat`` ``(q, q)`` or
    None; ``n_obs = N``; ``n_rows`` rows read; ``loglik = sum_i s_i log p(y_i)``;
    ``class_weights`` ``(K,)`` the weight sum of each class; ``terms`` the parameter labels
    (strings, or ``(class, term)`` pairs); ``penalized`` whether an L2 penalty entered.
    """

    params: np.ndarray
    information: np.ndarray
    meat: np.ndarray | None
    cluster_meat: np.ndarray | None
    n_groups: int | None
    n_obs: float
    n_rows: int
    loglik: float
    class_weights: np.ndarray
    terms: list
    classes: np.ndarray
    fit_intercept: bool
    has_offset: bool
    penalized: bool
    transform: np.ndarray | None = None  # A: K-class block -> contrasts (penalised, K > 2)

    @property
    def n_params(self) -> int:
        return int(self.params.shape[0])


def check_inference_penalty(spec) -> bool:
    """Whether the fit is penalised (L2: warn); L1 / elastic-net: ``ValueError``; a
    coefficient box: ``ValueError`` (the classical theory needs an interior optimum)."""
    if not spec.penalized:
        return False
    if spec.penalty == "l1" or (spec.penalty == "elasticnet" and spec.l1_ratio > 0):
        raise ValueError(
            f"standard errors of a penalty={spec.penalty!r} fit are not valid: the L1 part "
            "selects the features, and tests after selection ignore that choice "
            "(post-selection inference). Refit the chosen features (coef_ != 0) with "
            "penalty=None and take the table of that model."
        )
    if spec.lower_bounds is not None or spec.upper_bounds is not None:
        raise ValueError("standard errors are not available for fits with coefficient bounds")
    warnings.warn(
        "these are the standard errors of a penalised (L2) estimator, computed from the "
        "penalised Hessian: they are biased towards zero with the estimates and not valid "
        "for classical tests or confidence intervals; fit with penalty=None for those",
        UserWarning,
        stacklevel=3,
    )
    return True


def _block_order(p: int, d: int, fit_intercept: bool) -> np.ndarray:
    """Positions of ``[intercept, w_1..w_d]`` in a class block stored ``[w, intercept]``."""
    return np.r_[d, 0:d] if fit_intercept else np.arange(p)


def _add_blocks(targets, X, p: int, fit_intercept: bool) -> None:
    """``out[k, l] += A^T diag(c) A`` (``A = [X, 1]``, intercept last), mirrored, for each
    ``(out, (k, l), c)`` in ``targets``: every Gram of the block from one read of ``X``
    (:func:`~torchlogit.data.weighted_grams`; ``c`` of any sign, a score product)."""
    C = torch.stack([c for _, _, c in targets], dim=1)
    grams = weighted_grams(X, C, fit_intercept)
    for (out, (k, l), _), gram in zip(targets, grams, strict=True):
        out[k * p : (k + 1) * p, l * p : (l + 1) * p] += gram
        if k != l:
            out[l * p : (l + 1) * p, k * p : (k + 1) * p] += gram.T


BLOCK_ROWS = 65_536  # rows per product: bounded temporaries, float64 copies of float32 rows


def _in_float64(block: Batch) -> Batch:
    """Dense float32 rows as float64, so that sums over millions of rows keep their digits
    (sparse rows stay as they are: their products accumulate into float64 sums)."""
    X = block.X
    if isinstance(X, SparseDesign) or X.dtype == torch.float64:
        return block
    off = None if block.offset is None else block.offset.double()
    return Batch(X.double(), block.y, block.sample_weight.double(), off)


class _Sums:
    """The float64 accumulators of :func:`inference_moments` and one block's contribution."""

    def __init__(self, head, info, meat, clus, sq, loss, p: int, d: int, fit_intercept: bool):
        self.head, self.info, self.meat, self.clus, self.sq = head, info, meat, clus, sq
        self.loss, self.p, self.d, self.fi = loss, p, d, fit_intercept

    def add(self, block: Batch, coef: torch.Tensor, codes) -> torch.Tensor:
        """Add ``block``'s rows at ``coef``; returns their worst margin (:func:`_worst_margin`)."""
        X, sw, y, p, d, fi = block.X, block.sample_weight, block.y, self.p, self.d, self.fi
        raw = linear_predict(X, coef[:, :d])
        raw = raw + coef[:, d] if fi else raw
        if block.offset is not None:
            raw = raw + block.offset
        lo, r = self.loss.loss_gradient(y, raw)
        m = r.shape[1]
        self.head[0] += torch.dot(sw, lo)
        self.head[1] += sw.sum()
        self.head[2:] += torch.zeros_like(self.head[2:]).index_add_(0, y, sw.double())
        blocks = list(self.loss.hessian_blocks(raw))
        targets = [(self.info, kl, sw * h) for kl, h in blocks]
        for (k, l), h in blocks:
            if k == l:
                self.sq[k] += decided_square_sums(X, sw, 4 * h < DECIDED, fi)
        if self.meat is not None:
            targets += [
                (self.meat, (k, l), sw * r[:, k] * r[:, l]) for k in range(m) for l in range(k, m)
            ]
        _add_blocks(targets, X, p, fi)
        if codes is not None:
            G = self.clus.shape[0]
            for k in range(m):
                self.clus[:, k, :] += _group_sums(X, sw * r[:, k], codes, G, fi)
        return _worst_margin(raw, y, sw)


def _worst_margin(raw: torch.Tensor, y: torch.Tensor, sw: torch.Tensor) -> torch.Tensor:
    """``max_i -(z_{i,y_i} - max_{k != y_i} z_ik)`` over rows of positive weight (two
    classes: ``-(2 y_i - 1) z_i``), float64 on the CPU; ``-inf`` when no row counts."""
    if raw.shape[1] == 1:
        margin = (y.to(raw.dtype) * 2 - 1) * raw[:, 0]
    else:
        true = raw.gather(1, y.unsqueeze(1))[:, 0]
        margin = true - raw.scatter(1, y.unsqueeze(1), float("-inf")).amax(dim=1)
    keep = sw > 0
    if not bool(keep.any()):
        return torch.tensor(-float("inf"), dtype=torch.float64)
    return (-margin[keep]).max().double().cpu()


def _group_sums(X, w: torch.Tensor, codes: torch.Tensor, n_groups: int, fit_intercept: bool):
    """``(G, p)``: row ``g`` is ``sum_{i in g} w_i a_i``."""
    if isinstance(X, SparseDesign):
        onehot = torch.zeros(X.shape[0], n_groups, dtype=w.dtype, device=w.device)
        onehot[torch.arange(X.shape[0], device=w.device), codes] = w
        out = transpose_matmul(X, onehot)  # (G, d)
    else:
        out = torch.zeros(n_groups, X.shape[1], dtype=w.dtype, device=w.device)
        out.index_add_(0, codes, X * w.unsqueeze(1))
    if fit_intercept:
        ones = torch.zeros(n_groups, 1, dtype=w.dtype, device=w.device)
        ones.index_add_(0, codes, w.unsqueeze(1))
        out = torch.cat([out, ones], dim=1)
    return out


def inference_moments(
    spec, training, coef: torch.Tensor, *, groups=None, names=None, meat: bool = True
) -> InferenceMoments:
    """One pass over ``training`` at ``coef`` (``(m, p)``, intercept last): the sums above.

    ``groups``: None, or ``(n_groups, codes)`` with ``codes`` an int64 array of this rank's
    rows in the order ``training.data.batches()`` serves them (group index of each row,
    ``0 <= g < n_groups``, the same indexing on every rank: :func:`encode_groups`).
    ``names``: the feature names (default ``x0, x1, ...``). ``meat=False`` skips ``M`` (not
    needed for the nonrobust or cluster covariances: one Gram per batch instead of two).
    """
    penalized = check_inference_penalty(spec)
    loss = make_loss(len(training.classes))
    m, p = coef.shape
    d = training.n_features
    fi = bool(spec.fit_intercept)
    n_par = m * p
    G = 0 if groups is None else int(groups[0])
    dev = coef.device
    K = len(training.classes)
    layout = [2 + K, n_par * n_par, n_par * n_par, G * n_par, n_par]
    acc = torch.zeros(sum(layout), dtype=torch.float64, device=dev)
    head, info_f, meat_f, clus_f, sq_f = torch.split(acc, layout)
    sums = _Sums(
        head,
        info_f.view(n_par, n_par),
        meat_f.view(n_par, n_par) if meat else None,
        clus_f.view(G, m, p),
        sq_f.view(m, p),
        loss,
        p,
        d,
        fi,
    )
    codes_all = None if groups is None else torch.as_tensor(np.asarray(groups[1]), device=dev)
    if codes_all is not None and codes_all.shape[0] != training.data.n_samples:
        raise ValueError(
            f"groups has {codes_all.shape[0]} entries but the data have "
            f"{training.data.n_samples} rows: give one group label per row"
        )
    start = 0
    worst = torch.tensor(-float("inf"), dtype=torch.float64)
    has_offset = False
    for batch in training.data.batches():
        for block in iter_row_blocks(batch, BLOCK_ROWS):
            block = _in_float64(block)
            codes = None
            if codes_all is not None:
                codes = codes_all[start : start + block.n_samples]
                start += block.n_samples
            worst = torch.maximum(worst, sums.add(block, coef.to(block.X.dtype), codes))
            has_offset = has_offset or block.offset is not None
    if training.distributed:
        acc = training.reducer.all_reduce_sum(acc)
        worst = training.reducer.all_reduce_max(worst.reshape(1))[0]
    perfect = not penalized and -float("inf") < float(worst) < 0
    if perfect:
        warnings.warn(
            "the data are perfectly separable (every row is on its side of the decision "
            "boundary): the unpenalised estimates lie at infinity and these standard errors "
            "and tests mean nothing. Drop the separating terms or fit with penalty='l2'.",
            SeparableDataWarning,
            stacklevel=3,
        )
    acc = acc.double().cpu().numpy()
    want_meat = meat
    head, info, meat, clus, sq = np.split(acc, np.cumsum(layout)[:-1])
    info, meat = info.reshape(n_par, n_par), meat.reshape(n_par, n_par)
    bound = sq / 4  # ¼ sum over the decided rows, [w, intercept] per class block
    if penalized:  # the penalised Hessian of C sum s_i l_i + r(W), divided by C
        pen = training.weight_sum * spec_penalty_diagonal(spec, training, coef)
        info = info + np.diag(pen.reshape(-1))
    clus_mat = clus.reshape(G, n_par) if groups is not None else None
    names = [f"x{j}" for j in range(d)] if names is None else [str(n) for n in names]
    order = np.concatenate([k * p + _block_order(p, d, fi) for k in range(m)])
    if not (penalized or perfect):
        warn_if_quasi_separated(np.diag(info)[order], bound[order], names, fi, training.classes)
    coef_np = coef.double().cpu().numpy().reshape(-1)[order]
    info, meat = info[np.ix_(order, order)], meat[np.ix_(order, order)]
    cm = None if clus_mat is None else clus_mat[:, order].T @ clus_mat[:, order]
    terms = (["intercept"] if fi else []) + names
    transform = None
    if m == 1:
        params, labels = coef_np, terms
    else:
        labels = [(c, t) for c in training.classes[1:].tolist() for t in terms]
        A = np.kron(np.c_[-np.ones((K - 1, 1)), np.eye(K - 1)], np.eye(p))
        params = A @ coef_np
        if penalized:
            transform = A
            info = _pin_shifts(info, pen.reshape(-1)[order], K, p)
        else:  # the contrasts' information and meat: the k, l >= 1 sub-blocks
            keep = np.arange(p, n_par)
            info, meat = info[np.ix_(keep, keep)], meat[np.ix_(keep, keep)]
            cm = None if cm is None else cm[np.ix_(keep, keep)]
    return InferenceMoments(
        params=params,
        information=info,
        meat=meat if want_meat else None,
        cluster_meat=cm,
        n_groups=None if groups is None else G,
        n_obs=float(head[1]),
        n_rows=int(training.n_samples),
        loglik=-float(head[0]),
        class_weights=head[2:].copy(),
        terms=labels,
        classes=training.classes,
        fit_intercept=fi,
        has_offset=has_offset,
        penalized=penalized,
        transform=transform,
    )


def _pin_shifts(info: np.ndarray, pen: np.ndarray, K: int, p: int) -> np.ndarray:
    """``I + c N N^T``: ``N`` the orthonormal shifts ``(1, ..., 1) (x) e_j / sqrt(K)`` of the
    unpenalised columns ``j`` (the intercept, ``penalty_factor = 0``), along which the softmax
    and hence ``I`` and ``M`` are flat. ``(I + c N N^T)^{-1} = I^+ + N N^T / c`` and ``A N = 0``,
    ``M N = 0``: the contrasts' covariances are those of the centred (identified) estimator.
    ``c``: the mean diagonal entry, for conditioning."""
    free = np.flatnonzero(pen[:p] == 0)
    if free.size == 0:
        return info
    N = np.zeros((K * p, free.size))
    for col, j in enumerate(free):
        N[j::p, col] = 1 / np.sqrt(K)
    return info + np.trace(info) / len(info) * (N @ N.T)


def spec_penalty_diagonal(spec, training, coef: torch.Tensor) -> np.ndarray:
    """The smooth penalty's Hessian diagonal on the averaged objective, ``(m, p)`` (float64)."""
    pen = build_penalty(spec, training)
    return pen.smooth_hessian_diagonal(coef).double().cpu().numpy()


def encode_groups(groups, reducer) -> tuple[int, np.ndarray]:
    """This rank's group labels ``(n,)`` -> ``(G, codes)``: indices into the sorted union of
    every rank's labels (``G`` its size), the same on every rank."""
    labels = np.asarray(groups).reshape(-1)
    if labels.dtype.kind == "f" and np.isnan(labels).any():
        raise ValueError("groups contains NaN: every row needs a group label")
    local = np.unique(labels)
    union = np.unique(np.concatenate([np.asarray(u) for u in reducer.all_gather_object(local)]))
    return len(union), np.searchsorted(union, labels).astype(np.int64)

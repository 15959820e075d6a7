"""Per-sample losses on the raw prediction (the logits). They never see X.

Conventions
-----------
``raw`` has shape ``(n, m)``: ``m = 1`` for the binomial loss (one logit per sample, the
positive class is class index 1) and ``m = K`` for the multinomial loss (full softmax over
all K classes). ``y`` holds class indices, shape ``(n,)``, dtype int64.

Everything is computed from logits with log-sigmoid / log-sum-exp, so values, gradients and
probabilities stay finite for logits as large as +-1e20.

Curvature belongs to the loss: ``hessian_diagonal(raw)`` (the ``(n, m)`` diagonal of each
sample's ``m x m`` Hessian in raw space), ``hessian_blocks(raw)`` (its entries ``h_kl``,
``k <= l``, from which the linear objective and the solvers build ``X^T diag(s h_kl) X``) and
``hessian_product(raw, v)``. Nothing outside this module recomputes a sigmoid or softmax
weight.
"""

from __future__ import annotations

import torch
from torch.nn import functional as F


class BinomialLoss:
    r"""Binary log-loss on one logit ``z``: :math:`\ell(y, z) = \log(1 + e^{z}) - y z`.

    Gradient ``dl/dz = sigmoid(z) - y``; second derivative ``sigmoid(z) (1 - sigmoid(z))``.
    """

    is_multiclass = False
    # one logit per sample: no direction of the coefficients leaves the loss unchanged
    shift_invariant = False
    # the largest eigenvalue of the per-sample Hessian over all logits: max p (1 - p) = 1/4
    curvature_bound = 0.25

    def __init__(self, n_classes: int = 2):
        if n_classes != 2:
            raise ValueError(f"BinomialLoss needs exactly 2 classes, got {n_classes}")
        self.n_classes = 2
        self.n_outputs = 1

    def loss(self, y: torch.Tensor, raw: torch.Tensor) -> torch.Tensor:
        """Per-sample loss, shape ``(n,)``: ``softplus(z) - y z`` written stably."""
        z = raw[:, 0]
        yf = y.to(z.dtype)
        # softplus(z) - y z == softplus(-z) when y = 1 and softplus(z) when y = 0
        return F.softplus(torch.where(yf > 0.5, -z, z))

    def gradient(self, y: torch.Tensor, raw: torch.Tensor) -> torch.Tensor:
        """``dl/draw``, shape ``(n, 1)``."""
        return (torch.sigmoid(raw[:, 0]) - y.to(raw.dtype)).unsqueeze(1)

    def loss_gradient(self, y: torch.Tensor, raw: torch.Tensor):
        """Per-sample loss ``(n,)`` and gradient ``(n, 1)`` sharing one sigmoid."""
        return self.loss(y, raw), self.gradient(y, raw)

    def hessian_diagonal(self, raw: torch.Tensor) -> torch.Tensor:
        """``d2l/dz2 = p (1 - p)``, shape ``(n, 1)``; computed as ``sigmoid(z) sigmoid(-z)``."""
        return torch.sigmoid(raw) * torch.sigmoid(-raw)

    def hessian_blocks(self, raw: torch.Tensor) -> list:
        """``[((0, 0), p (1 - p))]``: the one entry of the per-sample Hessian, shape ``(n,)``."""
        return [((0, 0), torch.sigmoid(raw[:, 0]) * torch.sigmoid(-raw[:, 0]))]

    def hessian_product(self, raw: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        """Per-sample Hessian (in raw space) times ``v``, both ``(n, 1)``."""
        return self.hessian_diagonal(raw) * v

    def predict_proba(self, raw: torch.Tensor) -> torch.Tensor:
        """Probabilities of both classes, shape ``(n, 2)``; rows sum to 1 exactly."""
        p1 = torch.sigmoid(raw[:, 0])
        p0 = torch.sigmoid(-raw[:, 0])
        return torch.stack([p0, p1], dim=1)


class MultinomialLoss:
    r"""Multinomial log-loss with the full softmax over K classes.

    :math:`\ell(y, z) = \operatorname{logsumexp}(z) - z_y`; gradient ``softmax(z) - onehot(y)``;
    per-sample Hessian ``diag(p) - p p^T``.
    """

    is_multiclass = True
    # adding one number to every class's logit leaves the softmax unchanged: along an
    # unpenalised column j the coefficients have the null direction (1, ..., 1) (x) e_j
    shift_invariant = True
    # an upper bound of the largest eigenvalue of diag(p) - p p^T over all logits
    # (Gershgorin: p_k (1 - p_k) + p_k sum_{l != k} p_l = 2 p_k (1 - p_k) <= 1/2)
    curvature_bound = 0.5

    def __init__(self, n_classes: int):
        if n_classes < 3:
            raise ValueError(f"MultinomialLoss needs at least 3 classes, got {n_classes}")
        self.n_classes = n_classes
        self.n_outputs = n_classes

    def loss(self, y: torch.Tensor, raw: torch.Tensor) -> torch.Tensor:
        return torch.logsumexp(raw, dim=1) - raw.gather(1, y.unsqueeze(1))[:, 0]

    def gradient(self, y: torch.Tensor, raw: torch.Tensor) -> torch.Tensor:
        g = torch.softmax(raw, dim=1)
        g.scatter_add_(1, y.unsqueeze(1), -torch.ones_like(g[:, :1]))
        return g

    def loss_gradient(self, y: torch.Tensor, raw: torch.Tensor):
        log_p = torch.log_softmax(raw, dim=1)
        loss = -log_p.gather(1, y.unsqueeze(1))[:, 0]
        g = log_p.exp()
        g.scatter_add_(1, y.unsqueeze(1), -torch.ones_like(g[:, :1]))
        return loss, g

    def hessian_diagonal(self, raw: torch.Tensor) -> torch.Tensor:
        """``p_k (1 - p_k)``: the diagonal of ``diag(p) - p p^T`` per sample, ``(n, K)``."""
        P = torch.softmax(raw, dim=1)
        return P * (1.0 - P)

    def hessian_blocks(self, raw: torch.Tensor) -> list:
        """``[((k, l), h_kl)]`` for ``k <= l``: ``h_kk = p_k (1 - p_k)``, ``h_kl = -p_k p_l``."""
        P = torch.softmax(raw, dim=1)
        m = P.shape[1]
        return [
            ((k, l), P[:, k] * (1.0 - P[:, k]) if k == l else -P[:, k] * P[:, l])
            for k in range(m)
            for l in range(k, m)
        ]

    def hessian_product(self, raw: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        """``(diag(p) - p p^T) v`` per sample, ``(n, K)``."""
        p = torch.softmax(raw, dim=1)
        return p * (v - (p * v).sum(dim=1, keepdim=True))

    def predict_proba(self, raw: torch.Tensor) -> torch.Tensor:
        return torch.softmax(raw, dim=1)


def make_loss(n_classes: int):
    """The loss for ``n_classes`` (binomial for 2, multinomial above)."""
    return BinomialLoss() if n_classes == 2 else MultinomialLoss(n_classes)

"""The glass box: a fitted model as a plain ``torch.nn.Module``.

:class:`LogisticLayer` is an ``nn.Linear`` with the fitted weights and the link function
that turns its logits into probabilities. Use it for inference inside PyTorch code, or as
the (pre-trained) first layer of a deeper network: its parameters train like any others.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

__all__ = ["LogisticLayer"]


class LogisticLayer(nn.Module):
    r"""Logits ``z = x W^T + b`` and class probabilities of a logistic regression.

    Two classes use one logit (``P(classes[1]) = sigmoid(z)``); ``K > 2`` classes use ``K``
    logits and the softmax.

    Parameters
    ----------
    in_features : int
    n_classes : int, at least 2
    bias : bool, default=True
    classes : sequence, optional
        The class labels (kept as a plain attribute, not a tensor); default ``0..K-1``.

    Shape:
        - ``forward``: ``(n, in_features) -> (n, m)`` logits, ``m = 1`` for two classes else
          ``K``
        - ``predict_proba``: ``(n, in_features) -> (n, K)``
        - ``predict``: ``(n, in_features) -> (n,)`` class indices into ``classes``
    """

    def __init__(
        self, in_features: int, n_classes: int, *, bias=True, classes=None, device=None, dtype=None
    ):
        super().__init__()
        if n_classes < 2:
            raise ValueError(f"n_classes must be at least 2, got {n_classes}")
        self.n_classes = int(n_classes)
        out = 1 if n_classes == 2 else n_classes
        self.linear = nn.Linear(in_features, out, bias=bias, device=device, dtype=dtype)
        self.classes = np.arange(n_classes) if classes is None else np.asarray(classes).copy()
        if len(self.classes) != n_classes:
            raise ValueError(f"{len(self.classes)} class labels for {n_classes} classes")

    @classmethod
    def from_estimator(cls, estimator, *, dtype=torch.float32, device=None) -> LogisticLayer:
        """A layer holding a fitted estimator's coefficients.

        ``dtype``: the layer's parameter dtype, ``torch.float32`` by default as for
        ``nn.Linear`` (so it composes with other layers and float32 inputs); ``"float64"``
        or ``torch.float64`` keeps full precision; ``None`` keeps the fitted dtype.
        ``device``: where the parameters live (default: the CPU).
        """
        coef = np.asarray(estimator.coef_)
        intercept = np.asarray(estimator.intercept_)
        if isinstance(dtype, str):
            dtype = getattr(torch, dtype.removeprefix("torch."), None)
            if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
                raise ValueError("dtype must be a floating-point torch dtype or its name")
        if dtype is None:
            dtype = torch.from_numpy(coef[:0]).dtype
        layer = cls(
            coef.shape[1],
            len(estimator.classes_),
            bias=bool(getattr(estimator, "fit_intercept", True)),
            classes=estimator.classes_,
            device=device,
            dtype=dtype,
        )
        with torch.no_grad():
            layer.linear.weight.copy_(torch.from_numpy(np.ascontiguousarray(coef)))
            if layer.linear.bias is not None:
                layer.linear.bias.copy_(torch.from_numpy(np.ascontiguousarray(intercept)))
        return layer

    @property
    def in_features(self) -> int:
        return self.linear.in_features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The logits, ``(n, m)``."""
        return self.linear(x)

    def predict_proba(self, x: torch.Tensor) -> torch.Tensor:
        """Class probabilities ``(n, K)``: ``[sigmoid(-z), sigmoid(z)]`` or ``softmax(z)``."""
        z = self(x)
        if self.n_classes == 2:
            return torch.cat([torch.sigmoid(-z), torch.sigmoid(z)], dim=1)
        return torch.softmax(z, dim=1)

    def predict(self, x: torch.Tensor) -> torch.Tensor:
        """The most probable class's index into ``classes``, ``(n,)``."""
        z = self(x)
        return (z[:, 0] > 0).long() if self.n_classes == 2 else z.argmax(dim=1)

    def extra_repr(self) -> str:
        return f"n_classes={self.n_classes}"

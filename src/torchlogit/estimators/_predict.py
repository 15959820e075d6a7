"""Predictions from ``coef_`` / ``intercept_``, as in scikit-learn, computed on the model's device.

The fitted block ``_coef`` (``(m, p)``: ``W`` with the intercept ``b`` as its last column when
one is fitted) lives on the model's device and dtype; ``coef_`` (``(m, d)``) and ``intercept_``
(``(m,)``) are its NumPy view for the user (tensors on the input's device under scikit-learn's
array-API dispatch, :mod:`._namespace`). As in scikit-learn, the user may write them
(reassign or edit in place, or ``sparsify()``): every prediction, :attr:`coef_tensor_`, a warm
start and the model files then use the written values, the device copy being rebuilt when they
differ from the values it was made from. The logits are ``z = X W^T + b (+ offset)``; two
classes use one logit (positive class ``classes_[1]``).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import torch
from sklearn.utils.validation import check_is_fitted

from .. import fitting
from ..data import validate_offset, validate_X
from ..objective import make_loss
from ._namespace import numpy_of

__all__ = ["CoefficientsMixin"]


class CoefficientsMixin:
    """The coefficient block, its public attributes, and every prediction method."""

    def _set_block(self, coef: torch.Tensor) -> None:
        """Make ``coef`` (``(m, p)``) the model and set ``coef_`` / ``intercept_`` from it."""
        self._coef = coef
        attrs = fitting.coefficient_attributes(coef, self.n_features_in_)
        for name, value in attrs.items():
            setattr(self, name, value)
        self._intercept = (
            coef[:, self.n_features_in_] if coef.shape[1] > self.n_features_in_ else None
        )
        self._seen = (attrs["coef_"].copy(), attrs["intercept_"].copy())

    def _refresh(self) -> torch.Tensor:
        """The device block, rebuilt from ``coef_`` / ``intercept_`` when the user changed them."""
        check_is_fitted(self, "_coef")
        coef, intercept = numpy_of(self.coef_), numpy_of(self.intercept_)
        seen_coef, seen_intercept = self._seen
        if np.array_equal(coef, seen_coef) and np.array_equal(intercept, seen_intercept):
            return self._coef
        old = self._coef
        m, d = old.shape[0], self.n_features_in_
        W = torch.as_tensor(coef, dtype=old.dtype, device=old.device).reshape(m, d)
        b = torch.as_tensor(intercept, dtype=old.dtype, device=old.device).reshape(m)
        self._coef = torch.cat([W, b[:, None]], dim=1) if old.shape[1] > d else W
        self._intercept = b
        self._seen = (coef.copy(), intercept.copy())
        return self._coef

    @property
    def coef_tensor_(self) -> torch.Tensor:
        """The fitted ``(m, p)`` coefficient tensor on the model's device and dtype: ``coef_``
        with the intercept as the last column when ``fit_intercept`` (what the predictions,
        the model files and :meth:`to_torch` use); it follows writes to ``coef_`` /
        ``intercept_``."""
        return self._refresh()

    def set_coefficients(self, coef: torch.Tensor, *, history=None):
        """Make this estimator predict with ``coef`` (``(m, p)``, as :attr:`coef_tensor_`);
        ``classes_`` and ``n_features_in_`` must be set. Used when a model file is loaded."""
        self._loss = make_loss(len(self.classes_))
        self._set_block(coef)
        if history is not None:
            self.history_ = history
        return self

    def sparsify(self):
        """Store ``coef_`` as a SciPy CSR matrix (predictions unchanged); returns ``self``."""
        check_is_fitted(self, "coef_")
        if not sp.issparse(self.coef_):
            self.coef_ = sp.csr_matrix(numpy_of(self.coef_))
        return self

    def densify(self):
        """Store ``coef_`` as a dense NumPy array (after :meth:`sparsify`); returns ``self``."""
        check_is_fitted(self, "coef_")
        if sp.issparse(self.coef_):
            self.coef_ = self.coef_.toarray()
        return self

    # ------------------------------------------------------------------ predict
    def _raw(self, X, offset=None):
        block = self._refresh()
        device = block.device
        Xt, was_tensor = validate_X(self, X, reset=False, dtype=block.dtype, device=device)
        d = self.n_features_in_
        raw = Xt @ block[:, :d].T
        if self._intercept is not None:
            raw = raw + self._intercept
        if offset is not None:
            m = block.shape[0]
            raw = raw + validate_offset(offset, raw.shape[0], m, dtype=raw.dtype, device=device)
        return raw, (X.device if was_tensor else None)

    @staticmethod
    def _out(t: torch.Tensor, device):
        return t.to(device) if device is not None else t.cpu().numpy()

    def decision_function(self, X, offset=None):
        """Logits ``X W^T + b (+ offset)``: ``(n,)`` for two classes (positive class
        ``classes_[1]``), else ``(n, K)``."""
        raw, dev = self._raw(X, offset)
        return self._out(raw[:, 0] if raw.shape[1] == 1 else raw, dev)

    def predict_proba(self, X, offset=None):
        """Class probabilities ``(n, K)``, from the logits (rows sum to 1)."""
        raw, dev = self._raw(X, offset)
        return self._out(self._loss.predict_proba(raw), dev)

    def predict_log_proba(self, X, offset=None):
        """Log-probabilities ``(n, K)`` via log-sigmoid / log-softmax (finite for any logit)."""
        raw, dev = self._raw(X, offset)
        if raw.shape[1] == 1:
            z = raw[:, 0]
            out = torch.stack(
                [torch.nn.functional.logsigmoid(-z), torch.nn.functional.logsigmoid(z)], dim=1
            )
        else:
            out = torch.log_softmax(raw, dim=1)
        return self._out(out, dev)

    def predict(self, X, offset=None):
        """The most probable class for each row."""
        raw, dev = self._raw(X, offset)
        idx = (raw[:, 0] > 0).long() if raw.shape[1] == 1 else raw.argmax(dim=1)
        labels = numpy_of(self.classes_)[idx.cpu().numpy()]
        if dev is not None and labels.dtype.kind in "iufb":
            return torch.as_tensor(labels, device=dev)
        return labels

    def score(self, X, y, sample_weight=None, offset=None):
        """Mean accuracy (weighted when ``sample_weight`` is given)."""
        from sklearn.metrics import accuracy_score

        pred = self.predict(X, offset=offset)
        to_np = lambda a: a.detach().cpu().numpy() if isinstance(a, torch.Tensor) else a  # noqa: E731
        return accuracy_score(to_np(y), to_np(pred), sample_weight=to_np(sample_weight))

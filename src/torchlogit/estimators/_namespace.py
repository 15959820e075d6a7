"""Fitted attributes in the input's array namespace, under scikit-learn's array-API dispatch.

With ``sklearn.config_context(array_api_dispatch=True)`` scikit-learn 1.9's
``LogisticRegression.fit`` returns ``coef_`` ``(m, d)`` and ``intercept_`` ``(m,)`` in the
namespace, device and dtype of ``X``, ``n_iter_`` as an int32 array of that namespace on
the same device (seen on CUDA: ``tensor([17], device='cuda:0', dtype=torch.int32)``) and
``classes_`` in the namespace (and on the device) of ``y`` (``xp_y.unique_values(y)``).
torchlogit does the same for torch tensors, its own namespace; NumPy, pandas and lists stay
NumPy, as they do there. Without dispatch every fitted attribute
is NumPy, whatever the input (scikit-learn converts the input to NumPy then).

The values are the same numbers either way: only the container changes, so predictions,
warm starts and model files read them through :func:`numpy_of` and do not care which it is.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import sklearn
import torch

__all__ = ["dispatch_enabled", "follow_input_namespace", "input_device", "numpy_of"]


def dispatch_enabled() -> bool:
    """Whether scikit-learn's ``array_api_dispatch`` is on (``sklearn.config_context``)."""
    return bool(sklearn.get_config().get("array_api_dispatch", False))


def input_device(value) -> torch.device | None:
    """The device of ``value`` when dispatch is on and ``value`` is a torch tensor: the fitted
    attributes derived from it are then tensors there. ``None`` otherwise (NumPy)."""
    if dispatch_enabled() and isinstance(value, torch.Tensor):
        return value.device
    return None


def numpy_of(value) -> np.ndarray:
    """A dense NumPy copy of a fitted attribute (NumPy, SciPy sparse or a tensor anywhere)."""
    if sp.issparse(value):
        return value.toarray()
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().numpy().copy()
    if hasattr(value, "__array_namespace__") and not isinstance(value, np.ndarray):
        return np.asarray(value.to_device("cpu") if hasattr(value, "to_device") else value)
    return np.array(value, copy=True)


def follow_input_namespace(estimator, x_device, y_device) -> None:
    """Turn ``estimator``'s NumPy ``coef_`` / ``intercept_`` (and ``n_iter_``) into tensors on
    ``x_device`` in the fitted dtype, and ``classes_`` into a tensor on ``y_device``, as
    scikit-learn does under dispatch; a ``None`` device leaves those attributes NumPy."""
    if x_device is not None:
        dtype = estimator.coef_tensor_.dtype
        for name in ("coef_", "intercept_"):
            value = torch.as_tensor(numpy_of(getattr(estimator, name)), dtype=dtype)
            setattr(estimator, name, value.to(x_device))
        n_iter = torch.as_tensor(np.asarray(estimator.n_iter_), dtype=torch.int32)
        estimator.n_iter_ = n_iter.to(x_device)
    classes = estimator.classes_
    if y_device is not None and isinstance(classes, np.ndarray) and classes.dtype.kind in "iufb":
        estimator.classes_ = torch.as_tensor(classes, device=y_device)

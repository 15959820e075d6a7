"""Input validation: arrays in, tensors on the compute device out, nothing copied that need not be.

NumPy, pandas and list inputs go through scikit-learn's ``validate_data`` (its messages and
exception types, ``n_features_in_`` and ``feature_names_in_``); float arrays are not copied
(``torch.from_numpy`` shares memory) and the finiteness check is one pass. Torch tensors are
checked here with the same messages and stay where they are unless another device or dtype is
asked for. Nothing the caller passed is modified: tensors that would be shared are only read.

Sparse input (SciPy sparse in any format, torch sparse COO / CSR / CSC) becomes a
:class:`~torchlogit.data._sparse.SparseDesign` (torch CSR on the device, int64 indices,
duplicates summed, indices sorted, values checked finite); it is never densified.
"""

from __future__ import annotations

import numbers
import warnings

import numpy as np
import torch
from sklearn.utils.validation import _check_sample_weight, _check_y, validate_data

from ._sparse_input import from_scipy, from_torch_sparse, is_sparse_input

_DTYPES = {
    "float32": torch.float32,
    "float64": torch.float64,
    torch.float32: torch.float32,
    torch.float64: torch.float64,
    np.float32: torch.float32,
    np.float64: torch.float64,
}


def is_tensor(X) -> bool:
    return isinstance(X, torch.Tensor)


def resolve_dtype(dtype, X) -> torch.dtype:
    """``None`` follows the input (float32 stays float32, anything else becomes float64)."""
    if dtype is None:
        src = X.dtype if hasattr(X, "dtype") else None
        if src in (torch.float32, np.float32) or (isinstance(src, np.dtype) and src == np.float32):
            return torch.float32
        return torch.float64
    key = (
        np.dtype(dtype).type
        if isinstance(dtype, (str, type))
        and dtype in ("float32", "float64", np.float32, np.float64)
        else dtype
    )
    if key not in _DTYPES:
        raise ValueError(f"dtype must be None, 'float32' or 'float64'; got {dtype!r}")
    return _DTYPES[key]


def resolve_device(device, X=None) -> torch.device:
    """``None``: the input tensor's device, else CPU. ``"auto"``: CUDA when available."""
    if device is None:
        return X.device if is_tensor(X) else torch.device("cpu")
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(
            f"device must be 'cpu', 'cuda', 'cuda:N', 'auto' or None; got {device!r}"
        ) from exc
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device={device!r} was asked for, but CUDA is not available here")
    return dev


def _check_tensor_X(estimator, X: torch.Tensor, *, reset: bool) -> torch.Tensor:
    if X.is_complex():
        raise ValueError("Complex data not supported; X is a complex tensor")
    if X.ndim != 2:
        raise ValueError(
            f"Expected 2D array, got {X.ndim}D tensor instead with shape {tuple(X.shape)}. "
            "Reshape your data either using X.reshape(-1, 1) if your data has a single "
            "feature or X.reshape(1, -1) if it contains a single sample."
        )
    if X.shape[0] == 0:
        raise ValueError(
            f"Found array with 0 sample(s) (shape={tuple(X.shape)}) while a "
            "minimum of 1 is required."
        )
    if X.shape[1] == 0:
        raise ValueError(
            f"Found array with 0 feature(s) (shape={tuple(X.shape)}) while a "
            "minimum of 1 is required."
        )
    if not (
        X.is_floating_point()
        or X.dtype in (torch.int8, torch.int16, torch.int32, torch.int64, torch.uint8, torch.bool)
    ):
        raise ValueError(f"X has unsupported dtype {X.dtype}")
    _check_n_features(estimator, X.shape[1], reset=reset)
    return X


def _check_n_features(estimator, n_features: int, *, reset: bool) -> None:
    if reset:
        estimator.n_features_in_ = n_features
        if hasattr(estimator, "feature_names_in_"):
            del estimator.feature_names_in_
    elif n_features != estimator.n_features_in_:
        raise ValueError(
            f"X has {n_features} features, but {type(estimator).__name__} is expecting "
            f"{estimator.n_features_in_} features as input."
        )


def check_finite(X: torch.Tensor, name: str = "X") -> None:
    """One pass over ``X``: a ValueError naming the first non-finite entry's position.

    The pass is a sum (NaN and infinity propagate; no ``(n, d)`` mask is allocated); only
    when it is not finite (a non-finite entry, or an overflow of the sum) is ``X`` searched.
    """
    if X.is_floating_point():
        if X.numel() == 0 or bool(torch.isfinite(X.sum())):
            return
        bad = ~torch.isfinite(X)
        if bool(bad.any()):
            idx = torch.nonzero(bad)[0].tolist()
            where = f"row {idx[0]}" + (f", column {idx[1]}" if len(idx) > 1 else "")
            kind = "NaN" if bool(torch.isnan(X[tuple(idx)])) else "infinity"
            raise ValueError(f"Input {name} contains {kind} (first at {where}).")


def check_feature_scale(max_abs: float, n_rows: int, dtype, name: str = "X") -> None:
    """Refuse features so large that a sum of their squares over the rows — a Hessian or
    Gram entry — overflows ``dtype``: ``max|x| > sqrt(finfo(dtype).max / n_rows)``
    (float64: ~1e154 / sqrt(n)). Past it, a fit fails in its linear algebra or silently
    stops at zero; scaling the features does not change the problem."""
    limit = float(np.sqrt(torch.finfo(dtype).max / max(int(n_rows), 1)))
    if max_abs > limit:
        raise ValueError(
            f"Input {name} has values up to {max_abs:.3g} in absolute value: too large for "
            f"{dtype} on {n_rows} rows (their squares sum past {torch.finfo(dtype).max:.3g}; "
            f"the limit is {limit:.3g}). Scale the features (e.g. "
            "sklearn.preprocessing.StandardScaler)"
        )


def to_device_tensor(X, *, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """A tensor view of ``X`` on ``device`` in ``dtype``; shares memory when it can.

    A read-only NumPy array is shared too: torch warns that it could be written through
    the tensor, but nothing in torchlogit writes to its inputs.
    """
    if is_tensor(X):
        return X.to(device=device, dtype=dtype)
    np_dtype = np.float32 if dtype == torch.float32 else np.float64
    arr = np.asarray(X)
    if arr.dtype != np_dtype:
        arr = arr.astype(np_dtype)
    if any(st < 0 for st in arr.strides):  # a reversed view: torch cannot share it
        arr = np.ascontiguousarray(arr)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
        return torch.from_numpy(arr).to(device)


def _validate_torch_sparse(estimator, X: torch.Tensor, *, reset: bool, dtype, device):
    """A torch sparse tensor: shape checks as for dense tensors, then a SparseDesign."""
    _check_tensor_X(estimator, X, reset=reset)
    dt = resolve_dtype(dtype, X)
    return from_torch_sparse(X, dtype=dt, device=device if device is not None else X.device)


def _validate_scipy_sparse(estimator, X, y=None, *, reset: bool, dtype, device):
    """A SciPy sparse matrix / array: scikit-learn's checks (shape, n_features), then CSR."""
    dt = resolve_dtype(dtype, X)
    target = str(dt).replace("torch.", "") if dtype is not None else [np.float64, np.float32]
    kwargs = dict(
        accept_sparse="csr",
        dtype=target,
        ensure_all_finite=False,  # checked on the values below, naming the row and column
        reset=reset,
    )
    if y is None:
        X = validate_data(estimator, X, **kwargs)
    else:
        kwargs.pop("reset")
        X, y = validate_data(estimator, X, y, y_numeric=False, **kwargs)
    dt = resolve_dtype(dtype, X)
    Xs = from_scipy(X, dtype=dt, device=device or torch.device("cpu"))
    return Xs, y


def validate_X(estimator, X, *, reset: bool, dtype=None, device=None):
    """Validate ``X`` and return it as a tensor (or a SparseDesign) on ``device``.

    Returns ``(X_tensor, was_tensor)``. ``reset=True`` (in ``fit``) records
    ``n_features_in_`` / ``feature_names_in_``; otherwise they are checked.
    """
    if is_sparse_input(X):
        if is_tensor(X):
            Xs = _validate_torch_sparse(estimator, X, reset=reset, dtype=dtype, device=device)
            return Xs, True
        Xs, _ = _validate_scipy_sparse(estimator, X, reset=reset, dtype=dtype, device=device)
        return Xs, False
    if is_tensor(X):
        X = _check_tensor_X(estimator, X, reset=reset)
        dt = resolve_dtype(dtype, X)
        Xt = X.to(device=device if device is not None else X.device, dtype=dt)
        check_finite(Xt)
        return Xt, True
    dt = resolve_dtype(dtype, X if hasattr(X, "dtype") else None)
    X = validate_data(
        estimator,
        X,
        reset=reset,
        dtype=[np.float64, np.float32] if dtype is None else str(dt).replace("torch.", ""),
        ensure_all_finite=True,
    )
    dt = resolve_dtype(dtype, X)
    return to_device_tensor(X, dtype=dt, device=device or torch.device("cpu")), False


def _integer_labels_tensor(y) -> bool:
    """A 1-D tensor of integer or boolean labels: nothing of scikit-learn's target checks can
    fail on it (always "binary" or "multiclass"), so it is coded where it lives."""
    return (
        is_tensor(y)
        and not y.is_sparse
        and y.ndim == 1
        and not (y.is_floating_point() or y.is_complex())
    )


def validate_X_y(estimator, X, y, *, dtype=None, device=None):
    """Validate training data. Returns ``(X_tensor, y, was_tensor)``: ``y`` NumPy, or the
    tensor itself for 1-D integer labels given as a tensor with a tensor ``X``.

    ``X_tensor`` is a :class:`~torchlogit.data._sparse.SparseDesign` for sparse input.
    """
    if is_sparse_input(X) and not is_tensor(X):
        if is_tensor(y):
            y = y.detach().cpu().numpy()
        Xs, y_np = _validate_scipy_sparse(estimator, X, y, reset=True, dtype=dtype, device=device)
        return Xs, y_np, False
    if is_tensor(X):
        Xt, _ = validate_X(estimator, X, reset=True, dtype=dtype, device=device)
        # Training never differentiates through X: without this, a tensor that requires grad
        # would make every pass over the data record an autograd graph.
        Xt = Xt.detach()
        if _integer_labels_tensor(y):  # coded on its device (no host copy of n labels)
            if y.shape[0] != Xt.shape[0]:
                raise ValueError(
                    f"Found input variables with inconsistent numbers of samples: "
                    f"[{Xt.shape[0]}, {y.shape[0]}]"
                )
            return Xt, y.detach(), True
        y_np = y.detach().cpu().numpy() if is_tensor(y) else y
        if y_np is None:
            raise ValueError(
                f"{type(estimator).__name__} requires y to be passed, but the target y is None."
            )
        # scikit-learn's own checks on y (1-D or a column, finite), as for NumPy input.
        y_np = _check_y(np.asarray(y_np), estimator=estimator)
        if y_np.shape[0] != Xt.shape[0]:
            raise ValueError(
                f"Found input variables with inconsistent numbers of samples: "
                f"[{Xt.shape[0]}, {y_np.shape[0]}]"
            )
        return Xt, y_np, True
    if is_tensor(y):
        y = y.detach().cpu().numpy()
    dt = resolve_dtype(dtype, X if hasattr(X, "dtype") else None)
    X, y_np = validate_data(
        estimator,
        X,
        y,
        dtype=[np.float64, np.float32] if dtype is None else str(dt).replace("torch.", ""),
        ensure_all_finite=True,
        y_numeric=False,
    )
    dt = resolve_dtype(dtype, X)
    return to_device_tensor(X, dtype=dt, device=device or torch.device("cpu")), y_np, False


def validate_sample_weight(
    sample_weight, n_samples: int, *, allow_zero_total: bool = False
) -> np.ndarray:
    """Non-negative, finite, of shape ``(n,)``, not all zero; a float64 NumPy copy.

    ``allow_zero_total``: all zeros are fine (one rank's share of a distributed fit; the
    total over every rank is checked when the ranks agree on ``S``).
    """
    if sample_weight is None and n_samples > 0:  # ones pass every check below
        return np.ones(n_samples)
    if is_tensor(sample_weight):
        sample_weight = sample_weight.detach().cpu().numpy()
    if isinstance(sample_weight, numbers.Number) or sample_weight is None:
        sw = _check_sample_weight(sample_weight, np.empty((n_samples, 1)), dtype=np.float64)
    else:
        sw = np.asarray(sample_weight)
        if sw.ndim != 1:
            raise ValueError(f"Sample weights must be 1D array or scalar, got shape {sw.shape}")
        if sw.shape[0] != n_samples:
            raise ValueError(f"sample_weight.shape == ({sw.shape[0]},), expected ({n_samples},)!")
        sw = _check_sample_weight(
            sw, np.empty((n_samples, 1)), dtype=np.float64, ensure_non_negative=True, copy=True
        )
    if not np.all(np.isfinite(sw)):
        raise ValueError("sample_weight contains NaN or infinity")
    if np.any(sw < 0):
        raise ValueError("Negative values in data passed to `sample_weight`")
    if not allow_zero_total and not np.any(sw > 0):
        raise ValueError("sample_weight is zero for every sample; nothing to fit")
    return np.array(sw, dtype=np.float64, copy=True)

"""Class labels: any label type in, class indices out; class weights folded into sample weights."""

from __future__ import annotations

import numbers

import numpy as np
import torch
from sklearn.utils.class_weight import compute_class_weight
from sklearn.utils.multiclass import check_classification_targets


def check_labels(y) -> np.ndarray:
    """``y`` as a checked 1-D label array (a column vector is accepted).

    Missing labels (None / NaN) and strings mixed with numbers get a ``ValueError`` naming the
    first bad row; continuous or multi-output targets get scikit-learn's. One class is fine
    here (a shard of distributed data may hold one): :func:`encode_labels` checks for two.
    """
    if isinstance(y, torch.Tensor):  # 1-D integer labels left on their device: nothing to check
        return y
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.dtype.kind == "O":
        # Missing labels: sorting them (in scikit-learn's checks or np.unique) would fail with
        # a cryptic TypeError, so look for them first.
        missing = [
            i for i, v in enumerate(y.ravel()) if v is None or (isinstance(v, float) and v != v)
        ]
        if missing:
            raise ValueError(
                f"y contains {len(missing)} missing label(s) (None or NaN), the first at "
                f"row {missing[0]}"
            )
        if len({isinstance(v, str) for v in y.ravel()}) > 1:
            raise ValueError("Mix of label input types (string and number) in y")
    # For a 1-D y, scikit-learn's target type depends only on the set of values (and their
    # dtype): checking the sorted unique labels is the same check, without sorting n labels;
    # 1-D integer or boolean labels are always "binary" or "multiclass", nothing to check.
    if y.ndim != 1:
        check_classification_targets(y)
    elif y.dtype.kind not in "iub":
        check_classification_targets(label_values(y))
    return y


#: Integer labels spanning fewer values than this are counted (:func:`label_values`,
#: :func:`label_indices`) instead of sorted: O(n) with a table of this size at most.
COUNTED_LABEL_RANGE = 2**20


def _as_integer_tensor(y) -> torch.Tensor | None:
    """Integer / boolean labels as a tensor (NumPy ones viewed without a copy; unsigned
    wider than 8 bits, which torch has few kernels for, converted to int64); None for any
    other labels (floats, strings, objects)."""
    if isinstance(y, torch.Tensor):
        return y
    if y.dtype.kind not in "iub" or y.dtype == np.uint64:  # uint64 may not fit in int64
        return None
    if y.dtype.kind == "u" and y.dtype.itemsize > 1:
        y = y.astype(np.int64)
    return torch.from_numpy(np.ascontiguousarray(y))


def _tensor_range(y: torch.Tensor) -> tuple[int, int]:
    """``(min, max)`` of integer / boolean labels held as a tensor (one read, one sync)."""
    if y.numel() == 0:
        return 0, -1
    lo, hi = torch.aminmax(y.to(torch.int64) if y.dtype == torch.bool else y)
    return int(lo), int(hi)


def _tensor_values(y: torch.Tensor) -> np.ndarray:
    """:func:`label_values` of integer labels held as a tensor, computed where they are (a
    count on the device; the classes, few, copied to the host)."""
    lo, hi = _tensor_range(y)
    if hi - lo < COUNTED_LABEL_RANGE:
        present = torch.nonzero(torch.bincount(y.to(torch.int64) - lo)).reshape(-1) + lo
    else:
        present = torch.unique(y.to(torch.int64))
    dtype = y[:0].cpu().numpy().dtype
    return present.cpu().numpy().astype(dtype)


def _tensor_indices(classes: np.ndarray, y: torch.Tensor) -> torch.Tensor:
    """:func:`label_indices` of integer labels held as a tensor, on their device."""
    if np.array_equal(classes, np.arange(len(classes))):  # labels 0 .. K-1: their own index
        return y.to(torch.int64, copy=True)
    known = torch.as_tensor(classes.astype(np.int64), device=y.device)
    lo, hi = _tensor_range(y)
    if hi - lo >= COUNTED_LABEL_RANGE:
        return torch.searchsorted(known, y.to(torch.int64))
    table = torch.zeros(hi - lo + 1, dtype=torch.int64, device=y.device)
    inside = (known >= lo) & (known <= hi)
    table[known[inside] - lo] = torch.nonzero(inside).reshape(-1)
    return table[y.to(torch.int64) - lo]


def label_values(y) -> np.ndarray:
    """``np.unique(y)`` for 1-D labels; integer labels of a small range by a count (``O(n)``:
    20,000,000 labels in ~0.1 s against ~1 s for the sort), where they are (a tensor on a
    GPU: on the device; the classes, few, copied to the host)."""
    t = _as_integer_tensor(y)
    if t is None:
        return np.unique(y)
    values = _tensor_values(t)
    return values if isinstance(y, torch.Tensor) else values.astype(y.dtype)


def label_indices(classes: np.ndarray, y):
    """Each label's index in the sorted ``classes`` (every label is one of them), int64:
    ``np.searchsorted(classes, y)``, or a lookup table for integer labels of a small range;
    NumPy for NumPy labels, a tensor on ``y``'s device for a tensor."""
    t = _as_integer_tensor(y)
    if t is None or classes.dtype.kind not in "iub":
        return np.searchsorted(classes, y).astype(np.int64).reshape(-1)
    index = _tensor_indices(classes, t)
    return index if isinstance(y, torch.Tensor) else index.numpy()


def encode_labels(y) -> tuple[np.ndarray, np.ndarray]:
    """``(classes_, y_index)``: sorted unique labels and each sample's index into them.

    Raises scikit-learn's ``ValueError`` for continuous or multi-output targets and for
    targets with a single class.
    """
    y = check_labels(y)
    classes, y_index = np.unique(y, return_inverse=True)
    if classes.shape[0] < 2:
        raise ValueError(
            "This solver needs samples of at least 2 classes in the data, but the data "
            f"contains only one class: {classes[0]!r}"
        )
    return classes, y_index.astype(np.int64).reshape(-1)


def per_class_weights(class_weight, classes: np.ndarray, class_sums: np.ndarray) -> np.ndarray:
    """Each class's weight ``c_k``, float64 ``(K,)``: the one place ``class_weight`` is read.

    ``class_sums[k] = n_k`` is the total sample weight of class ``k`` (over every rank of a
    distributed fit, or over a stream's validation pass). ``None``: all ones. A dict: its
    values (checked finite and >= 0; classes it does not name weigh 1, scikit-learn's
    ``compute_class_weight``). ``"balanced"``: ``c_k = S / (K n_k)`` with ``S = sum_k n_k``,
    scikit-learn's ``LogisticRegression`` convention; a class of total weight 0 gets ``c_k = 0``
    (its rows are absent from the fit, as without ``class_weight``; ``S / 0`` would turn
    ``0 * inf`` into NaN).
    """
    K = len(classes)
    if class_weight is None:
        return np.ones(K)
    if isinstance(class_weight, str) and class_weight == "balanced":
        n_k = np.asarray(class_sums, dtype=np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            cw = n_k.sum() / (K * n_k)
        cw[~np.isfinite(cw)] = 0.0
        return cw
    if isinstance(class_weight, dict):
        for label, w in class_weight.items():
            if not (isinstance(w, numbers.Real) and np.isfinite(w) and w >= 0):
                raise ValueError(
                    f"class_weight[{label!r}] = {w!r}: class weights must be finite and >= 0"
                )
    return np.asarray(compute_class_weight(class_weight, classes=classes, y=classes), np.float64)


def class_weight_per_sample(
    class_weight, classes: np.ndarray, y_index: np.ndarray, sample_weight: np.ndarray | None = None
) -> np.ndarray:
    """Each sample's class weight (:func:`per_class_weights`), float64 ``(n,)``.

    ``"balanced"`` uses ``n / (K * count_k)`` (with sample weights when given, as
    scikit-learn's ``LogisticRegression`` does).
    """
    counts = np.bincount(y_index, weights=sample_weight, minlength=len(classes))
    return per_class_weights(class_weight, classes, counts)[y_index]


def check_weight_sum(weight_sum: float, world_size: int) -> None:
    """The one weight-sum check: ``0 < S < inf`` after the class weights."""
    if weight_sum > 0 and not np.isfinite(weight_sum):
        raise ValueError(
            f"the sample weights (after class_weight) sum to {weight_sum}: too large for the "
            "working dtype. Scale them down (weights times k give the fit of C times k)"
        )
    if not weight_sum > 0:
        if world_size > 1:
            raise ValueError("every sample (on every rank) has zero weight after class_weight")
        raise ValueError("every sample has zero weight after applying class_weight")

"""The one preparation path: user data in, one :class:`TrainingSet` out.

Arrays (NumPy, pandas, lists, torch tensors, SciPy / torch sparse) and streaming sources, on
one process or on each rank of a distributed fit, go through :func:`prepare`:

1. validate this process's rows (shapes, finiteness, labels, sample weights, offsets);
2. agree with the other ranks through the *reducer* (identity on one process): the schema
   (features, names, dtype), the classes (the union of every rank's labels), the class
   weight sums ``n_k = sum_{i: y_i = k} s_i`` and the total weight;
3. fold the class weights ``c_k`` (:func:`~torchlogit.data._labels.per_class_weights`) into
   the per-row weights ``s_i <- s_i c_{y_i}`` and compute ``S = sum_i s_i`` over every rank,
   the divisor of the averaged objective.

A rank whose rows all weigh 0, or that holds one class, is fine; the whole data must have
two classes and ``S > 0``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import torch

from ._labels import (
    check_labels,
    check_weight_sum,
    label_indices,
    label_values,
    per_class_weights,
)
from ._memory import InMemoryData
from ._reducer import LocalReducer
from ._sources import StreamingSource
from ._sparse import SparseDesign, is_sparse_design
from ._streaming import StreamingData
from ._validation import (
    check_feature_scale,
    resolve_device,
    resolve_dtype,
    to_device_tensor,
    validate_sample_weight,
    validate_X,
    validate_X_y,
)


@dataclass
class TrainingSet:
    """Prepared training data: what the fitting engine needs, and nothing left to check.

    ``data`` is what the objective iterates (``batches()``, ``weight_sum``, ``n_samples``:
    this process's rows); ``n_samples`` here counts the rows of every rank and
    ``rows_per_rank`` each rank's. ``weight_sum`` is ``S`` over every rank.
    """

    data: InMemoryData | StreamingData
    classes: np.ndarray
    n_features: int
    feature_names: tuple[str, ...] | None
    dtype: torch.dtype
    device: torch.device
    weight_sum: float
    n_samples: int
    rows_per_rank: list[int]
    sparse: bool
    streamed: bool
    reducer: object

    @property
    def distributed(self) -> bool:
        """Whether the rows are one rank's share of a data-parallel fit (any world size)."""
        return not isinstance(self.reducer, LocalReducer)

    @property
    def n_outputs(self) -> int:
        """Raw predictions per row: 1 for two classes (one logit), else ``K``."""
        return _n_outputs(len(self.classes))


def _n_outputs(n_classes: int) -> int:
    return 1 if n_classes == 2 else n_classes


def prepare(
    X,
    y=None,
    sample_weight=None,
    *,
    validator,
    class_weight=None,
    offset=None,
    dtype=None,
    device=None,
    verbose: int = 0,
    reducer=None,
) -> TrainingSet:
    """Validate and prepare ``(X, y, sample_weight, class_weight, offset)`` or a source.

    ``validator`` is the estimator: scikit-learn's checks record ``n_features_in_`` and
    ``feature_names_in_`` on it (for a source too), and name it in messages. ``reducer``
    (default :class:`LocalReducer`) makes the ranks agree. Errors on any rank stop every rank.
    """
    reducer = LocalReducer() if reducer is None else reducer
    if isinstance(X, StreamingSource):
        return _prepare_source(
            X, y, sample_weight, offset, validator, class_weight, dtype, device, verbose, reducer
        )
    return _prepare_arrays(
        X, y, sample_weight, offset, validator, class_weight, dtype, device, reducer
    )


def prepare_batch(
    X,
    y,
    sample_weight=None,
    *,
    classes: np.ndarray,
    validator,
    reset: bool,
    class_weight=None,
    offset=None,
    dtype=None,
    device=None,
) -> TrainingSet:
    """One batch of an online fit (``partial_fit``), encoded against the known ``classes``.

    ``reset`` (the first call) records ``n_features_in_`` on ``validator``, else checks it.
    ``class_weight="balanced"`` is computed on this batch, over the classes present in it
    (the others have no row here). ``weight_sum`` is the batch's total weight.
    """
    Xt, _ = validate_X(validator, X, reset=reset, dtype=dtype, device=device)
    _check_scale(Xt)
    y_np = np.asarray(y.detach().cpu().numpy() if hasattr(y, "detach") else y).reshape(-1)
    if y_np.shape[0] != Xt.shape[0]:
        raise ValueError(f"X has {Xt.shape[0]} rows but y has {y_np.shape[0]}")
    K = len(classes)
    idx = np.clip(np.searchsorted(classes, y_np), 0, K - 1)
    unknown = classes[idx] != y_np
    if np.any(unknown):
        raise ValueError(f"label {y_np[unknown][0]!r} is not in classes {classes!r}")
    sw = validate_sample_weight(sample_weight, Xt.shape[0])
    counts = np.bincount(idx, weights=sw, minlength=K)
    if isinstance(class_weight, str) and class_weight == "balanced":
        present = counts > 0
        cw = np.ones(K)
        cw[present] = per_class_weights(class_weight, classes[present], counts[present])
    else:
        cw = per_class_weights(class_weight, classes, counts)
    sw = sw * cw[idx]
    dev = Xt.device
    off = None
    if offset is not None:
        off = validate_offset(offset, Xt.shape[0], _n_outputs(K), dtype=Xt.dtype, device=dev)
    sw_t = torch.from_numpy(sw).to(dev, Xt.dtype)
    data = InMemoryData(Xt, torch.from_numpy(idx).to(dev), sw_t, offset=off)
    names = getattr(validator, "feature_names_in_", None)
    return _in_memory_set(
        data,
        classes,
        names,
        weight_sum=data.weight_sum,
        rows=[int(Xt.shape[0])],
        reducer=LocalReducer(),
    )


def _in_memory_set(data: InMemoryData, classes, names, *, weight_sum, rows, reducer):
    """The :class:`TrainingSet` of rows held in memory (``rows``: each rank's count)."""
    X = data.batch.X
    return TrainingSet(
        data=data,
        classes=classes,
        n_features=int(X.shape[1]),
        feature_names=None if names is None else tuple(str(n) for n in names),
        dtype=X.dtype,
        device=X.device,
        weight_sum=weight_sum,
        n_samples=sum(rows),
        rows_per_rank=list(rows),
        sparse=is_sparse_design(X),
        streamed=False,
        reducer=reducer,
    )


def validate_offset(offset, n_samples: int, n_outputs: int, *, dtype, device) -> torch.Tensor:
    """``offset`` as a finite ``(n, m)`` tensor: ``(n,)`` (or ``(n, 1)``) for two classes,
    ``(n, K)`` for ``K > 2`` classes (one number per row and class)."""
    if isinstance(offset, torch.Tensor):
        off = offset.detach().to(device=device, dtype=dtype)
    else:
        try:
            arr = np.asarray(offset, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"offset must be an array of numbers: {exc}") from None
        off = to_device_tensor(arr, dtype=dtype, device=device)
    want = f"({n_samples},)" if n_outputs == 1 else f"({n_samples}, {n_outputs})"
    if off.ndim == 1 and n_outputs == 1:
        off = off.reshape(-1, 1)
    if off.ndim != 2 or off.shape != (n_samples, n_outputs):
        what = "one number per row" if n_outputs == 1 else "one number per row and class"
        raise ValueError(f"offset must have shape {want} ({what}), got shape {tuple(off.shape)}")
    bad = ~torch.isfinite(off)
    if bool(bad.any()):
        r = int(torch.nonzero(bad)[0, 0])
        raise ValueError(f"offset contains NaN or infinity (first at row {r})")
    return off


def check_schema(meta: list[dict]) -> None:
    """Every rank must see the same features, in the same order, in the same dtype."""
    for key, what in (
        ("n_features", "number of features"),
        ("feature_names", "feature names"),
        ("dtype", "dtype"),
        ("device_type", "device type"),
        ("offset_columns", "number of offset columns"),
    ):
        values = [m.get(key) for m in meta]
        if any(v != values[0] for v in values):
            per_rank = "; ".join(
                f"rank {r}: {v if key != 'feature_names' else _short(v)}"
                for r, v in enumerate(values)
            )
            raise ValueError(
                f"the ranks' training data disagree on the {what} ({per_rank}); every rank "
                "must hold the same columns"
            )


def _short(names):
    if names is None:
        return "none"
    names = list(names)
    return repr(names if len(names) <= 6 else names[:6] + ["..."])


def global_classes(label_sets: list[np.ndarray]) -> np.ndarray:
    """The sorted union of every rank's labels; at least two classes.

    Labels of text and numbers are refused even where NumPy would turn the numbers into text
    (rank 0 reading ``"1"`` as 1 from a CSV, rank 1 keeping ``"01"``: they would be encoded
    against other classes)."""
    sets = [np.asarray(c) for c in label_sets if len(c)]
    kinds = {c.dtype.kind for c in sets}
    mixed = bool(kinds & {"U", "S"}) and bool(kinds & {"i", "u", "f", "b"})
    try:
        if mixed:
            raise TypeError("text and numbers")
        classes = np.unique(np.concatenate([np.asarray(c) for c in label_sets]))
    except TypeError as exc:
        kinds = sorted({np.asarray(c).dtype.kind for c in label_sets})
        raise ValueError(
            f"the ranks' labels cannot be ordered together (dtype kinds {kinds}): every rank "
            "must use the same label type (for a CSVSource, pass target_type='str' or 'int')"
        ) from exc
    if classes.shape[0] < 2:
        where = "the data (all ranks together)" if len(label_sets) > 1 else "the data"
        raise ValueError(
            "This solver needs samples of at least 2 classes in the data, but "
            f"{where} contains only one class: {classes[0]!r}"
        )
    return classes


def _reduced_sums(reducer, counts: np.ndarray) -> np.ndarray:
    return reducer.all_reduce_sum(torch.from_numpy(np.asarray(counts, np.float64))).numpy()


def _check_scale(Xt) -> None:
    """:func:`check_feature_scale` on the largest ``|x|`` of ``Xt`` (dense or sparse)."""
    values = Xt.values if isinstance(Xt, SparseDesign) else Xt
    max_abs = 0.0
    if values.numel():  # one read, no |X| temporary (it cost a write and a read of X)
        lo, hi = torch.aminmax(values)
        max_abs = max(-float(lo), float(hi))
    check_feature_scale(max_abs, Xt.shape[0], values.dtype)


def _prepare_arrays(X, y, sample_weight, offset, validator, class_weight, dtype, device, reducer):
    many = reducer.world_size > 1
    if y is None:
        raise ValueError(
            f"{type(validator).__name__} requires y to be passed, but the target y is None."
        )
    device = resolve_device(device, X)
    with reducer.agree("validating the training data"):
        Xt, y_np, _ = validate_X_y(validator, X, y, dtype=dtype, device=device)
        _check_scale(Xt)
        y_np = check_labels(y_np)
        sw = None  # ones: built where the labels are coded (no n-row host array to copy)
        if sample_weight is not None:
            sw = validate_sample_weight(sample_weight, Xt.shape[0], allow_zero_total=many)
    names = getattr(validator, "feature_names_in_", None)
    meta = reducer.all_gather_object(
        {
            "n_features": int(Xt.shape[1]),
            "feature_names": None if names is None else [str(n) for n in names],
            "dtype": str(Xt.dtype),
            "device_type": Xt.device.type,
            "n_samples": int(Xt.shape[0]),
            "labels": label_values(y_np),
        }
    )
    check_schema(meta)
    classes = global_classes([m["labels"] for m in meta])
    K = len(classes)
    dev = Xt.device
    y_index = torch.as_tensor(label_indices(classes, y_np)).to(dev)
    if sw is None:  # unweighted: class weight sums are label counts (exact in integers)
        counts = torch.bincount(y_index, minlength=K).cpu().numpy().astype(np.float64)
        sw_t = torch.ones(Xt.shape[0], dtype=torch.float64, device=dev)
    else:
        counts = np.bincount(y_index.cpu().numpy(), weights=sw, minlength=K)
        sw_t = torch.from_numpy(sw).to(dev)
    cw = per_class_weights(class_weight, classes, _reduced_sums(reducer, counts))
    if np.any(cw != 1.0):  # (no n-row product for the common case: no class weights)
        sw_t = sw_t * torch.from_numpy(cw).to(dev)[y_index]
    sw_t = sw_t.to(Xt.dtype)
    # the weights as the objective sees them (float32 for float32 data), summed in float64
    local_sum = torch.tensor([float(sw_t.sum(dtype=torch.float64))], dtype=torch.float64)
    S = float(reducer.all_reduce_sum(local_sum)[0])
    check_weight_sum(S, reducer.world_size)
    off = None
    if offset is not None or many:
        with reducer.agree("validating the offset"):
            if offset is not None:
                m = _n_outputs(K)
                off = validate_offset(offset, Xt.shape[0], m, dtype=Xt.dtype, device=dev)
        _same_on_every_rank(reducer, offset is not None, "an offset")
    data = InMemoryData(Xt, y_index, sw_t, offset=off, weight_sum=S)
    rows = [m["n_samples"] for m in meta]
    return _in_memory_set(data, classes, names, weight_sum=S, rows=rows, reducer=reducer)


def _same_on_every_rank(reducer, flag: bool, what: str) -> None:
    flags = reducer.all_gather_object(bool(flag))
    if len(set(flags)) > 1:
        given = [r for r, f in enumerate(flags) if f]
        raise ValueError(f"{what} was given on ranks {given} only: give it on every rank or none")


def _prepare_source(
    source, y, sample_weight, offset, validator, class_weight, dtype, device, verbose, reducer
):
    many = reducer.world_size > 1
    with reducer.agree("validating the data source"):
        if y is not None or sample_weight is not None or offset is not None:
            raise ValueError(
                "with a data source, labels and weights come from the source (its target= and "
                "weight= columns): call fit(source) without y or sample_weight"
                + ("; offsets from its offset= column" if offset is not None else "")
            )
        local = source.scan(shard=many)
    meta = reducer.all_gather_object(
        {
            "n_features": int(local.n_features),
            "feature_names": None if local.feature_names is None else list(local.feature_names),
            "n_samples": int(local.n_rows),
            "labels": local.classes,
            "class_weight_sums": local.class_weight_sums,
            "data_dtype": str(local.dtype),
            "offset_columns": int(local.offset_columns),
        }
    )
    check_schema(meta)
    classes = global_classes([m["labels"] for m in meta])
    sums = np.zeros(len(classes))
    for m in meta:
        sums[np.searchsorted(classes, m["labels"])] += m["class_weight_sums"]
    if many and not sums.sum() > 0:
        raise ValueError("every sample (on every rank) has zero weight")
    all32 = all(m["data_dtype"] == "float32" for m in meta)
    summary = dataclasses.replace(
        local,
        classes=classes,
        class_weight_sums=sums,
        dtype=np.dtype(np.float32 if all32 else np.float64),
    )
    data = StreamingData(
        source,
        summary,
        class_weight=class_weight,
        dtype=None if dtype is None else resolve_dtype(dtype, None),
        device=resolve_device(device),
        verbose=verbose if reducer.rank == 0 else 0,
        cache_dir=source.cache_dir,
    )
    validator.n_features_in_ = data.n_features
    if data.feature_names is not None:
        validator.feature_names_in_ = np.asarray(data.feature_names, dtype=object)
    elif hasattr(validator, "feature_names_in_"):
        del validator.feature_names_in_
    rows = [m["n_samples"] for m in meta]
    return TrainingSet(
        data=data,
        classes=classes,
        n_features=int(data.n_features),
        feature_names=data.feature_names,
        dtype=data.dtype,
        device=data.device,
        weight_sum=float(data.weight_sum),
        n_samples=sum(rows),
        rows_per_rank=rows,
        sparse=False,
        streamed=True,
        reducer=reducer,
    )

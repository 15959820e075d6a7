"""Data-parallel fit on streaming sources: each rank streams its own files.

Each rank validates its share (:meth:`StreamingSource.scan` with ``shard=True``: one pass,
every chunk checked), the ranks agree on the columns and pool what validation found (the
classes and each class's weight sum), and each rank then streams its chunks with the
*global* classes, class weights and ``S``. Value, gradient and Hessian are all-reduced as for
in-memory shards, so the fit equals a one-process fit on all the files.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ._comm import Communicator


def is_source(X) -> bool:
    """A streaming source: it validates with ``scan`` and trains with ``open``."""
    return callable(getattr(X, "scan", None)) and callable(getattr(X, "open", None))


def open_sharded_source(estimator, source, y, sample_weight, comm: Communicator):
    """``(StreamingData over this rank's rows, global classes, per-rank metadata)``.

    The returned data encodes labels with the global classes, weights rows with class
    weights from the global class weight sums, and has the global ``weight_sum``.
    """
    from ..data import StreamingData, resolve_device, resolve_dtype
    from ._fit import _check_schema, _global_classes

    with comm.agree("validating the data source"):
        if y is not None or sample_weight is not None:
            raise ValueError(
                "with a data source, labels and weights come from the source (its target= "
                "and weight= columns): call fit(source) without y or sample_weight"
            )
        local = source.scan(shard=True)
    meta = comm.all_gather_object(
        {
            "n_features": int(local.n_features),
            "feature_names": None if local.feature_names is None else list(local.feature_names),
            "dtype": "agreed below",
            "device_type": "agreed below",
            "n_samples": int(local.n_rows),
            "labels": local.classes,
            "class_weight_sums": local.class_weight_sums,
            "data_dtype": str(local.dtype),
        }
    )
    _check_schema(comm, meta)
    classes = _global_classes([m["labels"] for m in meta])
    sums = np.zeros(len(classes))
    for m in meta:
        sums[np.searchsorted(classes, m["labels"])] += m["class_weight_sums"]
    if not sums.sum() > 0:
        raise ValueError("every sample (on every rank) has zero weight")
    all32 = all(m["data_dtype"] == "float32" for m in meta)
    summary = dataclasses.replace(
        local,
        classes=classes,
        class_weight_sums=sums,
        dtype=np.dtype(np.float32 if all32 else np.float64),
    )
    dtype = None if estimator.dtype is None else resolve_dtype(estimator.dtype, None)
    data = StreamingData(
        source,
        summary,
        class_weight=estimator.class_weight,
        dtype=dtype,
        device=resolve_device(estimator.device),
        verbose=estimator.verbose if comm.rank == 0 else 0,
        cache_dir=source.cache_dir,
    )
    estimator.n_features_in_ = data.n_features
    if data.feature_names is not None:
        estimator.feature_names_in_ = np.asarray(data.feature_names, dtype=object)
    elif hasattr(estimator, "feature_names_in_"):
        del estimator.feature_names_in_
    return data, classes, meta

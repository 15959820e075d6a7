"""What identifies the data: a chunk cache or a checkpoint is never reused for other data.

Regression tests: the chunk cache's key ignored the columns read (``features=`` etc.); a
checkpoint of an in-memory fit was resumed for other data of the same shape; ``ArraySource``
with ``checkpoint_dir`` crashed; ``ArraySource`` skipped validation after an in-place edit.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import make_classification
from sklearn.exceptions import ConvergenceWarning

from torchlogit import LogisticRegression
from torchlogit.data import ArraySource, ParquetSource

OTHER = "belongs to another problem"


def _est(**kw):
    kw.setdefault("solver", "lbfgs")
    kw.setdefault("tol", 1e-10)
    kw.setdefault("max_iter", 300)
    return LogisticRegression(C=1.0, **kw)


def _fit(est, *args):
    """Fit, returning the estimator and the messages of the warnings it raised."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        est.fit(*args)
    return est, [str(w.message) for w in caught if not issubclass(w.category, ConvergenceWarning)]


def _data(seed, n=300, d=4):
    return make_classification(n, d, n_informative=3, n_redundant=0, random_state=seed)


# ---------------------------------------------------------------- chunk cache key
@pytest.mark.parametrize("change", ["features", "target", "weight"])
def test_cache_is_keyed_on_the_columns_read(change, tmp_path):
    X, y = _data(0, d=3)
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"a": X[:, 0], "b": X[:, 1], "c": X[:, 2], "y": y, "z": 1 - y})
    df["w1"] = rng.uniform(0.5, 1.5, len(df))
    df["w2"] = rng.uniform(0.1, 3.0, len(df))
    path = tmp_path / "q.parquet"
    df.to_parquet(path, index=False)
    first = {"target": "y", "features": ["a", "b"], "weight": "w1"}
    second = dict(first)
    second[change] = {"features": ["a", "c"], "target": "z", "weight": "w2"}[change]
    cache = tmp_path / "cache"
    for _ in range(2):  # the second fit reads the cache
        _est().fit(ParquetSource(path, cache_dir=cache, **first))
    got = _est().fit(ParquetSource(path, cache_dir=cache, **second))
    want = _est().fit(ParquetSource(path, **second))
    np.testing.assert_allclose(got.coef_, want.coef_, rtol=1e-6, atol=1e-8)
    assert got.passes_[0]["from_cache"] is False  # its own cache, written on the first pass


def test_cache_of_the_same_selection_is_still_used(tmp_path):
    X, y = _data(0, d=3)
    df = pd.DataFrame({"a": X[:, 0], "b": X[:, 1], "y": y})
    df.to_parquet(tmp_path / "q.parquet", index=False)
    src = dict(target="y", features=["a", "b"], cache_dir=tmp_path / "cache")
    _est().fit(ParquetSource(tmp_path / "q.parquet", **src))
    again = _est().fit(ParquetSource(tmp_path / "q.parquet", **src))
    assert again.passes_[0]["from_cache"] is True


# ---------------------------------------------------------------- checkpoints, in memory
def _checkpoint_case(tmp_path, XB, yB, **kw_b):
    XA, yA = _data(1)
    ckpt = tmp_path / "ck"
    _est(checkpoint_dir=ckpt, **kw_b.pop("kw_a", {})).fit(XA, yA)
    got, msgs = _fit(_est(checkpoint_dir=ckpt, max_iter=5, **kw_b), XB, yB)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        want = _est(max_iter=5, **kw_b).fit(XB, yB)
    np.testing.assert_array_equal(got.coef_, want.coef_)
    assert any(OTHER in m for m in msgs), msgs


def test_checkpoint_of_other_data_with_the_same_shape_is_not_used(tmp_path):
    XB, yB = _data(2)
    _checkpoint_case(tmp_path, XB, yB)


def test_checkpoint_not_used_after_one_value_changes(tmp_path):
    XB, yB = _data(1)
    XB = XB.copy()
    XB[17, 2] += 0.5
    _checkpoint_case(tmp_path, XB, yB)


def test_checkpoint_not_used_after_one_label_changes(tmp_path):
    XB, yB = _data(1)
    yB = yB.copy()
    yB[3] = 1 - yB[3]
    _checkpoint_case(tmp_path, XB, yB)


def test_checkpoint_not_used_after_values_swap_between_rows(tmp_path):
    """Column sums (the gradient at zero) unchanged; the squared projections see it."""
    XB, yB = _data(1)
    XB = XB.copy()
    i, j = np.flatnonzero(yB == yB[0])[:2]
    XB[[i, j], 1] = XB[[j, i], 1]
    _checkpoint_case(tmp_path, XB, yB)


def test_checkpoint_not_used_with_another_penalty_factor(tmp_path):
    XB, yB = _data(1)
    _checkpoint_case(
        tmp_path, XB, yB, penalty_factor=[1.0, 0.0, 1.0, 1.0], kw_a={"penalty_factor": [1.0] * 4}
    )


def test_checkpoint_not_used_with_other_feature_names(tmp_path):
    X, y = _data(1)
    XA = pd.DataFrame(X, columns=list("abcd"))
    XB = pd.DataFrame(X, columns=list("wxyz"))
    ckpt = tmp_path / "ck"
    _est(checkpoint_dir=ckpt).fit(XA, y)
    got, msgs = _fit(_est(checkpoint_dir=ckpt, max_iter=5), XB, y)
    assert any(OTHER in m for m in msgs), msgs
    assert got.n_iter_[0] <= 5


def test_checkpoint_not_used_with_other_class_weight(tmp_path):
    XB, yB = _data(1)
    _checkpoint_case(tmp_path, XB, yB, class_weight={0: 1.0, 1: 2.0})


def test_checkpoint_of_the_same_in_memory_data_is_resumed(tmp_path):
    X, y = _data(1)
    ckpt = tmp_path / "ck"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        _est(checkpoint_dir=ckpt, max_iter=3).fit(X, y)
    resumed, msgs = _fit(_est(checkpoint_dir=ckpt), X.copy(), y.copy())  # other objects
    full = _est().fit(X, y)
    assert not any(OTHER in m for m in msgs), msgs
    np.testing.assert_allclose(resumed.coef_, full.coef_, rtol=1e-6, atol=1e-8)
    assert resumed.n_passes_ < full.n_passes_  # continued, not started afresh


# ---------------------------------------------------------------- ArraySource
def test_array_source_with_checkpoint_dir(tmp_path):
    X, y = _data(1)
    ckpt = tmp_path / "ck"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        _est(checkpoint_dir=ckpt, max_iter=3).fit(ArraySource(X, y, chunk_rows=64))
    copy = ArraySource(X.copy(), y.copy(), chunk_rows=64)  # same rows, other objects
    resumed, msgs = _fit(_est(checkpoint_dir=ckpt), copy)
    assert not any(OTHER in m for m in msgs), msgs
    full = _est().fit(ArraySource(X, y, chunk_rows=64))
    np.testing.assert_allclose(resumed.coef_, full.coef_, rtol=1e-6, atol=1e-8)
    assert len(resumed.passes_) < len(full.passes_)  # continued, not started afresh
    # other arrays of the same shape in an ArraySource: not resumed
    XB, yB = _data(2)
    _, msgs = _fit(_est(checkpoint_dir=ckpt, max_iter=5), ArraySource(XB, yB, chunk_rows=64))
    assert any(OTHER in m for m in msgs), msgs


def test_array_source_edited_in_place_is_validated_again():
    X, y = _data(1)
    X = X.copy()
    src = ArraySource(X, y, chunk_rows=64)
    _est().fit(src)
    X[5, 1] = np.nan  # same object, same shape
    with pytest.raises(ValueError, match=r"row 5, column 1: NaN"):
        _est().fit(src)


def test_array_source_edited_in_place_does_not_read_a_stale_cache(tmp_path):
    X, y = _data(1)
    X = X.copy()
    src = ArraySource(X, y, chunk_rows=64, cache_dir=tmp_path / "cache")
    _est().fit(src)
    _est().fit(src)
    X[:, 0] *= 3.0
    got = _est().fit(src)
    want = _est().fit(ArraySource(X.copy(), y, chunk_rows=64))
    np.testing.assert_allclose(got.coef_, want.coef_, rtol=1e-6, atol=1e-8)


def test_numpy_source_over_arrays_edited_in_place_is_validated_again():
    from torchlogit.data import NumpySource

    X, y = _data(1)
    X = X.copy()
    src = NumpySource(X, y, chunk_rows=64)
    _est().fit(src)
    X[5, 1] = np.nan  # same object, same shape, no file to stat
    with pytest.raises(ValueError, match=r"row 5, column 1: NaN"):
        _est().fit(src)

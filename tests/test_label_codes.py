"""Label codes without a sort: integer labels of a small range are counted (``O(n)``), and
the result is ``np.unique`` / ``np.searchsorted``'s, label for label."""

from __future__ import annotations

import numpy as np
import pytest

from torchlogit.data import label_indices, label_values

RNG = np.random.default_rng(0)
CASES = {
    "signed": RNG.integers(-5, 7, 1_000),
    "bool": RNG.integers(0, 2, 1_000).astype(bool),
    "uint8": RNG.integers(0, 3, 100).astype(np.uint8),
    "uint16 from 60,000": RNG.integers(60_000, 60_003, 100).astype(np.uint16),
    "uint64": RNG.integers(0, 3, 100).astype(np.uint64),
    "int8 negative": RNG.integers(-3, 2, 100).astype(np.int8),
    "one class": np.array([3, 3, 3]),
    "wide range (sorted)": RNG.integers(0, 2**21, 50),
    "float": RNG.choice([0.5, 2.0], 100),
    "strings": np.array(["b", "a", "b"]),
}


@pytest.mark.parametrize("y", CASES.values(), ids=CASES.keys())
def test_codes_are_numpys(y):
    classes = np.unique(y)
    got = label_values(y)
    assert got.dtype == classes.dtype
    np.testing.assert_array_equal(got, classes)
    np.testing.assert_array_equal(label_indices(classes, y), np.searchsorted(classes, y))


def test_classes_of_other_ranks_outside_this_ranks_range():
    """A rank's labels index into every rank's classes, some of them outside its own range."""
    np.testing.assert_array_equal(
        label_indices(np.array([0, 2, 3, 9]), np.array([2, 3, 3])), [1, 2, 2]
    )


def test_target_type_errors_are_scikit_learns():
    from torchlogit import LogisticRegression

    X = RNG.standard_normal((6, 2))
    with pytest.raises(ValueError, match="Unknown label type: continuous"):
        LogisticRegression().fit(X, np.array([0.5, 1.0, 1.5, 0.5, 1.0, 1.5]))
    with pytest.raises(ValueError, match="Input y contains NaN"):
        LogisticRegression().fit(X, np.array([0.0, 1.0, np.nan, 0.0, 1.0, 1.0]))


@pytest.mark.parametrize("labels", [[0, 1, 2], [-3, 7, 40], [5, 5 + 2**21, 9], [False, True]])
def test_integer_tensor_labels_are_coded_where_they_are(labels):
    """1-D integer / boolean labels given as a tensor are coded without a host copy; the
    model is the one fitted from the same labels in NumPy (classes, weights, coefficients)."""
    import torch

    from torchlogit import LogisticRegression

    X = RNG.standard_normal((120, 3))
    y = np.array(labels)[np.arange(120) % len(labels)]
    kw = dict(tol=1e-10, class_weight={labels[0]: 2.0})
    ref = LogisticRegression(**kw).fit(X, y)
    got = LogisticRegression(**kw).fit(torch.as_tensor(X), torch.as_tensor(y))
    np.testing.assert_array_equal(got.classes_, ref.classes_)
    assert got.classes_.dtype == ref.classes_.dtype
    np.testing.assert_allclose(got.coef_, ref.coef_, rtol=1e-12, atol=1e-14)
    np.testing.assert_array_equal(got.predict(X), ref.predict(X))
    tv = torch.as_tensor(y)
    np.testing.assert_array_equal(label_values(tv), np.unique(y))
    classes = np.unique(y)
    np.testing.assert_array_equal(label_indices(classes, tv).numpy(), np.searchsorted(classes, y))


def test_integer_tensor_labels_errors_are_the_numpy_ones():
    import torch

    from torchlogit import LogisticRegression

    X = torch.as_tensor(RNG.standard_normal((6, 2)))
    with pytest.raises(ValueError, match="at least 2 classes"):
        LogisticRegression().fit(X, torch.ones(6, dtype=torch.int64))
    with pytest.raises(ValueError, match=r"inconsistent numbers of samples: \[6, 5\]"):
        LogisticRegression().fit(X, torch.tensor([0, 1, 0, 1, 0]))

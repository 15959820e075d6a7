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

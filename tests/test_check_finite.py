"""check_finite: one summing pass, and the exact position of a bad entry when there is one."""

import pytest
import torch

from torchlogit.data._validation import check_finite


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_finite_passes_even_when_the_sum_overflows(dtype):
    big = torch.finfo(dtype).max / 2
    check_finite(torch.full((5, 3), big, dtype=dtype))  # sum overflows; entries are finite
    check_finite(torch.randn(50, 4, dtype=dtype))
    check_finite(torch.empty(0, 3, dtype=dtype))


@pytest.mark.parametrize("value,kind", [(float("nan"), "NaN"), (float("-inf"), "infinity")])
def test_names_the_first_bad_entry(value, kind):
    X = torch.randn(20, 4, dtype=torch.float64)
    X[11, 2] = value
    X[15, 0] = value
    with pytest.raises(ValueError, match=rf"{kind} \(first at row 11, column 2\)"):
        check_finite(X)

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


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_sparse_finite_passes_when_the_sum_overflows_and_names_a_bad_entry(dtype):
    import numpy as np
    import scipy.sparse as sp

    from torchlogit.data._sparse_input import from_scipy

    big = float(torch.finfo(dtype).max / 2)
    np_dtype = np.float32 if dtype == torch.float32 else np.float64
    X = sp.random(30, 6, density=0.5, format="csr", random_state=0, dtype=np_dtype)
    X.data[:] = big  # the values' sum overflows; every value is finite
    from_scipy(X, dtype=dtype, device=torch.device("cpu"))
    Y = X.copy()
    Y.data[:] = 1.0
    k = int(Y.indptr[7])  # the first stored entry of row 7
    Y.data[k] = np.nan
    Y.data[k + 1 :] = np.inf  # later bad entries are not the first
    col = int(Y.indices[k])
    with pytest.raises(ValueError, match=rf"NaN \(first at row 7, column {col}\)"):
        from_scipy(Y, dtype=dtype, device=torch.device("cpu"))

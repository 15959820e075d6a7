"""Bad input gets a clear exception of scikit-learn's type naming the problem; the caller's
data are never modified; outputs follow the input's type (NumPy -> NumPy, tensor -> tensor).

Every data check runs for NumPy and for torch tensor input.
"""

from __future__ import annotations

import re
import warnings

import numpy as np
import pytest
import torch
from sklearn.exceptions import NotFittedError
from sklearn.utils._param_validation import InvalidParameterError

from torchlogit import LogisticRegression

N, D = 30, 3


def numpy_in(a):
    return a


def torch_in(a):
    return torch.as_tensor(a)


INPUTS = [pytest.param(numpy_in, id="numpy"), pytest.param(torch_in, id="torch")]


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(N, D))
    y = np.arange(N) % 2
    return X, y


def with_value(X, row, col, value):
    X = X.astype(np.result_type(X.dtype, type(value)))
    X[row, col] = value
    return X


# --------------------------------------------------------------------------- X


@pytest.mark.parametrize("conv", INPUTS)
@pytest.mark.parametrize(
    "value, match", [(np.nan, "Input X contains NaN"), (np.inf, "Input X contains infinity")]
)
def test_non_finite_X(conv, data, value, match):
    X, y = data
    Xbad = with_value(X, 4, 2, value)
    with pytest.raises(ValueError, match=match):
        LogisticRegression().fit(conv(Xbad), y)
    model = LogisticRegression().fit(conv(X), y)
    with pytest.raises(ValueError, match=match):
        model.predict(conv(Xbad))
    with pytest.raises(ValueError, match=match):
        model.predict_proba(conv(-Xbad))


def test_non_finite_tensor_X_names_the_position(data):
    X, y = data
    with pytest.raises(ValueError, match=r"NaN \(first at row 4, column 2\)"):
        LogisticRegression().fit(torch.as_tensor(with_value(X, 4, 2, np.nan)), y)


@pytest.mark.parametrize("conv", INPUTS)
def test_empty_X(conv):
    with pytest.raises(ValueError, match=r"Found array with 0 sample\(s\)"):
        LogisticRegression().fit(conv(np.empty((0, D))), conv(np.empty(0)))
    with pytest.raises(ValueError, match=r"Found array with 0 feature\(s\)"):
        LogisticRegression().fit(conv(np.empty((N, 0))), np.arange(N) % 2)


@pytest.mark.parametrize("conv", INPUTS)
def test_1d_and_3d_X(conv, data):
    X, y = data
    with pytest.raises(ValueError, match="Expected 2D array, got 1D"):
        LogisticRegression().fit(conv(X[:, 0]), y)
    with pytest.raises(ValueError, match="dim 3|3D"):
        LogisticRegression().fit(conv(X[:, :, None]), y)
    model = LogisticRegression().fit(conv(X), y)
    with pytest.raises(ValueError, match="Expected 2D array, got 1D"):
        model.predict(conv(X[0]))


@pytest.mark.parametrize("conv", INPUTS)
def test_complex_X(conv, data):
    X, y = data
    with pytest.raises(ValueError, match="Complex data not supported"):
        LogisticRegression().fit(conv(X + 1j), y)


def test_non_numeric_X(data):
    _, y = data
    with pytest.raises(ValueError, match="could not convert string to float"):
        LogisticRegression().fit(np.array([["a", "b"]] * N), y)


@pytest.mark.parametrize("conv", INPUTS)
def test_different_number_of_features_at_predict(conv, data):
    X, y = data
    model = LogisticRegression().fit(conv(X), y)
    msg = f"X has {D - 1} features, but LogisticRegression is expecting {D} features"
    for method in ("predict", "predict_proba", "predict_log_proba", "decision_function"):
        with pytest.raises(ValueError, match=msg):
            getattr(model, method)(conv(X[:, :-1]))


def test_feature_names_must_match():
    pd = pytest.importorskip("pandas")
    X = pd.DataFrame(np.random.default_rng(0).normal(size=(N, 2)), columns=["a", "b"])
    y = np.arange(N) % 2
    model = LogisticRegression().fit(X, y)
    np.testing.assert_array_equal(model.feature_names_in_, ["a", "b"])
    with pytest.raises(ValueError, match="feature names should match"):
        model.predict(X.rename(columns={"b": "c"}))


# --------------------------------------------------------------------------- y


@pytest.mark.parametrize("conv", INPUTS)
@pytest.mark.parametrize(
    "value, match", [(np.nan, "Input y contains NaN"), (np.inf, "Input y contains infinity")]
)
def test_non_finite_y(conv, data, value, match):
    X, y = data
    ybad = y.astype(float)
    ybad[5] = value
    with pytest.raises(ValueError, match=match):
        LogisticRegression().fit(conv(X), conv(ybad))


def test_missing_object_labels(data):
    X, y = data
    labels = np.array(["a", "b"], dtype=object)[y]
    labels[3] = None
    with pytest.raises(
        ValueError, match=r"1 missing label\(s\) \(None or NaN\), the first at row 3"
    ):
        LogisticRegression().fit(X, labels)


def test_mixed_label_types(data):
    X, y = data
    labels = np.array(["a", 1], dtype=object)[y]
    with pytest.raises(ValueError, match=r"Mix of label input types \(string and number\)"):
        LogisticRegression().fit(X, labels)


@pytest.mark.parametrize("conv", INPUTS)
def test_continuous_y(conv, data):
    X, _ = data
    y = np.random.default_rng(1).normal(size=N)
    with pytest.raises(ValueError, match="Unknown label type: continuous"):
        LogisticRegression().fit(conv(X), conv(y))


@pytest.mark.parametrize("conv", INPUTS)
def test_single_class_y(conv, data):
    X, _ = data
    with pytest.raises(ValueError, match="at least 2 classes.*only one class"):
        LogisticRegression().fit(conv(X), conv(np.full(N, 3)))


@pytest.mark.parametrize("conv", INPUTS)
def test_y_of_wrong_length_or_shape(conv, data):
    X, y = data
    with pytest.raises(ValueError, match="inconsistent numbers of samples: \\[30, 10\\]"):
        LogisticRegression().fit(conv(X), conv(y[:10]))
    with pytest.raises(
        ValueError, match=re.escape("y should be a 1d array, got an array of shape (30, 2)")
    ):
        LogisticRegression().fit(conv(X), conv(np.c_[y, y]))
    with pytest.raises(ValueError, match="requires y to be passed"):
        LogisticRegression().fit(conv(X), None)


# --------------------------------------------------------------------------- sample_weight


@pytest.mark.parametrize("conv", INPUTS)
@pytest.mark.parametrize(
    "make_sw, error, match",
    [
        (
            lambda: np.ones(N - 5),
            ValueError,
            re.escape("sample_weight.shape == (25,), expected (30,)"),
        ),
        (lambda: np.ones((N, 1)), ValueError, "Sample weights must be 1D array or scalar"),
        (lambda: -np.ones(N), ValueError, "Negative values in data passed to `sample_weight`"),
        (
            lambda: with_value(np.ones((N, 1)), 7, 0, np.nan)[:, 0],
            ValueError,
            "sample_weight contains NaN",
        ),
        (
            lambda: with_value(np.ones((N, 1)), 7, 0, np.inf)[:, 0],
            ValueError,
            "sample_weight contains infinity",
        ),
        (lambda: np.zeros(N), ValueError, "at least one non-zero"),
    ],
    ids=["short", "2d", "negative", "nan", "inf", "all-zero"],
)
def test_bad_sample_weight(conv, data, make_sw, error, match):
    X, y = data
    with pytest.raises(error, match=match):
        LogisticRegression().fit(conv(X), y, sample_weight=conv(make_sw()))


def test_class_weight_zeroing_every_sample(data):
    X, y = data
    with pytest.raises(ValueError, match="zero weight"):
        LogisticRegression(class_weight={0: 0.0, 1: 0.0}).fit(X, y)


# --------------------------------------------------------------------------- model state


@pytest.mark.parametrize("conv", INPUTS)
def test_unfitted_model(conv, data):
    X, _ = data
    for method in ("predict", "predict_proba", "predict_log_proba", "decision_function"):
        with pytest.raises(NotFittedError, match="not fitted yet"):
            getattr(LogisticRegression(), method)(conv(X))


# --------------------------------------------------------------------------- parameters


@pytest.mark.parametrize(
    "params, error, match",
    [
        (dict(C=-1.0), InvalidParameterError, "'C' parameter"),
        (dict(C=0), InvalidParameterError, "'C' parameter"),
        (dict(C=np.nan), InvalidParameterError, "'C' parameter"),
        (dict(C=-np.inf), InvalidParameterError, "'C' parameter"),
        (dict(penalty="l3"), InvalidParameterError, "'penalty' parameter"),
        (dict(tol=-1e-3), InvalidParameterError, "'tol' parameter"),
        (dict(max_iter=-1), InvalidParameterError, "'max_iter' parameter"),
        (dict(max_iter=2.5), InvalidParameterError, "'max_iter' parameter"),
        (dict(fit_intercept="yes"), InvalidParameterError, "'fit_intercept' parameter"),
        (dict(warm_start=2), InvalidParameterError, "'warm_start' parameter"),
        (dict(class_weight="auto"), InvalidParameterError, "'class_weight' parameter"),
        (dict(dtype="float16"), InvalidParameterError, "'dtype' parameter"),
        (dict(verbose=-1), InvalidParameterError, "'verbose' parameter"),
        (dict(solver="sgag"), ValueError, "unknown solver 'sgag'"),
        (dict(device="tpu"), ValueError, "device must be"),
        (dict(penalty="elasticnet", l1_ratio=None), ValueError, "l1_ratio must be specified"),
        (dict(dual=True), ValueError, "supports only dual=False, got dual=True"),
        (dict(class_weight={0: -1.0}), ValueError, r"class_weight\[0\] = -1.0"),
        (dict(class_weight={1: np.nan}), ValueError, r"class_weight\[1\] = nan"),
        (dict(class_weight={5: 1.0}), ValueError, "not in class_weight"),
    ],
)
def test_invalid_parameters(data, params, error, match):
    X, y = data
    with pytest.raises(error, match=match):
        LogisticRegression(**params).fit(X, y)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the CPU-only message")
def test_cuda_device_without_cuda(data):
    X, y = data
    with pytest.raises(ValueError, match="CUDA is not available"):
        LogisticRegression(device="cuda").fit(X, y)


# --------------------------------------------------------------------------- caller's data


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("conv", INPUTS)
@pytest.mark.parametrize("n_classes", [2, 3])
def test_callers_arrays_are_not_modified(conv, dtype, n_classes):
    rng = np.random.default_rng(0)
    X = conv(rng.normal(size=(N, D)).astype(dtype))
    y = conv(np.arange(N) % n_classes)
    sw = conv(rng.uniform(0.5, 2.0, size=N))
    X0, y0, sw0 = (a.clone() if isinstance(a, torch.Tensor) else a.copy() for a in (X, y, sw))
    model = LogisticRegression(class_weight="balanced").fit(X, y, sample_weight=sw)
    for method in ("predict", "predict_proba", "predict_log_proba", "decision_function"):
        getattr(model, method)(X)
    model.score(X, y, sample_weight=sw)
    LogisticRegression(warm_start=True, solver="lbfgs").fit(X, y).fit(X, y)
    for before, after in ((X0, X), (y0, y), (sw0, sw)):
        if isinstance(after, torch.Tensor):
            assert torch.equal(before, after)
        else:
            np.testing.assert_array_equal(before, after)


def test_read_only_arrays_are_accepted(data):
    X, y = data
    X = X.copy()
    X.setflags(write=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # not even torch's "not writable" warning
        model = LogisticRegression().fit(X, y)
        model.predict_proba(X)


# --------------------------------------------------------------------------- output types


@pytest.mark.parametrize("fit_conv", INPUTS)
@pytest.mark.parametrize("n_classes", [2, 3])
def test_outputs_follow_the_input_type(fit_conv, n_classes, data):
    X, _ = data
    y = np.arange(N) % n_classes
    model = LogisticRegression().fit(fit_conv(X), fit_conv(y))
    assert isinstance(model.coef_, np.ndarray) and isinstance(model.intercept_, np.ndarray)
    Xt = torch.as_tensor(X)
    for method in ("predict", "predict_proba", "predict_log_proba", "decision_function"):
        out_np = getattr(model, method)(X)
        out_t = getattr(model, method)(Xt)
        assert isinstance(out_np, np.ndarray), method
        assert isinstance(out_t, torch.Tensor), method
        assert out_t.device == Xt.device
        np.testing.assert_array_equal(out_t.cpu().numpy(), out_np)
    shape = (N,) if n_classes == 2 else (N, n_classes)
    assert model.decision_function(X).shape == shape
    assert model.predict_proba(Xt).shape == (N, n_classes)
    assert isinstance(model.score(Xt, torch.as_tensor(y)), float)


def test_string_labels_from_tensor_input_come_back_as_numpy(data):
    X, y = data
    labels = np.array(["neg", "pos"])[y]
    model = LogisticRegression().fit(torch.as_tensor(X), labels)
    pred = model.predict(torch.as_tensor(X))
    assert isinstance(pred, np.ndarray) and set(pred) <= {"neg", "pos"}


@pytest.mark.parametrize("conv", INPUTS)
def test_float32_in_float32_out(conv, data):
    X, y = data
    X32 = X.astype(np.float32)
    model = LogisticRegression().fit(conv(X32), y)
    assert model.coef_.dtype == np.float32
    assert model.predict_proba(conv(X32)).dtype in (np.float32, torch.float32)


@pytest.mark.parametrize(
    "view",
    [
        lambda X: X[::-1],
        lambda X: X[:, ::-1],
        lambda X: X[::2],
        np.asfortranarray,
        lambda X: X.astype(">f8"),
    ],
    ids=["reversed-rows", "reversed-columns", "strided", "fortran", "big-endian"],
)
def test_array_layouts_are_accepted(data, view):
    X, _ = data
    Xv = view(X)
    y = np.arange(Xv.shape[0]) % 2
    ref = LogisticRegression(tol=1e-10).fit(np.array(Xv, dtype=np.float64, order="C"), y)
    model = LogisticRegression(tol=1e-10).fit(Xv, y)
    np.testing.assert_allclose(model.coef_, ref.coef_, rtol=1e-12)
    np.testing.assert_allclose(model.predict_proba(Xv), ref.predict_proba(Xv), rtol=1e-12)

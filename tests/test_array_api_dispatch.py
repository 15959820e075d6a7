"""scikit-learn's array-API dispatch: fitted attributes and predictions in the input's namespace.

The reference is scikit-learn 1.9's own ``LogisticRegression`` fitted under
``config_context(array_api_dispatch=True)`` on the same torch tensors: the same containers
(namespace, device, dtype) for ``coef_``, ``intercept_``, ``n_iter_``, ``classes_`` and every
prediction, and the same numbers (both minimise the same objective, solved to tol=1e-10).
The CUDA cases are marked ``gpu`` and skip without a GPU.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import sklearn
import torch
from sklearn.datasets import load_iris
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression as SkLR
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import check_array_api_input

from torchlogit import LogisticRegression

X_NP = StandardScaler().fit_transform(load_iris().data)
Y_NP = load_iris().target
DEVICES = [
    pytest.param("cpu", id="cpu"),
    pytest.param(
        "cuda",
        id="cuda",
        marks=[
            pytest.mark.gpu,
            pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA is not available"),
        ],
    ),
]
PARAMS = dict(C=0.5, solver="lbfgs", tol=1e-10, max_iter=1000)


@pytest.fixture(autouse=True)
def _scipy_array_api(monkeypatch):
    """scikit-learn refuses ``array_api_dispatch=True`` unless ``SCIPY_ARRAY_API=1``."""
    monkeypatch.setenv("SCIPY_ARRAY_API", "1")


def _data(device, dtype, binary):
    y = (Y_NP > 0) if binary else Y_NP
    X = torch.as_tensor(X_NP, dtype=dtype, device=device)
    return X, torch.as_tensor(y.astype(np.float64), dtype=dtype, device=device)


def _same_container(ours, theirs):
    assert type(ours) is type(theirs), (type(ours), type(theirs))
    if isinstance(theirs, torch.Tensor):
        assert ours.device == theirs.device and ours.dtype == theirs.dtype
        assert tuple(ours.shape) == tuple(theirs.shape)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("binary", [True, False], ids=["binary", "multiclass"])
def test_dispatch_returns_the_inputs_namespace_like_sklearn(device, dtype, binary):
    X, y = _data(device, dtype, binary)
    with sklearn.config_context(array_api_dispatch=True), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # float32 stops at its working precision
        ours = LogisticRegression(**PARAMS).fit(X, y)
        theirs = SkLR(**PARAMS).fit(X, y)
        for name in ("coef_", "intercept_", "classes_", "n_iter_"):
            _same_container(getattr(ours, name), getattr(theirs, name))
        for method in ("decision_function", "predict_proba", "predict_log_proba", "predict"):
            _same_container(getattr(ours, method)(X), getattr(theirs, method)(X))
        atol = 1e-6 if dtype == torch.float64 else 2e-3
        for name in ("coef_", "intercept_"):
            a, b = (getattr(m, name).cpu().numpy() for m in (ours, theirs))
            np.testing.assert_allclose(a, b, atol=atol)
        for a, b in ((ours.classes_, theirs.classes_), (ours.predict(X), theirs.predict(X))):
            np.testing.assert_array_equal(a.cpu().numpy(), b.cpu().numpy())


@pytest.mark.parametrize("device", DEVICES)
def test_dispatch_model_predicts_warm_starts_and_refits_to_numpy(device):
    """Tensor attributes drive predictions and warm starts; a refit without dispatch (or on
    NumPy) is NumPy again, with the same coefficients."""
    X, y = _data(device, torch.float64, binary=False)
    model = LogisticRegression(**PARAMS, warm_start=True)
    with sklearn.config_context(array_api_dispatch=True):
        model.fit(X, y)
        assert isinstance(model.coef_, torch.Tensor) and model.coef_.device == X.device
        coef = model.coef_.cpu().numpy()
        model.coef_ = model.coef_ * 0  # a written tensor drives the predictions
        assert torch.allclose(model.decision_function(X), model.intercept_.expand(len(X), -1))
        model.coef_ = torch.as_tensor(coef, device=X.device)
        model.fit(X, y)  # warm start from tensors
        assert model.n_iter_[0] <= 2
    model.fit(X, y)
    for name in ("coef_", "intercept_", "classes_", "n_iter_"):
        assert isinstance(getattr(model, name), np.ndarray), name
    np.testing.assert_allclose(model.coef_, coef, atol=1e-8)
    reference = SkLR(**PARAMS).fit(X_NP, Y_NP)
    np.testing.assert_allclose(model.coef_, reference.coef_, atol=1e-6)


def test_dispatch_with_string_labels_keeps_numpy_classes():
    """``y`` of strings is NumPy: ``classes_`` and ``predict`` stay NumPy, as scikit-learn's."""
    X, _ = _data("cpu", torch.float64, binary=False)
    y = load_iris().target_names[Y_NP]
    with sklearn.config_context(array_api_dispatch=True):
        ours = LogisticRegression(**PARAMS).fit(X, y)
        theirs = SkLR(**PARAMS).fit(X, y)
        for name in ("coef_", "classes_"):
            _same_container(getattr(ours, name), getattr(theirs, name))
        np.testing.assert_array_equal(ours.predict(X), theirs.predict(X))
        assert isinstance(ours.predict(X), np.ndarray)


@pytest.mark.parametrize(
    "namespace, device, dtype",
    [
        ("numpy", None, None),
        ("torch", "cpu", "float64"),
        ("torch", "cpu", "float32"),
        pytest.param("torch", "cuda", "float64", marks=DEVICES[1].marks),
        pytest.param("torch", "cuda", "float32", marks=DEVICES[1].marks),
    ],
)
@pytest.mark.parametrize("solver", ["auto", "lbfgs", "newton-cholesky"])
def test_sklearn_array_api_input_check(namespace, device, dtype, solver):
    """scikit-learn's ``check_array_api_input`` (what ``tags.array_api_support = True``
    promises): the same attribute and output types, shapes, dtypes and devices as NumPy."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check_array_api_input(
            "LogisticRegression", LogisticRegression(solver=solver), namespace, device, dtype
        )


def test_model_fitted_under_dispatch_saves_and_loads(tmp_path):
    from torchlogit.io import load

    X, y = _data("cpu", torch.float64, binary=False)
    with sklearn.config_context(array_api_dispatch=True), warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = LogisticRegression(**PARAMS).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no attribute may be dropped
        model.save(tmp_path / "model.safetensors")
    loaded = load(tmp_path / "model.safetensors")
    np.testing.assert_array_equal(loaded.classes_, [0.0, 1.0, 2.0])
    np.testing.assert_allclose(loaded.predict_proba(X_NP), model.predict_proba(X).numpy())

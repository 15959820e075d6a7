"""Device variants: fit on device tensors or with ``device=``, outputs on the input's device,
and the same model as on the CPU.

The ``cuda`` cases are marked ``gpu`` and skipped where CUDA is not available. The same tests
also run with ``device="cpu"`` so that their logic is exercised on every machine.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from sklearn.datasets import load_breast_cancer, load_wine
from sklearn.preprocessing import StandardScaler

from torchlogit import LogisticRegression

HAS_CUDA = torch.cuda.is_available()
DEVICES = [
    pytest.param("cpu", id="cpu"),
    pytest.param(
        "cuda",
        id="cuda",
        marks=[pytest.mark.gpu, pytest.mark.skipif(not HAS_CUDA, reason="CUDA is not available")],
    ),
]
SOLVERS = ["newton", "lbfgs"]


def problem(name):
    X, y = (load_breast_cancer if name == "binary" else load_wine)(return_X_y=True)
    return StandardScaler().fit_transform(X), y


def full_coef(m):
    return np.hstack([m.coef_, m.intercept_[:, None]])


def rel(a, b):
    return float(np.max(np.abs(a - b)) / np.max(np.abs(b)))


def fit(X, y, **params):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # must converge, no other warning
        return LogisticRegression(tol=1e-10, max_iter=1000, **params).fit(X, y)


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("name", ["binary", "multinomial"])
@pytest.mark.parametrize("device", DEVICES)
def test_fit_on_device_tensors_matches_cpu(device, name, solver):
    X, y = problem(name)
    cpu = fit(X, y, solver=solver)
    Xd = torch.as_tensor(X, device=device)
    yd = torch.as_tensor(y, device=device)
    model = fit(Xd, yd, solver=solver)
    assert model._coef.device.type == device
    assert isinstance(model.coef_, np.ndarray) and model.coef_.dtype == np.float64
    assert rel(full_coef(model), full_coef(cpu)) < 1e-8
    for method in ("predict", "predict_proba", "predict_log_proba", "decision_function"):
        out = getattr(model, method)(Xd)
        assert isinstance(out, torch.Tensor) and out.device.type == device, method
        np.testing.assert_allclose(
            out.cpu().numpy(), getattr(cpu, method)(X), rtol=1e-7, atol=1e-9, err_msg=method
        )
    assert model.score(Xd, yd) == pytest.approx(cpu.score(X, y))


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("device", DEVICES)
def test_device_parameter_with_numpy_input(device, solver):
    X, y = problem("multinomial")
    cpu = fit(X, y, solver=solver)
    model = fit(X, y, solver=solver, device=device)
    assert model._coef.device.type == device
    assert rel(full_coef(model), full_coef(cpu)) < 1e-8
    proba = model.predict_proba(X)
    assert isinstance(proba, np.ndarray)  # NumPy in, NumPy out, wherever it was computed
    np.testing.assert_allclose(proba, cpu.predict_proba(X), rtol=1e-7, atol=1e-9)
    # A CPU tensor in gives a CPU tensor out, even from a model that lives on the device.
    out = model.predict_proba(torch.as_tensor(X))
    assert isinstance(out, torch.Tensor) and out.device.type == "cpu"


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("device", DEVICES)
def test_float32_on_device(device, solver):
    X, y = problem("binary")
    ref = fit(X, y, solver=solver)
    Xd = torch.as_tensor(X, dtype=torch.float32, device=device)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = LogisticRegression(solver=solver, tol=1e-6, max_iter=1000).fit(Xd, y)
    assert model.coef_.dtype == np.float32
    proba = model.predict_proba(Xd)
    assert proba.dtype == torch.float32 and proba.device.type == device
    assert rel(full_coef(model), full_coef(ref)) < 1e-3  # float32 at tol=1e-6
    torch.testing.assert_close(proba.sum(dim=1), torch.ones(X.shape[0], device=device))


@pytest.mark.parametrize("device", DEVICES)
def test_weights_and_labels_on_device(device):
    X, y = problem("multinomial")
    sw = np.random.default_rng(0).uniform(0.5, 2.0, size=y.shape[0])
    labels = np.array(["a", "b", "c"])[y]
    cpu = fit(X, labels, class_weight="balanced", fit_intercept=False)
    cpu_sw = LogisticRegression(tol=1e-10).fit(X, y, sample_weight=sw)
    Xd = torch.as_tensor(X, device=device)
    model = fit(Xd, labels, class_weight="balanced", fit_intercept=False)
    assert rel(full_coef(model)[:, :-1], full_coef(cpu)[:, :-1]) < 1e-8
    pred = model.predict(Xd)
    assert isinstance(pred, np.ndarray)  # string labels cannot live on a device
    np.testing.assert_array_equal(pred, cpu.predict(X))
    model_sw = LogisticRegression(tol=1e-10).fit(
        Xd, torch.as_tensor(y, device=device), sample_weight=torch.as_tensor(sw, device=device)
    )
    assert rel(full_coef(model_sw), full_coef(cpu_sw)) < 1e-8


@pytest.mark.parametrize("device", DEVICES)
def test_warm_start_on_device(device):
    X, y = problem("binary")
    Xd = torch.as_tensor(X, device=device)
    model = LogisticRegression(warm_start=True, tol=1e-10).fit(Xd, y)
    n_cold = model.n_iter_[0]
    model.fit(Xd, y)
    assert model.n_iter_[0] <= 1 < n_cold


@pytest.mark.gpu
@pytest.mark.skipif(not HAS_CUDA, reason="CUDA is not available")
def test_device_auto_picks_cuda():
    X, y = problem("binary")
    model = LogisticRegression(device="auto").fit(X, y)
    assert model._coef.device.type == "cuda"
    model = LogisticRegression(device="cuda:0").fit(X, y)
    assert model._coef.device == torch.device("cuda", 0)
    # A CUDA model can take CPU tensors and NumPy arrays, and answers in kind.
    assert isinstance(model.predict(X), np.ndarray)
    assert model.predict(torch.as_tensor(X)).device.type == "cpu"


def _noisy_binary():
    """Not separable (label noise), so the unpenalised fit and its standard errors exist."""
    from sklearn.datasets import make_classification

    return make_classification(3_000, 6, n_informative=4, n_redundant=0, flip_y=0.2, random_state=0)


@pytest.mark.parametrize("device", DEVICES)
def test_cross_validation_on_device_matches_cpu(device):
    """The CV path (folds as weights, warm starts, held-out scoring) runs on the device and
    chooses what the CPU chooses."""
    from torchlogit import LogisticRegressionCV

    X, y = problem("multinomial")
    cpu = LogisticRegressionCV(Cs=5, cv=3, tol=1e-10).fit(X, y)
    model = LogisticRegressionCV(Cs=5, cv=3, tol=1e-10, device=device).fit(X, y)
    assert model._coef.device.type == device
    assert model.C_ == cpu.C_
    np.testing.assert_allclose(model.scores_, cpu.scores_, rtol=1e-7)
    np.testing.assert_allclose(model.coefs_paths_, cpu.coefs_paths_, rtol=1e-6, atol=1e-8)
    assert rel(full_coef(model), full_coef(cpu)) < 1e-7


@pytest.mark.parametrize("device", DEVICES)
def test_standard_errors_on_device_match_cpu(device):
    X, y = _noisy_binary()
    cpu = LogisticRegression(C=np.inf, tol=1e-10).fit(X, y)
    model = LogisticRegression(C=np.inf, tol=1e-10, device=device).fit(
        torch.as_tensor(X, device=device), torch.as_tensor(y, device=device)
    )
    for cov_type in ("nonrobust", "HC0"):
        ref = cpu.coef_table(X, y, cov_type=cov_type)
        got = model.coef_table(torch.as_tensor(X, device=device), y, cov_type=cov_type)
        np.testing.assert_allclose(got.to_numpy(), ref.to_numpy(), rtol=1e-7, err_msg=cov_type)


@pytest.mark.parametrize("device", DEVICES)
def test_streamed_fit_on_device_matches_in_memory(device):
    """Chunks decoded on the host, computed on the device: the in-memory optimum."""
    from torchlogit.data import ArraySource

    X, y = _noisy_binary()
    ref = LogisticRegression(tol=1e-10).fit(X, y)
    model = LogisticRegression(tol=1e-10, device=device).fit(ArraySource(X, y, chunk_rows=700))
    assert model._coef.device.type == device
    assert rel(full_coef(model), full_coef(ref)) < 1e-8

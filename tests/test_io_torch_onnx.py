"""The glass box (``to_torch``) and the ONNX export, checked against the estimator."""

import json

import numpy as np
import pytest
import torch
from sklearn.datasets import make_classification

from torchlogit import LogisticRegression
from torchlogit.nn import LogisticLayer


def _fit(n_classes, *, dtype="float64", fit_intercept=True, seed=0):
    X, y = make_classification(
        n_samples=150, n_features=5, n_informative=4, n_redundant=0, n_classes=n_classes,
        random_state=seed,
    )  # fmt: skip
    clf = LogisticRegression(dtype=dtype, fit_intercept=fit_intercept).fit(X, y)
    return clf, X


@pytest.mark.parametrize("n_classes", [2, 4])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_to_torch_matches_estimator(n_classes, fit_intercept):
    clf, X = _fit(n_classes, fit_intercept=fit_intercept)
    assert clf.to_torch().linear.weight.dtype == torch.float32  # as nn.Linear
    layer = clf.to_torch(dtype=torch.float64)
    assert isinstance(layer, torch.nn.Module) and isinstance(layer, LogisticLayer)
    assert layer.linear.weight.device == clf._coef.device
    assert layer.linear.weight.dtype == torch.float64
    assert (layer.linear.bias is not None) == fit_intercept
    Xt = torch.tensor(X)
    with torch.no_grad():
        logits = layer(Xt)
        proba = layer.predict_proba(Xt)
    assert logits.shape == (len(X), 1 if n_classes == 2 else n_classes)
    raw = clf.decision_function(X)
    np.testing.assert_allclose(logits.numpy().reshape(raw.shape), raw, rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(proba.numpy(), clf.predict_proba(X), rtol=1e-13, atol=1e-15)
    np.testing.assert_array_equal(layer.classes[layer.predict(Xt).numpy()], clf.predict(X))
    np.testing.assert_array_equal(layer.classes, clf.classes_)


def test_to_torch_is_a_trainable_first_layer_and_a_copy():
    clf, X = _fit(3, dtype="float32")
    layer = clf.to_torch()
    coef_before = clf.coef_.copy()
    net = torch.nn.Sequential(layer, torch.nn.ReLU(), torch.nn.Linear(3, 2))
    Xt = torch.tensor(X, dtype=torch.float32)
    target = torch.randint(0, 2, (len(X),), generator=torch.Generator().manual_seed(0))
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    loss = torch.nn.functional.cross_entropy(net(Xt), target)
    loss.backward()
    assert layer.linear.weight.grad is not None
    assert float(layer.linear.weight.grad.abs().sum()) > 0
    opt.step()
    assert not np.array_equal(layer.linear.weight.detach().numpy(), coef_before)
    np.testing.assert_array_equal(clf.coef_, coef_before)  # the estimator is untouched
    assert "LogisticLayer" in repr(layer) and "n_classes=3" in repr(layer)


def test_to_torch_state_dict_round_trip():
    clf, X = _fit(2)
    layer = clf.to_torch(dtype="float64")
    fresh = LogisticLayer(5, 2, dtype=torch.float64)
    fresh.load_state_dict(layer.state_dict())
    Xt = torch.tensor(X)
    torch.testing.assert_close(fresh.predict_proba(Xt), layer.predict_proba(Xt), rtol=0, atol=0)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_to_torch_on_cuda():
    X, y = make_classification(n_samples=100, n_features=4, random_state=0)
    clf = LogisticRegression(device="cuda").fit(X, y)
    layer = clf.to_torch(dtype=None)  # the fitted dtype (float64), on the fitted device
    assert layer.linear.weight.device.type == "cuda"
    assert clf.to_torch().linear.weight.dtype == torch.float32
    Xc = torch.tensor(X, device="cuda")
    torch.testing.assert_close(layer.predict_proba(Xc), clf.predict_proba(Xc))


def test_unfitted_to_torch_raises():
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        LogisticRegression().to_torch()


@pytest.mark.parametrize("n_classes", [2, 3])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_onnx_matches_predict_proba(tmp_path, n_classes, dtype, fit_intercept):
    pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    clf, X = _fit(n_classes, dtype=dtype, fit_intercept=fit_intercept)
    path = tmp_path / "model.onnx"
    clf.export_onnx(path)
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    assert [i.name for i in sess.get_inputs()] == ["X"]
    assert [o.name for o in sess.get_outputs()] == ["probabilities"]
    Xd = X.astype(dtype)
    for rows in (Xd, Xd[:1], Xd[:7]):  # the batch dimension is free
        (proba,) = sess.run(None, {"X": rows})
        expected = clf.predict_proba(rows)
        assert proba.shape == expected.shape and proba.dtype == np.dtype(dtype)
        tol = 1e-6 if dtype == "float32" else 1e-14
        np.testing.assert_allclose(proba, expected, rtol=0, atol=tol)
        np.testing.assert_array_equal(clf.classes_[proba.argmax(axis=1)], clf.predict(rows))
    meta = sess.get_modelmeta().custom_metadata_map
    assert json.loads(meta["classes"]) == clf.classes_.tolist()


def test_onnx_float32_export_of_float64_model_and_feature_names(tmp_path):
    pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    pd = pytest.importorskip("pandas")
    clf, X = _fit(2)
    df = pd.DataFrame(X, columns=list("abcde"))
    clf.fit(df, clf.predict(X))
    clf.export_onnx(tmp_path / "m.onnx", dtype="float32")
    sess = ort.InferenceSession(str(tmp_path / "m.onnx"), providers=["CPUExecutionProvider"])
    (proba,) = sess.run(None, {"X": X.astype(np.float32)})
    np.testing.assert_allclose(proba, clf.predict_proba(df), atol=1e-5)
    meta = sess.get_modelmeta().custom_metadata_map
    assert json.loads(meta["feature_names"]) == list("abcde")
    with pytest.raises(ValueError, match="dtype"):
        clf.export_onnx(tmp_path / "x.onnx", dtype="int8")
    assert not (tmp_path / "x.onnx").exists()

"""Model files: round trips (bit-identical predictions), devices, pickle / joblib."""

import pickle

import numpy as np
import pytest
import torch
from sklearn.datasets import make_classification

import torchlogit
from torchlogit import LogisticRegression
from torchlogit.io import ModelFileError, load, read_metadata, save
from torchlogit.io._format import read_container, write_container


def _data(n_classes=2, n=120, d=4, seed=0):
    X, y = make_classification(
        n_samples=n, n_features=d, n_informative=3, n_redundant=0, n_classes=n_classes,
        random_state=seed,
    )  # fmt: skip
    return X, y


def _assert_same_model(a, b, X, *, skip_history=()):
    assert type(a) is type(b)
    assert a.get_params() == b.get_params()
    np.testing.assert_array_equal(a.classes_, b.classes_)
    assert a.classes_.dtype == b.classes_.dtype
    np.testing.assert_array_equal(a.coef_, b.coef_)
    np.testing.assert_array_equal(a.intercept_, b.intercept_)
    assert a.coef_.dtype == b.coef_.dtype
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))
    np.testing.assert_array_equal(a.decision_function(X), b.decision_function(X))
    np.testing.assert_array_equal(a.predict(X), b.predict(X))
    assert a.n_features_in_ == b.n_features_in_
    np.testing.assert_array_equal(a.n_iter_, b.n_iter_)
    assert a.solver_ == b.solver_
    assert a.history_.keys() == b.history_.keys()
    for key in set(a.history_) - set(skip_history):
        np.testing.assert_array_equal(a.history_[key], b.history_[key])


@pytest.mark.parametrize(
    "labels",
    [
        np.array([0, 1]),
        np.array([3, 7, 9]),
        np.array(["cat", "dog"]),
        np.array(["a", "bb", "ccc", "dddd"]),
        np.array([False, True]),
        np.array(["x", "y", "z"], dtype=object),
    ],
    ids=["int2", "int3", "str2", "str4", "bool", "object3"],
)
def test_round_trip_bit_identical(tmp_path, labels):
    X, y = _data(n_classes=len(labels))
    clf = LogisticRegression(C=0.5).fit(X, labels[y])
    path = tmp_path / "model.safetensors"
    clf.save(path)
    loaded = torchlogit.load(path)
    _assert_same_model(clf, loaded, X)
    # refitting the loaded model gives the same model again (its params are complete)
    _assert_same_model(clf, loaded.fit(X, labels[y]), X, skip_history=["time"])


@pytest.mark.parametrize(
    "params",
    [
        {"dtype": "float32"},
        {"dtype": torch.float32, "fit_intercept": False},
        {"C": np.inf, "tol": 1e-8, "solver": "lbfgs", "max_iter": 50},
        {"class_weight": {0: 1.0, 1: 3.5}},
        {"class_weight": "balanced", "device": "cpu"},
    ],
)
def test_round_trip_params(tmp_path, params):
    X, y = _data(seed=1)
    X = X + 0.3 * np.random.default_rng(0).standard_normal(X.shape)  # not separable
    clf = LogisticRegression(**params).fit(X, y)
    save(clf, tmp_path / "m.safetensors")
    loaded = load(tmp_path / "m.safetensors")
    _assert_same_model(clf, loaded, X)
    assert loaded.get_params() == clf.get_params()
    assert loaded._coef.dtype == clf._coef.dtype


def test_feature_names_and_metadata(tmp_path):
    pd = pytest.importorskip("pandas")
    X, y = _data()
    df = pd.DataFrame(X, columns=["age", "height", "weight", "score"])
    clf = LogisticRegression().fit(df, y)
    clf.save(tmp_path / "m.safetensors", metadata={"target": "label", "rows": 120})
    loaded = torchlogit.load(tmp_path / "m.safetensors")
    np.testing.assert_array_equal(loaded.feature_names_in_, clf.feature_names_in_)
    np.testing.assert_array_equal(loaded.predict_proba(df), clf.predict_proba(df))
    meta = read_metadata(tmp_path / "m.safetensors")
    assert meta["user"] == {"target": "label", "rows": 120}
    assert meta["class"] == "LogisticRegression"
    assert meta["library_version"] == torchlogit.__version__
    assert meta["format_version"] == torchlogit.io.FORMAT_VERSION


def test_unfitted_model_round_trip(tmp_path):
    clf = LogisticRegression(C=2.0, max_iter=7)
    clf.save(tmp_path / "m.safetensors")
    loaded = torchlogit.load(tmp_path / "m.safetensors")
    assert loaded.get_params() == clf.get_params()
    assert not hasattr(loaded, "coef_")


def test_file_holds_no_pickle_and_load_never_unpickles(tmp_path, monkeypatch):
    X, y = _data()
    clf = LogisticRegression().fit(X, y)
    path = tmp_path / "m.safetensors"
    clf.save(path)
    raw = path.read_bytes()
    n = int.from_bytes(raw[:8], "little")
    assert raw[8:9] == b"{"  # safetensors: a JSON header follows the length
    # the pickle protocol markers must not appear in the header (the 8-byte length before it
    # is a number and may hold any bytes: 1152 = 0x480 is b"\x80\x04")
    header = raw[8 : 8 + n]
    assert b"\x80\x04" not in header and b"\x80\x05" not in header

    def forbidden(*args, **kwargs):
        raise AssertionError("pickle used while loading")

    monkeypatch.setattr(pickle, "loads", forbidden)
    monkeypatch.setattr(pickle, "load", forbidden)
    monkeypatch.setattr(pickle, "Unpickler", forbidden)
    monkeypatch.setattr(torch, "load", forbidden)
    loaded = torchlogit.load(path)
    np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))


def test_save_is_atomic_and_overwrites(tmp_path):
    X, y = _data()
    path = tmp_path / "m.safetensors"
    LogisticRegression(C=1.0).fit(X, y).save(path)
    clf2 = LogisticRegression(C=0.01).fit(X, y)
    clf2.save(path)
    np.testing.assert_array_equal(torchlogit.load(path).coef_, clf2.coef_)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.safetensors"]


def test_save_refuses_other_objects(tmp_path):
    from sklearn.linear_model import LogisticRegression as SkLR

    with pytest.raises(TypeError, match="cannot save"):
        save(SkLR(), tmp_path / "m.safetensors")
    assert not (tmp_path / "m.safetensors").exists()


def test_pickle_and_joblib_still_work(tmp_path):
    joblib = pytest.importorskip("joblib")
    X, y = _data(n_classes=3)
    clf = LogisticRegression().fit(X, np.array(["a", "b", "c"])[y])
    _assert_same_model(clf, pickle.loads(pickle.dumps(clf)), X)
    joblib.dump(clf, tmp_path / "m.joblib")
    _assert_same_model(clf, joblib.load(tmp_path / "m.joblib"), X)


def _retag_device(path, device: str, out):
    """A copy of ``path`` that claims the model was fitted on ``device`` (valid checksum)."""
    doc, tensors = read_container(path)
    doc["device"] = device
    doc["params"]["device"] = device
    write_container(out, doc, tensors)


@pytest.mark.skipif(torch.cuda.is_available(), reason="tests the CPU-only fallback")
def test_cuda_fitted_file_loads_on_cpu_only_machine(tmp_path):
    X, y = _data()
    clf = LogisticRegression().fit(X, y)
    clf.save(tmp_path / "cpu.safetensors")
    _retag_device(tmp_path / "cpu.safetensors", "cuda:0", tmp_path / "cuda.safetensors")
    with pytest.warns(UserWarning, match="not available here"):
        loaded = torchlogit.load(tmp_path / "cuda.safetensors")
    assert loaded._coef.device.type == "cpu"
    assert loaded.device == "cpu"  # so that refitting works here
    np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))
    loaded = torchlogit.load(tmp_path / "cuda.safetensors", device="cpu")
    np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))
    with pytest.raises(ValueError, match="CUDA is not available"):
        torchlogit.load(tmp_path / "cpu.safetensors", device="cuda")


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_cuda_round_trip_and_cross_device(tmp_path, dtype):
    X, y = _data(n_classes=3)
    Xc = torch.tensor(X, device="cuda")
    clf = LogisticRegression(device="cuda", dtype=dtype).fit(Xc, y)
    clf.save(tmp_path / "m.safetensors")
    on_gpu = torchlogit.load(tmp_path / "m.safetensors")
    assert on_gpu._coef.device.type == "cuda"
    torch.testing.assert_close(on_gpu.predict_proba(Xc), clf.predict_proba(Xc), rtol=0, atol=0)
    on_cpu = torchlogit.load(tmp_path / "m.safetensors", device="cpu")
    assert on_cpu._coef.device.type == "cpu" and on_cpu.device == "cpu"
    np.testing.assert_array_equal(on_cpu.coef_, clf.coef_)
    np.testing.assert_allclose(
        on_cpu.predict_proba(X), clf.predict_proba(X), rtol=0, atol=1e-5 if dtype == "float32"
        else 1e-12,
    )  # fmt: skip
    # and back: a CPU-fitted model moved to the GPU
    cpu_clf = LogisticRegression(dtype=dtype).fit(X, y)
    cpu_clf.save(tmp_path / "c.safetensors")
    moved = torchlogit.load(tmp_path / "c.safetensors", device="cuda")
    assert moved._coef.device.type == "cuda"
    np.testing.assert_array_equal(moved.coef_, cpu_clf.coef_)


def test_load_errors_name_the_file(tmp_path):
    with pytest.raises(ModelFileError, match="no such file"):
        torchlogit.load(tmp_path / "missing.safetensors")
    with pytest.raises(ModelFileError, match="is a directory"):
        torchlogit.load(tmp_path)


def test_atomic_path_leaves_nothing_on_failure(tmp_path):
    import os
    import stat

    from torchlogit.io._atomic import atomic_path

    target = tmp_path / "out.bin"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_bytes(b"half a fi")
        raise RuntimeError("interrupted")
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.bin"]
    with atomic_path(target) as tmp:
        tmp.write_bytes(b"new")
    assert target.read_bytes() == b"new"
    mask = os.umask(0o022)
    os.umask(mask)
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~mask
    with pytest.raises(FileNotFoundError, match="does not exist"):
        with atomic_path(tmp_path / "no" / "dir.bin"):
            pass


def test_history_keeps_int_and_float_entries(tmp_path):
    X, y = _data()
    clf = LogisticRegression().fit(X, y)
    clf.history_["n_active"] = [4, 3, 3]  # what a future solver might record
    clf.history_["empty"] = []
    clf.save(tmp_path / "m.safetensors")
    loaded = torchlogit.load(tmp_path / "m.safetensors")
    assert loaded.history_["n_active"] == [4, 3, 3]
    assert all(isinstance(v, int) for v in loaded.history_["n_active"])
    assert loaded.history_["empty"] == []
    assert loaded.history_["objective"] == clf.history_["objective"]
    clf.history_["bad"] = ["x"]
    with pytest.raises(TypeError, match="history_"):
        clf.save(tmp_path / "m2.safetensors")
    assert not (tmp_path / "m2.safetensors").exists()

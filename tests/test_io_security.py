"""Crafted model files: each gives a clear ModelFileError, executes nothing, reads little."""

import builtins
import json
import pickle

import numpy as np
import pytest
import torch
from sklearn.datasets import make_classification

import torchlogit
from torchlogit.io import MAX_HEADER_BYTES, ModelFileError
from torchlogit.io._format import canonical_json, read_container, write_container


class _CreatesFile:
    """Unpickling this object creates ``self.marker`` (the payload of the attack)."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (builtins.open, (self.marker, "w"))


@pytest.fixture
def saved(tmp_path):
    X, y = make_classification(n_samples=80, n_features=3, n_informative=2, n_redundant=0,
                               random_state=0)  # fmt: skip
    clf = torchlogit.LogisticRegression().fit(X, y)
    path = tmp_path / "good.safetensors"
    clf.save(path)
    return path


def _header(raw: bytes) -> tuple[int, dict]:
    n = int.from_bytes(raw[:8], "little")
    return n, json.loads(raw[8 : 8 + n])


def test_pickle_payload_is_never_executed(tmp_path):
    marker = tmp_path / "pwned"
    payload = pickle.dumps({"model": _CreatesFile(marker)})
    # sanity: the payload really does create the file when unpickled
    pickle.loads(payload)
    assert marker.exists()
    marker.unlink()

    path = tmp_path / "evil.safetensors"
    path.write_bytes(payload)
    with pytest.raises(ModelFileError, match="pickle"):
        torchlogit.load(path)
    assert not marker.exists()

    # the same payload in torch.save's zip container
    torch.save({"model": _CreatesFile(marker)}, path)
    with pytest.raises(ModelFileError, match="not a torchlogit model file"):
        torchlogit.load(path)
    assert not marker.exists()


def test_pickle_payload_inside_a_valid_container_is_inert(tmp_path, saved):
    marker = tmp_path / "pwned"
    payload = pickle.dumps(_CreatesFile(marker)).hex()
    doc, tensors = read_container(saved)
    doc["attributes"]["solver_"] = payload  # a string stays a string
    doc["user"] = {"__reduce__": payload}
    write_container(tmp_path / "m.safetensors", doc, tensors)
    loaded = torchlogit.load(tmp_path / "m.safetensors")
    assert loaded.solver_ == payload
    assert not marker.exists()
    # a raw pickle as the metadata string is not JSON
    raw = saved.read_bytes()
    n, header = _header(raw)
    header["__metadata__"]["torchlogit"] = pickle.dumps(_CreatesFile(marker)).decode("latin-1")
    blob = json.dumps(header).encode()
    (tmp_path / "p.safetensors").write_bytes(len(blob).to_bytes(8, "little") + blob + raw[8 + n :])
    with pytest.raises(ModelFileError, match="not valid JSON"):
        torchlogit.load(tmp_path / "p.safetensors")
    assert not marker.exists()


def test_truncated_files(saved, tmp_path):
    raw = saved.read_bytes()
    n = int.from_bytes(raw[:8], "little")
    for cut in [0, 3, 8, 9, 8 + n // 2, 8 + n, 8 + n + 5, len(raw) - 1]:
        path = tmp_path / f"cut{cut}.safetensors"
        path.write_bytes(raw[:cut])
        with pytest.raises(ModelFileError, match=str(path.name)) as info:
            torchlogit.load(path)
        assert any(w in str(info.value) for w in ("truncated", "only", "not a torchlogit"))


def test_flipped_tensor_byte_fails_the_checksum(saved, tmp_path):
    raw = bytearray(saved.read_bytes())
    raw[-3] ^= 0x40
    path = tmp_path / "flipped.safetensors"
    path.write_bytes(bytes(raw))
    with pytest.raises(ModelFileError, match="checksum does not match"):
        torchlogit.load(path)


def test_edited_json_fails_the_checksum(saved, tmp_path):
    raw = saved.read_bytes()
    n, header = _header(raw)
    doc = json.loads(header["__metadata__"]["torchlogit"])
    doc["params"]["C"] = 1000.0
    header["__metadata__"]["torchlogit"] = canonical_json(doc)
    blob = json.dumps(header).encode()
    path = tmp_path / "edited.safetensors"
    path.write_bytes(len(blob).to_bytes(8, "little") + blob + raw[8 + n :])
    with pytest.raises(ModelFileError, match="checksum does not match"):
        torchlogit.load(path)


@pytest.mark.parametrize("n", [2**63, MAX_HEADER_BYTES + 1])
def test_huge_header_is_refused_before_reading(tmp_path, n, monkeypatch):
    path = tmp_path / "huge.safetensors"
    path.write_bytes(n.to_bytes(8, "little") + b"{}")
    with pytest.raises(ModelFileError, match="limit"):
        torchlogit.load(path)


def test_header_longer_than_file(tmp_path):
    path = tmp_path / "short.safetensors"
    path.write_bytes((1000).to_bytes(8, "little") + b'{"__metadata__": {}}')
    with pytest.raises(ModelFileError, match="truncated"):
        torchlogit.load(path)


def test_newer_format_version(saved, tmp_path):
    doc, tensors = read_container(saved)
    doc["format_version"] = torchlogit.io.FORMAT_VERSION + 1
    doc["library_version"] = "99.0"
    write_container(tmp_path / "new.safetensors", doc, tensors)
    with pytest.raises(ModelFileError, match=r"version 2; .*Upgrade torchlogit"):
        torchlogit.load(tmp_path / "new.safetensors")
    with pytest.raises(ModelFileError, match="Upgrade"):
        torchlogit.io.read_metadata(tmp_path / "new.safetensors")


@pytest.mark.parametrize(
    "name", ["os.system", "Pipeline", "subprocess.Popen", None, 3, ["LogisticRegression"], {}]
)
def test_unknown_class(saved, tmp_path, name):
    doc, tensors = read_container(saved)
    doc["class"] = name
    write_container(tmp_path / "cls.safetensors", doc, tensors)
    with pytest.raises(ModelFileError, match="which torchlogit does not load"):
        torchlogit.load(tmp_path / "cls.safetensors")


def test_plain_safetensors_file_is_not_a_model(tmp_path):
    from safetensors.torch import save_file

    save_file({"weight": torch.zeros(2, 3)}, str(tmp_path / "w.safetensors"))
    with pytest.raises(ModelFileError, match="not one written by torchlogit"):
        torchlogit.load(tmp_path / "w.safetensors")


def _rewrite(saved, out, edit):
    doc, tensors = read_container(saved)
    edit(doc, tensors)
    write_container(out, doc, tensors)
    return out


@pytest.mark.parametrize(
    "edit, match",
    [
        (lambda d, t: t.update(coef=torch.zeros(2, 4, dtype=torch.float64)), "coef has shape"),
        (lambda d, t: t.pop("coef"), "needs coef"),
        (lambda d, t: t.update(coef=torch.zeros(1, 4, dtype=torch.int64)), "dtype"),
        (lambda d, t: d["attributes"].pop("classes_"), "needs coef, classes_"),
        (lambda d, t: d["params"].update(exec_this="rm -rf"), "unknown to LogisticRegression"),
        (lambda d, t: d["params"].update(C={"__ndarray__": 1}), "corrupted"),
        (lambda d, t: d["params"].update(C={"__float__": "1e9", "x": 1}), "corrupted"),
        (lambda d, t: d["params"].update(C={"__builtin__": "eval"}), "corrupted|unknown"),
        (lambda d, t: d["attributes"].update(_coef=[1, 2]), "corrupted"),
        (
            lambda d, t: d["attributes"].update(
                classes_={"__ndarray__": {"dtype": "V8", "shape": [2], "values": [1, 2]}}
            ),
            "corrupted",
        ),
        (
            lambda d, t: d["attributes"].update(
                classes_={"__ndarray__": {"dtype": "<i8", "shape": [10**12], "values": [1, 2]}}
            ),
            "corrupted",
        ),
        (lambda d, t: d.update(device="quantum:7"), "device"),
        (
            lambda d, t: d["attributes"].update(
                classes_={"__ndarray__": {"dtype": "<i8", "shape": [2], "values": [1, 0]}}
            ),
            "sorted and distinct",
        ),
        (
            lambda d, t: d["attributes"].update(
                feature_names_in_={"__ndarray__": {"dtype": "|O", "shape": [1], "values": ["a"]}}
            ),
            "feature_names_in_ must hold 3 names",
        ),
        (lambda d, t: d.update(format_version="1"), "format_version"),
        (lambda d, t: d.update(format="something-else"), "not a torchlogit model file"),
    ],
)
def test_inconsistent_but_well_formed_files(saved, tmp_path, edit, match):
    path = _rewrite(saved, tmp_path / "bad.safetensors", edit)
    with pytest.raises(ModelFileError, match=match):
        torchlogit.load(path)


def test_header_entries_are_checked(saved, tmp_path):
    raw = saved.read_bytes()
    n, header = _header(raw)
    header["coef"]["shape"] = [1, 1000000]  # declares more bytes than its range holds
    blob = json.dumps(header).encode()
    path = tmp_path / "shape.safetensors"
    path.write_bytes(len(blob).to_bytes(8, "little") + blob + raw[8 + n :])
    with pytest.raises(ModelFileError, match="tensor 'coef' is invalid"):
        torchlogit.load(path)
    header = _header(raw)[1]
    header["coef"]["dtype"] = "PYOBJ"
    blob = json.dumps(header).encode()
    path.write_bytes(len(blob).to_bytes(8, "little") + blob + raw[8 + n :])
    with pytest.raises(ModelFileError, match="invalid"):
        torchlogit.load(path)


def test_deeply_nested_json_is_refused(tmp_path):
    blob = (b"[" * 100000) + (b"]" * 100000)
    path = tmp_path / "deep.safetensors"
    path.write_bytes(len(blob).to_bytes(8, "little") + blob)
    with pytest.raises(ModelFileError):
        torchlogit.load(path)


def test_deeply_nested_metadata(saved, tmp_path):
    """Nesting within Python's limits loads; beyond them it is a ModelFileError, never a crash."""
    doc, tensors = read_container(saved)
    doc["user"] = json.loads("[" * 300 + "]" * 300)
    write_container(tmp_path / "ok.safetensors", doc, tensors)
    assert len(json.dumps(torchlogit.io.read_metadata(tmp_path / "ok.safetensors")["user"])) == 600
    torchlogit.load(tmp_path / "ok.safetensors")

    raw = saved.read_bytes()
    n, header = _header(raw)
    text = header["__metadata__"]["torchlogit"]
    header["__metadata__"]["torchlogit"] = text[:-1] + ',"deep":' + "[" * 5000 + "]" * 5000 + "}"
    blob = json.dumps(header).encode()
    path = tmp_path / "deep.safetensors"
    path.write_bytes(len(blob).to_bytes(8, "little") + blob + raw[8 + n :])
    with pytest.raises(ModelFileError, match="not valid JSON"):
        torchlogit.load(path)


def test_oversized_metadata_is_refused_when_saving(tmp_path):
    X = np.zeros((4, 2))
    clf = torchlogit.LogisticRegression().fit(X + [[0, 1], [1, 0], [0, 2], [2, 0]], [0, 1, 0, 1])
    clf.feature_names_in_ = np.array(["n" * (MAX_HEADER_BYTES // 2)] * 2, dtype=object)
    with pytest.raises(ValueError, match="header limit"):
        clf.save(tmp_path / "big.safetensors")
    assert list(tmp_path.iterdir()) == []


def test_round_trip_still_exact_after_all_that(saved):
    loaded = torchlogit.load(saved)
    assert np.isfinite(loaded.coef_).all()


def test_random_damage_is_always_caught(saved, tmp_path):
    """Any single damaged byte or cut: a ModelFileError, or (whitespace) the same model."""
    raw = saved.read_bytes()
    X = np.random.default_rng(1).standard_normal((20, 3))
    expected = torchlogit.load(saved).predict_proba(X)
    rng = np.random.default_rng(0)
    path = tmp_path / "damaged.safetensors"
    outcomes = {"error": 0, "same": 0}
    for _ in range(300):
        damaged = bytearray(raw)
        if rng.random() < 0.8:
            i = int(rng.integers(len(raw)))
            damaged[i] = (damaged[i] + int(rng.integers(1, 256))) % 256
        else:
            damaged = damaged[: int(rng.integers(len(raw)))]
        path.write_bytes(bytes(damaged))
        try:
            model = torchlogit.load(path)
        except ModelFileError:
            outcomes["error"] += 1
            continue
        np.testing.assert_array_equal(model.predict_proba(X), expected)
        outcomes["same"] += 1
    assert outcomes["error"] > 250

"""Model files and a cross-validated model: its floating-point array attributes are tensors
``attributes/<name>`` (bit for bit, outside the JSON header), ``l1_ratios_ = [None]``
round-trips, and forged attribute tensors are refused by name."""

from __future__ import annotations

import struct
import warnings

import numpy as np
import pytest
import torch

import torchlogit
from torchlogit import LogisticRegressionCV
from torchlogit.io import ModelFileError
from torchlogit.io._format import read_container, write_container


@pytest.fixture(scope="module")
def fitted():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((150, 3))
    y = (X @ [1.0, -1.0, 0.5] + rng.logistic(size=150) > 0).astype(int)
    return LogisticRegressionCV(Cs=4, cv=3).fit(X, y), X


def _header_bytes(path) -> int:
    with open(path, "rb") as fh:
        return struct.unpack("<Q", fh.read(8))[0]


def test_cv_attributes_round_trip_bit_for_bit_without_warnings(fitted, tmp_path):
    model, X = fitted
    path = tmp_path / "m.safetensors"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model.save(path)
    back = torchlogit.load(path)
    for name in ("Cs_", "scores_", "coefs_paths_", "n_iter_", "l1_ratios_"):
        a, b = getattr(model, name), getattr(back, name)
        assert a.dtype == b.dtype and a.shape == b.shape, name
        np.testing.assert_array_equal(a, b)
    assert (back.C_, back.l1_ratio_, back.selection) == (model.C_, model.l1_ratio_, "min")
    np.testing.assert_array_equal(back.predict_proba(X), model.predict_proba(X))
    _, tensors = read_container(path)
    assert {"attributes/Cs_", "attributes/scores_", "attributes/coefs_paths_"} <= set(tensors)


def test_a_path_too_big_for_a_json_header_is_saved_as_a_tensor(fitted, tmp_path):
    model, X = fitted
    big = LogisticRegressionCV(Cs=4, cv=3)
    big.__dict__.update({k: v for k, v in vars(model).items()})
    # 2.4 M float64 numbers: about 50 MB of JSON, over the 16 MiB header limit
    big.coefs_paths_ = np.random.default_rng(1).standard_normal((3, 1, 200, 1, 4000))
    path = tmp_path / "big.safetensors"
    big.save(path)
    assert _header_bytes(path) < 64 * 1024
    np.testing.assert_array_equal(torchlogit.load(path).coefs_paths_, big.coefs_paths_)


@pytest.mark.parametrize(
    "edit, match",
    [
        (lambda d, t: t.update({"attributes/coef_": torch.zeros(1, 4)}), "'attributes/coef_'"),
        (lambda d, t: t.update({"attributes/_x": torch.zeros(2)}), "'attributes/_x'"),
        (lambda d, t: t.update({"attributes/C_": torch.zeros(1)}), "'attributes/C_'"),
        (
            lambda d, t: t.update({"attributes/scores_": t["attributes/scores_"].long()}),
            "is not a floating-point array",
        ),
    ],
)
def test_forged_attribute_tensors_are_refused(fitted, tmp_path, edit, match):
    model, _ = fitted
    path = tmp_path / "m.safetensors"
    model.save(path)
    doc, tensors = read_container(path)
    edit(doc, tensors)
    bad = tmp_path / "bad.safetensors"
    write_container(bad, doc, tensors)
    with pytest.raises(ModelFileError, match=match):
        torchlogit.load(bad)


def test_object_arrays_hold_none_and_nothing_else_new(tmp_path, fitted):
    model, _ = fitted
    path = tmp_path / "m.safetensors"
    model.save(path)
    doc, tensors = read_container(path)
    doc["attributes"]["extra_"] = {"__ndarray__": {"dtype": "<f8", "shape": [1], "values": [None]}}
    bad = tmp_path / "bad.safetensors"
    write_container(bad, doc, tensors)
    with pytest.raises(ModelFileError, match="values of another type"):
        torchlogit.load(bad)

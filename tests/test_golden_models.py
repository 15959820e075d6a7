"""Model files written by an earlier main still load and predict the same (tests/golden/)."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import torchlogit

GOLDEN = Path(__file__).parent / "golden"


@pytest.mark.parametrize("name", ["binary", "multinomial", "l1_named", "float32"])
def test_golden_model_loads_and_predicts_as_written(name):
    model = torchlogit.load(GOLDEN / f"{name}.safetensors")
    expected = np.load(GOLDEN / f"{name}_expected.npz")
    X = expected["X"]
    if name == "l1_named":
        X = pd.DataFrame(X, columns=list(model.feature_names_in_))
    proba = model.predict_proba(X)
    rtol = 1e-6 if name == "float32" else 1e-12
    np.testing.assert_allclose(
        proba, expected["proba"], rtol=rtol, atol=1e-7 if name == "float32" else 0
    )
    np.testing.assert_array_equal(np.asarray(model.predict(X)).astype(str), expected["predict"])


def test_golden_models_keep_their_configuration():
    l1 = torchlogit.load(GOLDEN / "l1_named.safetensors")
    assert l1.penalty == "l1" and l1.C == 0.1
    assert list(l1.classes_) == ["benign", "malignant"]
    assert l1.feature_names_in_[0] == "f_0"
    assert np.count_nonzero(l1.coef_) < l1.coef_.size  # L1 left exact zeros
    f32 = torchlogit.load(GOLDEN / "float32.safetensors")
    assert f32.coef_.dtype == np.float32
    multi = torchlogit.load(GOLDEN / "multinomial.safetensors")
    assert multi.coef_.shape == (3, 4)

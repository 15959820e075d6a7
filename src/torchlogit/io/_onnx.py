"""ONNX export: a five-node graph from features to class probabilities.

The graph is written directly with ``onnx.helper`` (no tracing), so it is the same on every
torch version and holds exactly the fitted numbers:

    X (n, d) --MatMul(W^T)--Add(b)--> logits (n, m)
      two classes:  probabilities = Concat(Sigmoid(-logits), Sigmoid(logits))   (n, 2)
      K classes:    probabilities = Softmax(logits, axis=1)                      (n, K)

The class labels, feature names and library version are stored in the model's
``metadata_props`` (``classes`` and ``feature_names`` as JSON).
"""

from __future__ import annotations

import json

import numpy as np

from .._version import __version__
from ._atomic import atomic_path

OPSET = 17


def export_onnx(model, path, *, dtype=None) -> None:
    """Write ``model`` (fitted) as an ONNX graph whose output ``probabilities`` is ``(n, K)``.

    The input is ``X``, ``(n, n_features_in_)`` with a free batch dimension, in ``dtype``
    (``"float32"`` or ``"float64"``; default the model's own dtype). Needs the ``onnx``
    package (``pip install torchlogit[onnx]``).
    """
    from sklearn.utils.validation import check_is_fitted

    check_is_fitted(model, "coef_")
    try:
        import onnx
        from onnx import TensorProto, helper, numpy_helper
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("export_onnx needs the onnx package: pip install onnx") from exc

    coef = model.coef_tensor_.detach().cpu().numpy()
    name = dtype if dtype is not None else str(model.coef_tensor_.dtype).removeprefix("torch.")
    if name not in ("float32", "float64"):
        raise ValueError(f"dtype must be 'float32' or 'float64', got {dtype!r}")
    np_dtype = np.dtype(name)
    elem = TensorProto.FLOAT if name == "float32" else TensorProto.DOUBLE
    d = model.n_features_in_
    K = len(model.classes_)
    weight_t = np.ascontiguousarray(coef[:, :d].T.astype(np_dtype))
    inits = [numpy_helper.from_array(weight_t, "weight_t")]
    nodes = [helper.make_node("MatMul", ["X", "weight_t"], ["linear"])]
    if coef.shape[1] > d:
        inits.append(numpy_helper.from_array(coef[:, d].astype(np_dtype), "bias"))
        nodes.append(helper.make_node("Add", ["linear", "bias"], ["logits"]))
    else:
        nodes.append(helper.make_node("Identity", ["linear"], ["logits"]))
    if K == 2:
        nodes += [
            helper.make_node("Neg", ["logits"], ["neg_logits"]),
            helper.make_node("Sigmoid", ["neg_logits"], ["p0"]),
            helper.make_node("Sigmoid", ["logits"], ["p1"]),
            helper.make_node("Concat", ["p0", "p1"], ["probabilities"], axis=1),
        ]
    else:
        nodes.append(helper.make_node("Softmax", ["logits"], ["probabilities"], axis=1))
    graph = helper.make_graph(
        nodes,
        "torchlogit_logistic_regression",
        [helper.make_tensor_value_info("X", elem, ["n", d])],
        [helper.make_tensor_value_info("probabilities", elem, ["n", K])],
        initializer=inits,
    )
    onnx_model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", OPSET)],
        producer_name="torchlogit",
        producer_version=__version__,
    )
    onnx_model.ir_version = min(onnx_model.ir_version, 8)  # readable by onnxruntime >= 1.14
    classes = [c.item() if hasattr(c, "item") else c for c in model.classes_]
    props = {"classes": json.dumps(classes), "library_version": __version__}
    if hasattr(model, "feature_names_in_"):
        props["feature_names"] = json.dumps([str(f) for f in model.feature_names_in_])
    helper.set_model_props(onnx_model, props)
    onnx.checker.check_model(onnx_model)
    with atomic_path(path) as tmp:
        onnx.save(onnx_model, str(tmp))

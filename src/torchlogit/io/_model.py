"""``save`` / ``load`` of fitted estimators: tensors in safetensors, the rest in JSON.

The JSON document (``format_version`` :data:`FORMAT_VERSION`) holds

- ``class``: the estimator's class name, looked up in :data:`MODEL_CLASSES` (never imported
  by name from the file);
- ``params``: ``get_params()`` (values without a JSON form are left out, with a warning).
  :func:`load` restores them except those that act outside the model when it is refitted
  (:data:`NOT_RESTORED`, see :func:`load`);
- ``fitted``: whether the tensors and ``attributes`` below are present;
- ``attributes``: the fitted attributes (``classes_`` with its dtype, ``feature_names_in_``,
  ``n_features_in_``, ``n_iter_``, ``solver_``, ...) except those rebuilt from tensors and
  the floating-point arrays, which are tensors (below);
- ``device`` and ``dtype`` of the fitted coefficients, ``library_version``, and ``user``:
  free JSON metadata from the caller (the command line stores the target column there).

The tensors are ``coef`` (the ``(m, p)`` coefficient matrix, intercept in the last column, in
its fitted dtype), ``history/<key>`` for each list in ``history_`` (float64) and
``attributes/<name>`` for each fitted attribute that is a floating-point array, bit for bit in
its dtype and shape (``LogisticRegressionCV``'s ``Cs_``, ``scores_``, ``coefs_paths_``:
``n_folds * n_l1_ratios * n_Cs * m * p`` numbers, which would not fit a JSON header).
"""

from __future__ import annotations

import warnings

import numpy as np
import torch

from .._version import __version__
from ._errors import ModelFileError
from ._format import read_container, read_header, write_container
from ._values import NotEncodable, decode, encode

#: The version of the file format this library writes; it reads every version up to it.
FORMAT_VERSION = 1
FORMAT_NAME = "torchlogit-model"

# Attributes rebuilt from the tensors (or derived from them) rather than stored as JSON.
_FROM_TENSORS = ("coef_", "intercept_", "history_")

#: Parameters that a model file never sets, because a refit of the loaded model would act on
#: them outside the model: ``checkpoint_dir`` (where it writes), ``distributed`` (which
#: processes it talks to) and ``verbose`` (what it prints). :func:`load` gives them their
#: defaults; ``device`` and ``solver_options`` are sanitised (see :func:`load`).
NOT_RESTORED = ("checkpoint_dir", "distributed", "verbose")
#: ``solver_options`` keys that :func:`load` drops: hooks into the running solver.
NOT_RESTORED_SOLVER_OPTIONS = ("callback", "checkpoint", "verbose")
#: The dtypes a model's coefficients may have (what ``fit`` produces).
COEF_DTYPES = (torch.float32, torch.float64)


def _model_classes() -> dict[str, type]:
    """The classes a file may name: a fixed table, so a file can never pick what is imported."""
    from ..estimators import LogisticRegression, LogisticRegressionCV

    return {"LogisticRegression": LogisticRegression, "LogisticRegressionCV": LogisticRegressionCV}


def _encode_params(model) -> dict:
    params, dropped = {}, []
    for name, value in model.get_params(deep=False).items():
        try:
            params[name] = encode(value)
        except NotEncodable:
            dropped.append(name)
    if dropped:
        warnings.warn(
            f"parameters {dropped} have no JSON form and are not saved; the loaded model "
            "gets their defaults",
            UserWarning,
            stacklevel=3,
        )
    return params


#: The tensor name prefix of a floating-point array attribute.
ATTRIBUTE_TENSOR = "attributes/"
_FLOAT_ARRAYS = ("float16", "float32", "float64")


def _encode_attributes(model) -> tuple[dict, dict]:
    """``(JSON attributes, tensors)``: floating-point arrays as tensors, the rest as JSON."""
    attrs, tensors = {}, {}
    for name, value in vars(model).items():
        if not name.endswith("_") or name.startswith("_") or name in _FROM_TENSORS:
            continue
        if isinstance(value, np.ndarray) and value.dtype.name in _FLOAT_ARRAYS:
            tensors[ATTRIBUTE_TENSOR + name] = torch.from_numpy(np.ascontiguousarray(value))
            continue
        try:
            attrs[name] = encode(value)
        except NotEncodable:
            warnings.warn(
                f"fitted attribute {name!r} ({type(value).__name__}) is not saved",
                UserWarning,
                stacklevel=3,
            )
    return attrs, tensors


def _history_tensor(key, values) -> torch.Tensor:
    """A list of numbers as a 1-D tensor: int64 when all are ints, else float64."""
    values = list(values)
    is_int = all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in values)
    try:
        t = torch.tensor(values, dtype=torch.int64 if is_int and values else torch.float64)
    except (TypeError, ValueError, RuntimeError):
        raise TypeError(f"save: history_[{key!r}] is not a list of numbers") from None
    return t.reshape(-1)


def save(model, path, *, metadata: dict | None = None) -> None:
    """Write ``model`` to ``path`` (a safetensors file; ``.safetensors`` is customary).

    Tensors go to safetensors and everything else to JSON: nothing is pickled. The file is
    written to a temporary name and renamed, so ``path`` never holds half a model.
    ``metadata``: JSON-able facts to keep with the model (read back with :func:`read_metadata`).
    A model whose coefficients are not all finite (a diverged fit) is refused with a
    ``ValueError`` before anything is written.
    """
    name = type(model).__name__
    if _model_classes().get(name) is not type(model):
        raise TypeError(f"save: cannot save a {name}; supported: {sorted(_model_classes())}")
    fitted = hasattr(model, "coef_tensor_")
    try:
        user = encode(metadata if metadata is not None else {})
    except NotEncodable as exc:
        raise TypeError(f"save: metadata must be JSON-able ({exc})") from None
    doc = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "library_version": __version__,
        "class": name,
        "params": _encode_params(model),
        "fitted": fitted,
        "user": user,
    }
    tensors = {}
    if fitted:
        coef = model.coef_tensor_
        doc["device"] = str(coef.device)
        doc["dtype"] = str(coef.dtype).removeprefix("torch.")
        doc["attributes"], arrays = _encode_attributes(model)
        tensors["coef"] = coef
        tensors.update(arrays)
        for key, values in getattr(model, "history_", {}).items():
            tensors[f"history/{key}"] = _history_tensor(key, values)

    _refuse_non_finite(path, tensors)
    write_container(path, doc, tensors)


def _refuse_non_finite(path, tensors: dict) -> None:
    """A model with NaN / inf coefficients predicts nothing useful: refuse it before writing."""
    coef = tensors.get("coef")
    if coef is not None and coef.is_floating_point():
        bad = int((~torch.isfinite(coef)).sum())
        if bad:
            raise ValueError(
                f"save: the model's coefficients hold {bad} non-finite value(s) (NaN or inf), "
                f"so the fit diverged; nothing was written to {path}"
            )


def _check_version(path, doc) -> None:
    if doc.get("format") != FORMAT_NAME:
        raise ModelFileError(f"{path}: not a torchlogit model file (format {doc.get('format')!r})")
    version = doc.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ModelFileError(f"{path}: corrupted: format_version {version!r} is not valid")
    if version > FORMAT_VERSION:
        raise ModelFileError(
            f"{path}: written by torchlogit {doc.get('library_version')} in model format "
            f"version {version}; this torchlogit ({__version__}) reads versions up to "
            f"{FORMAT_VERSION}. Upgrade torchlogit to load it."
        )


def read_metadata(path) -> dict:
    """The JSON document of a model file (class, params, versions, ``user`` metadata).

    Only the header is read and checked (not the tensors nor the checksum).
    """
    doc, _ = read_header(path)
    _check_version(path, doc)
    try:
        return decode(doc, where="metadata")
    except (ValueError, TypeError, RuntimeError) as exc:
        raise ModelFileError(f"{path}: corrupted metadata ({exc})") from None


def _default_device(path, saved: str) -> torch.device:
    dev = torch.device(saved)
    if dev.type == "cuda" and not torch.cuda.is_available():
        warnings.warn(
            f"{path}: the model was fitted on {saved}, which is not available here; "
            "loading it on the CPU",
            UserWarning,
            stacklevel=3,
        )
        return torch.device("cpu")
    return dev


def _restore_fitted(model, coef: torch.Tensor, history: dict):
    """Give the model its coefficient block (the estimator derives ``coef_`` etc. from it)."""
    return model.set_coefficients(coef, history=history)


def _sanitise_params(params: dict, defaults: dict, target: torch.device) -> dict:
    """``params`` without what a file must not set (:data:`NOT_RESTORED`, see :func:`load`)."""
    params = dict(params)
    for name in NOT_RESTORED:
        if name in defaults:
            params[name] = defaults[name]
    if params.get("device") not in (None, "auto"):
        params["device"] = str(target)
    options = params.get("solver_options")
    if isinstance(options, dict):
        params["solver_options"] = {
            k: v for k, v in options.items() if k not in NOT_RESTORED_SOLVER_OPTIONS
        }
    return params


def _check_coef(path, coef: torch.Tensor) -> None:
    """The coefficients are float32 / float64 and finite, or the file is refused by name."""
    if coef.dtype not in COEF_DTYPES:
        raise ModelFileError(
            f"{path}: tensor 'coef' has dtype {str(coef.dtype).removeprefix('torch.')}; a "
            "model's coefficients are float32 or float64"
        )
    bad = int((~torch.isfinite(coef)).sum())
    if bad:
        raise ModelFileError(
            f"{path}: tensor 'coef' holds {bad} non-finite value(s) (NaN or inf); such a "
            "model predicts nothing useful and is not loaded"
        )


def _attribute_name(name) -> bool:
    return isinstance(name, str) and name.endswith("_") and not name.startswith("_")


def _array_attributes(tensors: dict, attrs: dict) -> dict:
    """The ``attributes/<name>`` tensors as numpy arrays (float16 / 32 / 64, any shape)."""
    out = {}
    for key, t in tensors.items():
        if not key.startswith(ATTRIBUTE_TENSOR):
            continue
        name = key.removeprefix(ATTRIBUTE_TENSOR)
        if not _attribute_name(name) or name in _FROM_TENSORS or name in attrs:
            raise ValueError(f"tensor {key!r} does not name a fitted attribute of its own")
        if str(t.dtype).removeprefix("torch.") not in _FLOAT_ARRAYS:
            raise ValueError(f"tensor {key!r} is not a floating-point array")
        out[name] = t.cpu().numpy()
    return out


def _rebuild(path, cls, doc, tensors, target: torch.device):
    params = decode(doc.get("params", {}), where="params")
    if not isinstance(params, dict):
        raise ValueError("params is not an object")
    known = cls().get_params(deep=False)
    unknown = sorted(set(params) - set(known))
    if unknown:
        raise ModelFileError(
            f"{path}: parameters {unknown} are unknown to {cls.__name__} in this torchlogit "
            f"({__version__}); the file was written by torchlogit {doc.get('library_version')}"
        )
    params = _sanitise_params(params, known, target)
    fitted = doc.get("fitted")
    if not isinstance(fitted, bool):
        raise ValueError(f"fitted is {fitted!r}, not true or false")
    if not fitted:
        if tensors or doc.get("attributes"):
            raise ValueError("an unfitted model holds tensors or fitted attributes")
        model = cls(**params)
        model._validate_params()
        return model
    model = cls(**params)
    model._validate_params()  # scikit-learn's declared constraints: types and ranges
    attrs = decode(doc.get("attributes", {}), where="attributes")
    if not isinstance(attrs, dict) or not all(_attribute_name(k) for k in attrs):
        raise ValueError("attributes must be an object of fitted-attribute names")
    attrs.update(_array_attributes(tensors, attrs))
    coef = tensors.get("coef")
    classes = attrs.get("classes_")
    n_features = attrs.get("n_features_in_")
    if coef is None or not isinstance(classes, np.ndarray) or not isinstance(n_features, int):
        raise ValueError("a fitted model needs coef, classes_ and n_features_in_")
    m = 1 if len(classes) == 2 else len(classes)
    p = n_features + int(bool(params.get("fit_intercept", True)))
    if classes.ndim != 1 or len(classes) < 2 or tuple(coef.shape) != (m, p):
        raise ValueError(
            f"coef has shape {tuple(coef.shape)} but {len(classes)} classes and "
            f"{n_features} features need ({m}, {p})"
        )
    _check_coef(path, coef)
    if not np.array_equal(np.unique(classes), classes):
        raise ValueError("classes_ must be sorted and distinct (as np.unique gives them)")
    names = attrs.get("feature_names_in_")
    if names is not None and (
        not isinstance(names, np.ndarray)
        or names.shape != (n_features,)
        or not all(isinstance(v, str) for v in names.tolist())
        or len(set(names.tolist())) != n_features
    ):
        raise ValueError(f"feature_names_in_ must hold {n_features} names (distinct strings)")
    for name, value in attrs.items():
        setattr(model, name, value)
    history = {}
    for key, t in tensors.items():
        if key.startswith("history/"):
            if t.dim() != 1 or t.dtype not in (torch.int64, torch.float64):
                raise ValueError(f"tensor {key!r} is not a list of numbers")
            history[key.removeprefix("history/")] = t.tolist()
    return _restore_fitted(model, coef.to(target), history)


def load(path, *, device=None):
    """Read a model written by :func:`save`; nothing in the file is executed.

    ``device``: where the coefficients go (``"cpu"``, ``"cuda"``, ``"cuda:N"``, ``"auto"``);
    ``None`` keeps the device the model was fitted on, or the CPU when that device is not
    available here (with a warning). The loaded model predicts bit-identically.

    The parameters are those saved, except what a file must not decide for a later refit:
    ``checkpoint_dir``, ``distributed`` and ``verbose`` get their defaults (``None``,
    ``"auto"``, ``0``); a ``device`` other than ``None`` / ``"auto"`` becomes the device the
    coefficients were loaded on; ``solver_options`` lose ``callback``, ``checkpoint`` and
    ``verbose``. (:func:`read_metadata` shows the parameters as saved.)

    Raises :class:`ModelFileError` for a path that is not a regular file (a FIFO, a device,
    a directory), and for a file that is not a torchlogit model, truncated, modified after
    saving, from a newer format version, naming an unknown class, holding values that would
    decode to more memory than its size allows, or coefficients that are not finite or not
    float32 / float64.
    """
    doc, tensors = read_container(path)
    _check_version(path, doc)
    name = doc.get("class")
    cls = _model_classes().get(name) if isinstance(name, str) else None
    if cls is None:
        raise ModelFileError(
            f"{path}: names the class {doc.get('class')!r}, which torchlogit does not load "
            f"(known: {sorted(_model_classes())})"
        )
    if device is not None:
        from ..data import resolve_device

        target = resolve_device(device)  # the caller's mistake: its own ValueError
    else:
        try:
            target = _default_device(path, str(doc.get("device", "cpu")))
        except RuntimeError:
            raise ModelFileError(f"{path}: corrupted: device {doc.get('device')!r}") from None
    try:
        return _rebuild(path, cls, doc, tensors, target)
    except ModelFileError:
        raise
    except (ValueError, TypeError, RuntimeError) as exc:
        raise ModelFileError(f"{path}: corrupted model ({exc})") from None

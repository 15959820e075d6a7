"""Plain values <-> JSON, with a small closed set of tagged types and nothing executable.

JSON's own types pass through (dict keys must then be strings); everything else is one of
these tagged objects, each with exactly one key:

- ``{"__dict__": [[key, value], ...]}``  a dict whose keys are not all strings, or that
  uses a tag name as a key
- ``{"__float__": "nan" | "inf" | "-inf"}``  a non-finite float
- ``{"__tuple__": [...]}``
- ``{"__ndarray__": {"dtype": "<i8", "shape": [...], "values": [...]}}``  kinds b, i, u,
  f, U and O (object arrays of str / int / float / bool only)
- ``{"__torch_dtype__": "float32"}``, ``{"__numpy_type__": "float64"}``,
  ``{"__torch_device__": "cuda:0"}``

:func:`decode` accepts exactly these and raises ``ValueError`` on anything else.
"""

from __future__ import annotations

import math

import numpy as np
import torch

_TAGS = (
    "__dict__",
    "__float__",
    "__tuple__",
    "__ndarray__",
    "__torch_dtype__",
    "__numpy_type__",
    "__torch_device__",
)
_TORCH_DTYPES = {
    str(d).removeprefix("torch."): d
    for d in (torch.float16, torch.bfloat16, torch.float32, torch.float64)
}
_NUMPY_TYPES = {"float16", "float32", "float64", "int32", "int64", "bool_"}
_ARRAY_KINDS = set("biufUO")


class NotEncodable(TypeError):
    """The value has no JSON form here (a function, an arbitrary object, ...)."""


def _encode_float(x: float):
    if math.isfinite(x):
        return x
    return {"__float__": "nan" if math.isnan(x) else ("inf" if x > 0 else "-inf")}


def _encode_array(a: np.ndarray):
    if a.dtype.kind not in _ARRAY_KINDS:
        raise NotEncodable(f"arrays of dtype {a.dtype} are not stored")
    values = [encode(v) for v in a.reshape(-1).tolist()]
    if a.dtype.kind == "O" and not all(
        isinstance(v, (str, int, float, bool)) for v in a.reshape(-1).tolist()
    ):
        raise NotEncodable("object arrays are stored only when they hold str / int / float / bool")
    return {"__ndarray__": {"dtype": a.dtype.str, "shape": list(a.shape), "values": values}}


def encode(value):
    """The JSON form of ``value``; raises :class:`NotEncodable` when it has none."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, np.integer)) and not isinstance(value, np.bool_):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, (float, np.floating)):
        return _encode_float(float(value))
    if isinstance(value, np.ndarray):
        return _encode_array(value)
    if isinstance(value, list):
        return [encode(v) for v in value]
    if isinstance(value, tuple):
        return {"__tuple__": [encode(v) for v in value]}
    if isinstance(value, dict):
        if all(isinstance(k, str) and k not in _TAGS for k in value):
            return {k: encode(v) for k, v in value.items()}
        return {"__dict__": [[encode(k), encode(v)] for k, v in value.items()]}
    if isinstance(value, torch.dtype):
        name = str(value).removeprefix("torch.")
        if name in _TORCH_DTYPES:
            return {"__torch_dtype__": name}
    if isinstance(value, torch.device):
        return {"__torch_device__": str(value)}
    if isinstance(value, type) and issubclass(value, np.generic):
        name = value.__name__
        if name in _NUMPY_TYPES:
            return {"__numpy_type__": name}
    raise NotEncodable(f"{type(value).__name__} values are not stored")


def _decode_array(spec):
    if not isinstance(spec, dict) or set(spec) != {"dtype", "shape", "values"}:
        raise ValueError("malformed __ndarray__")
    dtype = np.dtype(str(spec["dtype"]))
    if dtype.kind not in _ARRAY_KINDS or dtype.hasobject and dtype.kind != "O":
        raise ValueError(f"array dtype {dtype} is not allowed")
    shape = [int(s) for s in spec["shape"]]
    values = [decode(v) for v in spec["values"]]
    if any(s < 0 for s in shape) or math.prod(shape) != len(values):
        raise ValueError("array shape does not match its values")
    if dtype.kind == "O":
        if not all(isinstance(v, (str, int, float, bool)) for v in values):
            raise ValueError("object arrays may hold only str / int / float / bool")
        out = np.empty(len(values), dtype=object)
        out[:] = values
        return out.reshape(shape)
    return np.array(values, dtype=dtype).reshape(shape)


def decode(obj):
    """Inverse of :func:`encode`; ``ValueError`` on anything :func:`encode` cannot produce."""
    if obj is None or isinstance(obj, (bool, str, int)):
        return obj
    if isinstance(obj, float):
        return obj
    if isinstance(obj, list):
        return [decode(v) for v in obj]
    if not isinstance(obj, dict):
        raise ValueError(f"unexpected JSON value of type {type(obj).__name__}")
    tags = [k for k in obj if k in _TAGS]
    if not tags:
        return {k: decode(v) for k, v in obj.items()}
    if len(obj) != 1:
        raise ValueError(f"tagged value {tags[0]!r} has extra keys")
    tag, body = next(iter(obj.items()))
    if tag == "__float__":
        if body not in ("nan", "inf", "-inf"):
            raise ValueError(f"bad __float__ value {body!r}")
        return float(body)
    if tag == "__tuple__":
        if not isinstance(body, list):
            raise ValueError("__tuple__ must hold a list")
        return tuple(decode(v) for v in body)
    if tag == "__dict__":
        if not isinstance(body, list) or not all(
            isinstance(kv, list) and len(kv) == 2 for kv in body
        ):
            raise ValueError("__dict__ must hold [key, value] pairs")
        return {decode(k): decode(v) for k, v in body}
    if tag == "__ndarray__":
        return _decode_array(body)
    if tag == "__torch_dtype__":
        if body not in _TORCH_DTYPES:
            raise ValueError(f"unknown torch dtype {body!r}")
        return _TORCH_DTYPES[body]
    if tag == "__numpy_type__":
        if body not in _NUMPY_TYPES:
            raise ValueError(f"unknown numpy type {body!r}")
        return getattr(np, body)
    if not isinstance(body, str):
        raise ValueError("__torch_device__ must be a string")
    return torch.device(body)

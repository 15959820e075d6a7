"""Plain values <-> JSON, with a small closed set of tagged types and nothing executable.

JSON's own types pass through (dict keys must then be strings); everything else is one of
these tagged objects, each with exactly one key:

- ``{"__dict__": [[key, value], ...]}``  a dict whose keys are not all strings, or that
  uses a tag name as a key
- ``{"__float__": "nan" | "inf" | "-inf"}``  a non-finite float
- ``{"__tuple__": [...]}``
- ``{"__ndarray__": {"dtype": "<i8", "shape": [...], "values": [...]}}``  one of the dtypes
  of :data:`ARRAY_DTYPES` (bool, int8-64, uint8-64, float16-64, unicode of at most
  :data:`MAX_STR_WIDTH` characters, and object arrays of str / int / float / bool / None,
  e.g. ``LogisticRegressionCV.l1_ratios_ = [None]``)
- ``{"__torch_dtype__": "float32"}``, ``{"__numpy_type__": "float64"}``,
  ``{"__torch_device__": "cuda:0"}``

:func:`decode` accepts exactly these and raises ``ValueError`` on anything else, naming
where in the document the bad value is. It is bounded: a JSON document of ``n`` bytes never
decodes to more than :func:`decoded_bytes_limit` ``(n)`` bytes of arrays, and the sizes are
checked before anything is allocated, so a small file cannot ask for a huge array (a 60-item
array of dtype ``<U100000000`` would be 22 GiB).
"""

from __future__ import annotations

import json
import math
import re

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

#: The array dtypes a file may hold, as ``numpy.dtype.str`` spells them (any byte order).
ARRAY_DTYPES = "bool (b1), int (i1 i2 i4 i8), uint (u1 u2 u4 u8), float (f2 f4 f8), U<n>, O"
_ARRAY_DTYPE = re.compile(r"[<>|=]?(?:b1|[iu][1248]|f[248]|U[0-9]{1,10}|O)")
#: The widest unicode item (characters) stored or read: 4 MiB per item.
MAX_STR_WIDTH = 2**20
#: Arrays decoded from ``n`` bytes of JSON take at most ``DECODE_RATIO * n + DECODE_FLOOR``
#: bytes (numbers: <= 8 bytes per JSON value of >= 2 bytes; strings: the widest of them times
#: their count, which the floor covers for any real model).
DECODE_RATIO = 16
DECODE_FLOOR = 64 * 2**20


def decoded_bytes_limit(json_bytes: int) -> int:
    """The most bytes of arrays :func:`decode` builds from ``json_bytes`` bytes of JSON."""
    return DECODE_RATIO * json_bytes + DECODE_FLOOR


class NotEncodable(TypeError):
    """The value has no JSON form here (a function, an arbitrary object, ...)."""


def _encode_float(x: float):
    if math.isfinite(x):
        return x
    return {"__float__": "nan" if math.isnan(x) else ("inf" if x > 0 else "-inf")}


def _encode_array(a: np.ndarray):
    if not _ARRAY_DTYPE.fullmatch(a.dtype.str):
        raise NotEncodable(f"arrays of dtype {a.dtype} are not stored")
    if a.dtype.kind == "U" and a.dtype.itemsize // 4 > MAX_STR_WIDTH:
        raise NotEncodable(f"strings wider than {MAX_STR_WIDTH} characters are not stored")
    values = [encode(v) for v in a.reshape(-1).tolist()]
    if a.dtype.kind == "O" and not all(
        v is None or isinstance(v, (str, int, float, bool)) for v in a.reshape(-1).tolist()
    ):
        raise NotEncodable(
            "object arrays are stored only when they hold str / int / float / bool / None"
        )
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
    if isinstance(value, torch.Tensor):  # an attribute fitted under array-API dispatch
        return _encode_array(value.detach().cpu().numpy())
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


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


# What the items of an array of each dtype kind may be (after decoding "__float__").
_ITEM_CHECKS = {
    "b": lambda v: isinstance(v, bool),
    "i": _is_int,
    "u": _is_int,
    "f": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "U": lambda v: isinstance(v, str),
    "O": lambda v: v is None or isinstance(v, (str, int, float, bool)),
}


class _Decoder:
    """One decoding pass: the budget of array bytes left, shared by the whole document."""

    def __init__(self, max_bytes: int):
        self.left = max_bytes

    def value(self, obj, where: str):
        if obj is None or isinstance(obj, (bool, str, int, float)):
            return obj
        if isinstance(obj, list):
            return [self.value(v, f"{where}[{i}]") for i, v in enumerate(obj)]
        if not isinstance(obj, dict):
            raise ValueError(f"{where}: unexpected JSON value of type {type(obj).__name__}")
        tags = [k for k in obj if k in _TAGS]
        if not tags:
            return {k: self.value(v, f"{where}[{k!r}]") for k, v in obj.items()}
        if len(obj) != 1:
            raise ValueError(f"{where}: tagged value {tags[0]!r} has extra keys")
        tag, body = next(iter(obj.items()))
        if tag == "__ndarray__":
            return self.array(body, where)
        if tag == "__tuple__":
            if not isinstance(body, list):
                raise ValueError(f"{where}: __tuple__ must hold a list")
            return tuple(self.value(v, f"{where}[{i}]") for i, v in enumerate(body))
        if tag == "__dict__":
            return self.pairs(body, where)
        return _decode_leaf(tag, body, where)

    def pairs(self, body, where: str) -> dict:
        if not isinstance(body, list) or not all(
            isinstance(kv, list) and len(kv) == 2 for kv in body
        ):
            raise ValueError(f"{where}: __dict__ must hold [key, value] pairs")
        out = {}
        for k, v in body:
            key = self.value(k, where)
            try:
                hash(key)
            except TypeError:
                raise ValueError(f"{where}: a __dict__ key of type {type(key).__name__}") from None
            out[key] = self.value(v, f"{where}[{key!r}]")
        return out

    def array(self, spec, where: str) -> np.ndarray:
        if not isinstance(spec, dict) or set(spec) != {"dtype", "shape", "values"}:
            raise ValueError(f"{where}: malformed __ndarray__")
        name, shape, values = spec["dtype"], spec["shape"], spec["values"]
        if not isinstance(name, str) or not _ARRAY_DTYPE.fullmatch(name):
            raise ValueError(
                f"{where}: array dtype {name!r} is not allowed (allowed: {ARRAY_DTYPES})"
            )
        dtype = np.dtype(name)
        if dtype.kind == "U" and dtype.itemsize // 4 > MAX_STR_WIDTH:
            raise ValueError(
                f"{where}: array dtype {name} holds strings wider than the limit of "
                f"{MAX_STR_WIDTH} characters"
            )
        if (
            not isinstance(shape, list)
            or len(shape) > 32
            or not all(_is_int(s) and s >= 0 for s in shape)
        ):
            raise ValueError(f"{where}: array shape {shape!r} is not a list of sizes")
        if not isinstance(values, list) or math.prod(shape) != len(values):
            raise ValueError(f"{where}: array shape {shape} does not match its values")
        items = [_array_item(v, where) for v in values]
        if not all(map(_ITEM_CHECKS[dtype.kind], items)):
            raise ValueError(f"{where}: an array of dtype {name} holds values of another type")
        if dtype.kind == "U" and items and max(map(len, items)) > dtype.itemsize // 4:
            raise ValueError(f"{where}: an array of dtype {name} holds longer strings")
        nbytes = len(items) * (8 if dtype.kind == "O" else dtype.itemsize)
        if nbytes > self.left:
            raise ValueError(
                f"{where}: an array of dtype {name} and shape {shape} would take {nbytes} "
                f"bytes, more than this document may decode to ({self.left} bytes left)"
            )
        self.left -= nbytes
        if dtype.kind == "O":
            out = np.empty(len(items), dtype=object)
            out[:] = items
            return out.reshape(shape)
        try:
            return np.array(items, dtype=dtype).reshape(shape)
        except OverflowError:
            raise ValueError(f"{where}: a value is out of range for dtype {name}") from None


def _array_item(v, where: str):
    """An array item: a JSON scalar, or a tagged non-finite float (``null`` only in object
    arrays, checked by the caller)."""
    if isinstance(v, dict) and set(v) == {"__float__"}:
        return _decode_leaf("__float__", v["__float__"], where)
    if isinstance(v, (list, dict)):
        raise ValueError(
            f"{where}: array items must be numbers, booleans or strings (or null in an object "
            "array)"
        )
    return v


def _decode_leaf(tag: str, body, where: str):
    if tag == "__float__":
        if body not in ("nan", "inf", "-inf"):
            raise ValueError(f"{where}: bad __float__ value {body!r}")
        return float(body)
    if tag == "__torch_dtype__":
        if not isinstance(body, str) or body not in _TORCH_DTYPES:
            raise ValueError(f"{where}: unknown torch dtype {body!r}")
        return _TORCH_DTYPES[body]
    if tag == "__numpy_type__":
        if not isinstance(body, str) or body not in _NUMPY_TYPES:
            raise ValueError(f"{where}: unknown numpy type {body!r}")
        return getattr(np, body)
    if not isinstance(body, str):
        raise ValueError(f"{where}: __torch_device__ must be a string")
    try:
        return torch.device(body)
    except RuntimeError:
        raise ValueError(f"{where}: {body!r} is not a device") from None


def decode(obj, *, where: str = "document", max_bytes: int | None = None):
    """Inverse of :func:`encode`; ``ValueError`` on anything :func:`encode` cannot produce.

    ``obj`` is parsed JSON. Its arrays may take at most ``max_bytes`` bytes in all (default:
    :func:`decoded_bytes_limit` of ``obj``'s JSON size); sizes are checked before allocating.
    ``where`` names ``obj`` in error messages (e.g. ``"attributes"``).
    """
    if max_bytes is None:
        try:
            size = len(json.dumps(obj, separators=(",", ":")))
        except (TypeError, ValueError):
            raise ValueError(f"{where}: not parsed JSON") from None
        max_bytes = decoded_bytes_limit(size)
    return _Decoder(max_bytes).value(obj, where)

"""Random damage to model files (issue #13's fuzz test; run by test_hardening_model_files.py
in a child process under an address-space limit).

Every damaged file must end in one of two ways:

- a :class:`~torchlogit.io.ModelFileError` whose message starts with the file's path, or
- a model whose coefficients are finite float32 / float64 of the right shape, whose
  predictions on data of its width are finite probabilities summing to 1 with labels among
  ``classes_``, and whose side-effecting parameters are the defaults.

Anything else (another exception type, an error that does not name the file, a case running
longer than :data:`CASE_SECONDS`) is a failure, reported with the case's description.

The damage, each kind drawn at random with a fixed seed from the golden files:

- ``bytes``: 1-4 bytes changed, half of them inside the header;
- ``cut`` / ``grow``: truncated at a random offset, or random bytes appended;
- ``length``: the header-length field set to a nearby or a huge value;
- ``entry``: a safetensors header entry's dtype, shape or byte range changed;
- ``json``: a value anywhere in torchlogit's document replaced (numbers, strings, lists,
  dicts, tagged values), the checksum recomputed;
- ``array``: an ``__ndarray__``'s dtype, shape or values changed (huge unicode widths,
  unknown dtypes, big shapes, nested or out-of-range values), the checksum recomputed;
- ``tensor``: a tensor's dtype, shape or values changed (float16, NaN, inf, 2-D history,
  dropped or extra tensors), the checksum recomputed.
"""

from __future__ import annotations

import copy
import json
import signal
import time
import warnings
from pathlib import Path

import numpy as np
import torch

import torchlogit
from torchlogit.io import ModelFileError
from torchlogit.io._format import read_container, write_container

CASE_SECONDS = 20
GOLDEN = ("binary", "multinomial", "l1_named", "float32")

_VALUES = [
    None, True, False, 0, -1, 1, 2, 3, 2**31, 2**63, 2**70, -(2**63), 0.5, -0.0, 1e308,
    float("inf"), "", "a", "auto", "cpu", "cuda:9", "/tmp/planted", "l1", "float16", "x" * 300,
    [], [1], [[[]]], {}, {"a": 1}, {"__float__": "nan"}, {"__float__": "1e9"},
    {"__tuple__": [1, 2]}, {"__tuple__": 5}, {"__dict__": [[1, 2]]}, {"__dict__": [[[1], 2]]},
    {"__torch_dtype__": "float16"}, {"__torch_dtype__": "int8"}, {"__numpy_type__": "object"},
    {"__torch_device__": "quantum:3"}, {"__torch_device__": "cpu"}, {"__ndarray__": None},
    {"__ndarray__": {"dtype": "<U100000000", "shape": [60], "values": ["a"] * 60}},
    {"__ndarray__": {"dtype": "<i8", "shape": [10**12], "values": [1]}},
    {"__ndarray__": {"dtype": "|O", "shape": [2], "values": ["b", "a"]}},
    {"__ndarray__": {"dtype": "<f8", "shape": [2], "values": [0.0, 1.0]}},
    {"__builtin__": "eval"},
]  # fmt: skip
_DTYPES = [
    "<U100000000", "<U1048576", "<U0", "<U1", "V8", "<c16", "<M8[ns]", "|O", "O", "<f2", "<f4",
    ">f8", "|b1", "<i2", "|u1", ">i8", "<f16", "|S4", "", "(2,)<i4", 5, None, ["<i8"],
]  # fmt: skip
_SHAPES = [[10**12], [-1], [], [0], [1], [2], [3], [2, 1], [1, 2], "2", [True], [2.0], None,
           [1] * 40]  # fmt: skip
_TENSOR_DTYPES = [torch.float16, torch.bfloat16, torch.float32, torch.float64, torch.int64,
                  torch.int8, torch.bool, torch.uint8]  # fmt: skip
_ENTRY_DTYPES = ["F64", "F32", "F16", "BF16", "I64", "BOOL", "PYOBJ", "F8_E4M3", 3, None]


class _Timeout(Exception):
    pass


def _on_alarm(signum, frame):
    raise _Timeout


def _nodes(obj, path=()):
    """Every (path, value) in a JSON document."""
    yield path, obj
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _nodes(v, (*path, k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from _nodes(v, (*path, i))


def _set(doc, path, value):
    node = doc
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value


def _pick(rng, seq):
    return copy.deepcopy(seq[int(rng.integers(len(seq)))])


def _mutate_json(rng, doc, tensors):
    paths = [p for p, _ in _nodes(doc) if p and p[0] != "sha256"]
    path = paths[int(rng.integers(len(paths)))]
    _set(doc, path, _pick(rng, _VALUES))
    return f"json {list(path)}"


def _mutate_array(rng, doc, tensors):
    arrays = [
        p
        for p, v in _nodes(doc)
        if isinstance(v, dict)
        and isinstance(v.get("__ndarray__"), dict)
        and isinstance(v["__ndarray__"].get("values"), list)
    ]
    if not arrays:
        return _mutate_json(rng, doc, tensors)
    path = arrays[int(rng.integers(len(arrays)))]
    spec = doc
    for key in path:
        spec = spec[key]
    spec = spec["__ndarray__"]
    what = ["dtype", "shape", "values", "values"][int(rng.integers(4))]
    if what == "dtype":
        spec["dtype"] = _pick(rng, _DTYPES)
    elif what == "shape":
        spec["shape"] = _pick(rng, _SHAPES)
    else:
        values = spec["values"]
        choice = int(rng.integers(4))
        if choice == 0 and values:
            values.pop()
        elif choice == 1:
            values.append(values[0] if values else 1)
        elif values:
            values[int(rng.integers(len(values)))] = _pick(rng, _VALUES)
    return f"array {list(path)} {what} -> {spec[what]!r:.80}"


def _mutate_tensor(rng, doc, tensors):
    name = sorted(tensors)[int(rng.integers(len(tensors)))]
    t = tensors[name]
    choice = int(rng.integers(6))
    if choice == 0:
        tensors[name] = t.to(_pick(rng, _TENSOR_DTYPES))
    elif choice == 1 and t.is_floating_point() and t.numel():
        t = t.clone()
        t.view(-1)[int(rng.integers(t.numel()))] = _pick(rng, [np.nan, np.inf, -np.inf, 1e300])
        tensors[name] = t
    elif choice == 2:
        tensors[name] = t.reshape(1, -1) if t.dim() == 1 else t.reshape(-1)
    elif choice == 3:
        tensors[name] = t[..., : max(0, t.shape[-1] - 1)].contiguous() if t.dim() else t
    elif choice == 4:
        del tensors[name]
    else:
        tensors[f"history/{name.split('/')[-1]}x"] = torch.zeros(3, dtype=torch.float32)
    return f"tensor {name} change {choice}"


def _edit_header(raw: bytes, rng) -> tuple[bytes, str]:
    n = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8 : 8 + n])
    names = [k for k in header if k != "__metadata__"]
    name = names[int(rng.integers(len(names)))]
    field = ["dtype", "shape", "data_offsets"][int(rng.integers(3))]
    if field == "dtype":
        header[name]["dtype"] = _pick(rng, _ENTRY_DTYPES)
    elif field == "shape":
        header[name]["shape"] = _pick(rng, _SHAPES)
    else:
        b, e = header[name]["data_offsets"]
        header[name]["data_offsets"] = _pick(rng, [[b, e + 8], [b + 8, e], [e, b], [0, 2**64],
                                                   [-8, e], [b, "e"], [b]])  # fmt: skip
    blob = json.dumps(header).encode()
    return len(blob).to_bytes(8, "little") + blob + raw[8 + n :], f"entry {name} {field}"


def _damage_bytes(raw: bytes, rng) -> tuple[bytes, str]:
    kind = ["bytes", "bytes", "cut", "grow", "length", "entry"][int(rng.integers(6))]
    n = int.from_bytes(raw[:8], "little")
    if kind == "bytes":
        out = bytearray(raw)
        for _ in range(int(rng.integers(1, 5))):
            i = int(rng.integers(8, 8 + n)) if rng.random() < 0.5 else int(rng.integers(len(raw)))
            out[i] = (out[i] + int(rng.integers(1, 256))) % 256
        return bytes(out), "bytes"
    if kind == "cut":
        cut = int(rng.integers(len(raw)))
        return raw[:cut], f"cut at {cut}"
    if kind == "grow":
        return raw + rng.bytes(int(rng.integers(1, 64))), "grow"
    if kind == "length":
        value = _pick(rng, [0, 1, n - 1, n + 1, n + 8, len(raw), 2**63, 2**64 - 1, 16 * 2**20])
        return value.to_bytes(8, "little") + raw[8:], f"length {value}"
    return _edit_header(raw, rng)


def _check_model(model, data):
    assert model.checkpoint_dir is None and model.verbose == 0 and model.distributed == "auto"
    coef = model._coef
    assert coef.dtype in (torch.float32, torch.float64), coef.dtype
    assert torch.isfinite(coef).all()
    k = len(model.classes_)
    assert coef.shape == (1 if k == 2 else k, model.n_features_in_ + int(model.fit_intercept))
    X = data[:, : model.n_features_in_].copy()
    names = getattr(model, "feature_names_in_", None)
    if names is not None:
        import pandas as pd

        X = pd.DataFrame(X, columns=list(names))
    proba = model.predict_proba(X)
    assert np.isfinite(proba).all() and np.allclose(proba.sum(axis=1), 1.0, atol=1e-5)
    assert np.isin(model.predict(X), model.classes_).all()


def run(golden_dir, work_dir, *, n_cases: int, seed: int) -> dict:
    """Damage ``n_cases`` files; return counts and the failures (with their descriptions)."""
    rng = np.random.default_rng(seed)
    seeds = {name: Path(golden_dir, f"{name}.safetensors") for name in GOLDEN}
    raws = {name: p.read_bytes() for name, p in seeds.items()}
    data = np.random.default_rng(0).standard_normal((7, 64))
    out = {"cases": 0, "errors": 0, "models": 0, "failures": [], "kinds": {}}
    signal.signal(signal.SIGALRM, _on_alarm)
    start = time.perf_counter()
    for case in range(n_cases):
        name = GOLDEN[case % len(GOLDEN)]
        path = Path(work_dir, f"case{case}.safetensors")
        if rng.random() < 0.4:
            blob, what = _damage_bytes(raws[name], rng)
            path.write_bytes(blob)
        else:
            doc, tensors = read_container(seeds[name])
            mutate = [_mutate_json, _mutate_array, _mutate_array, _mutate_tensor]
            try:
                what = mutate[int(rng.integers(len(mutate)))](rng, doc, tensors)
                if rng.random() < 0.3 and tensors:  # two kinds of damage at once
                    what += " + " + mutate[int(rng.integers(len(mutate)))](rng, doc, tensors)
                write_container(path, doc, tensors)
            except (ValueError, TypeError, RuntimeError) as exc:
                # the damage itself cannot be made (a value without JSON form, a NaN that
                # float16 cannot hold): damage the bytes instead
                blob, what = _damage_bytes(raws[name], rng)
                path.write_bytes(blob)
                what += f" (edit not writable: {type(exc).__name__})"
        label = f"case {case} ({name}): {what}"
        kind = what.split()[0]
        out["kinds"][kind] = out["kinds"].get(kind, 0) + 1
        out["cases"] += 1
        signal.alarm(CASE_SECONDS)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                model = torchlogit.load(path)
                _check_model(model, data)
            out["models"] += 1
        except ModelFileError as exc:
            if str(exc).startswith(f"{path}: "):
                out["errors"] += 1
            else:
                out["failures"].append(f"{label}: error does not name the file: {exc}")
        except _Timeout:
            out["failures"].append(f"{label}: ran longer than {CASE_SECONDS} s")
        except BaseException as exc:  # noqa: BLE001 - every other outcome is the failure
            out["failures"].append(f"{label}: {type(exc).__name__}: {str(exc)[:300]}")
        finally:
            signal.alarm(0)
        path.unlink(missing_ok=True)
    out["seconds"] = round(time.perf_counter() - start, 2)
    return out

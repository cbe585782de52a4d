"""``FleetState`` to and from JSON, whole (the decision memory included).

Values are encoded with their type so that a reload gives back an equal value:
dataclasses as ``{"$dc": "module:Name", ...fields}`` and named tuples as ``{"$nt": ..., "v":
[...]}`` (only classes of fleetscale's own packages are ever rebuilt; a named tuple with a
``from_saved`` classmethod is rebuilt through it, which brings a value saved by an earlier
release to the current form: ``PredictiveState``'s float64 arrays become float32), datetimes as
``{"$dt": ISO 8601}``, enums as ``{"$enum":
"module:Name", "v": value}``, tuples as lists, mappings as ``{"$map": [[k, v], ...]}``,
frozensets as ``{"$set": [...]}``, numeric numpy arrays as ``{"$nd": "base64", "dtype": ...,
"shape": [...], "z": bool}`` (the little-endian bytes, zlib-compressed when the array has
unknown (NaN) slots: a forecast's ring of bucket peaks is mostly NaN for weeks and shrinks
about 7 times; as bytes, a 6,048-slot array encodes 5-10 times faster than as a JSON list); an
earlier list form ``{"$nd": [...], "dtype": ...}`` still loads; NaN and infinities as JSON's
extended literals.
"""

from __future__ import annotations

import base64
import dataclasses
import enum
import functools
import importlib
import json
import zlib
from collections.abc import Mapping
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import Any

import numpy as np

from fleetscale.state import FleetState

FORMAT = 1
#: the largest array a saved state may hold, in bytes (a 3-week ring of 1-minute buckets is 240 KB)
MAX_ARRAY_BYTES = 64 * 1024 * 1024
_NUMERIC = frozenset("fiub")
_PLAIN = frozenset({bool, int, float, str})
_ALLOWED = "fleetscale."


def _name(cls: type) -> str:
    return f"{cls.__module__}:{cls.__qualname__}"


def _class(name: str) -> type:
    module, _, qual = name.partition(":")
    if not module.startswith(_ALLOWED):
        raise ValueError(f"refusing to rebuild {name!r}: not a fleetscale type")
    try:
        obj: Any = importlib.import_module(module)
        for part in qual.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError):
        raise ValueError(f"unknown type {name!r}") from None
    if not isinstance(obj, type):
        raise ValueError(f"{name!r} is not a type")
    return obj


@functools.cache
def _layout(cls: type) -> tuple[str, tuple[str, ...]]:
    """A dataclass's ``$dc`` name and the fields it is rebuilt from (looked up once per class:
    a state is encoded at every save, a replay input at every cycle)."""
    return _name(cls), tuple(f.name for f in dataclasses.fields(cls) if f.init)


def encode(value: Any) -> Any:
    if value is None or type(value) in _PLAIN:  # exactly: a StrEnum is a str, an IntEnum an int
        return value
    if isinstance(value, enum.Enum):  # before str: a StrEnum is a str
        return {"$enum": _name(type(value)), "v": value.value}
    if isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, datetime):
        return {"$dt": value.isoformat()}
    if isinstance(value, timedelta):
        return {"$td": value.total_seconds()}
    cls: type = type(value)
    if hasattr(cls, "__dataclass_fields__") and not isinstance(value, type):
        name, fields = _layout(cls)
        out: dict[str, Any] = {"$dc": name}
        for f in fields:  # a derived field (``init=False``) is rebuilt by the constructor
            out[f] = encode(getattr(value, f))
        return out
    if isinstance(value, Mapping):
        return {"$map": [[encode(k), encode(v)] for k, v in value.items()]}
    if isinstance(value, frozenset | set):
        return {"$set": [encode(v) for v in sorted(value, key=repr)]}
    if isinstance(value, tuple) and hasattr(type(value), "_fields"):  # a NamedTuple
        return {"$nt": _name(type(value)), "v": [encode(v) for v in value]}
    if isinstance(value, tuple | list):
        return [encode(v) for v in value]
    if isinstance(value, np.ndarray):
        return _encode_array(value)
    raise ValueError(f"cannot encode a {type(value).__name__} in a state")


def _encode_array(value: np.ndarray[Any, Any]) -> dict[str, Any]:
    dtype = value.dtype
    if dtype.kind not in _NUMERIC:
        return {"$nd": value.tolist(), "dtype": str(dtype)}
    raw = np.ascontiguousarray(value, dtype=dtype.newbyteorder("<")).tobytes()
    packed = dtype.kind == "f" and bool(np.isnan(value).any())
    body = zlib.compress(raw, 1) if packed else raw
    return {"$nd": base64.b64encode(body).decode("ascii"), "dtype": dtype.name,
            "shape": list(value.shape), "z": packed}


def _decode_array(value: dict[str, Any]) -> np.ndarray[Any, Any]:
    try:
        dtype = np.dtype(str(value["dtype"]))
    except TypeError:
        raise ValueError(f"unknown array dtype {value.get('dtype')!r}") from None
    data = value["$nd"]
    if isinstance(data, list):  # the earlier list form
        return np.asarray(data, dtype=dtype)
    if dtype.kind not in _NUMERIC or not isinstance(data, str):
        raise ValueError("bad array in a saved state")
    shape = tuple(int(n) for n in value.get("shape", ()))
    size = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if any(n < 0 for n in shape) or size > MAX_ARRAY_BYTES:
        raise ValueError(f"array of shape {list(shape)} refused in a saved state")
    try:
        body = base64.b64decode(data, validate=True)
        if value.get("z"):
            inflate = zlib.decompressobj()
            body = inflate.decompress(body, size + 1)
    except (ValueError, zlib.error) as exc:
        raise ValueError(f"bad array in a saved state: {exc}") from None
    if len(body) != size:
        raise ValueError("bad array in a saved state: its size does not match its shape")
    return np.frombuffer(body, dtype=dtype.newbyteorder("<")).astype(dtype, copy=True).reshape(shape)


def decode(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(decode(v) for v in value)
    if not isinstance(value, dict):
        return value
    if "$dt" in value:
        return datetime.fromisoformat(value["$dt"])
    if "$td" in value:
        return timedelta(seconds=float(value["$td"]))
    if "$enum" in value:
        return _class(value["$enum"])(value["v"])
    if "$map" in value:
        return MappingProxyType({decode(k): decode(v) for k, v in value["$map"]})
    if "$nd" in value:
        array = _decode_array(value)
        array.flags.writeable = False  # a state's arrays are values: never changed in place
        return array
    if "$nt" in value:
        cls = _class(value["$nt"])
        build = getattr(cls, "from_saved", cls)  # a class may bring an earlier form up to date
        try:
            return build(*(decode(v) for v in value["v"]))
        except TypeError as exc:
            raise ValueError(f"cannot rebuild {value['$nt']}: {exc}") from None
    if "$set" in value:
        return frozenset(decode(v) for v in value["$set"])
    if "$dc" in value:
        cls = _class(value["$dc"])
        if not dataclasses.is_dataclass(cls):
            raise ValueError(f"{value['$dc']!r} is not a dataclass")
        kwargs = {k: decode(v) for k, v in value.items() if k != "$dc"}
        try:
            return cls(**kwargs)
        except TypeError as exc:
            raise ValueError(f"cannot rebuild {value['$dc']}: {exc}") from None
    raise ValueError("unexpected object in a saved state")


def state_to_json(state: FleetState) -> str:
    # the provider's last listing is not kept: the first cycle after a load lists afresh
    body = encode(dataclasses.replace(state, listed=()))
    return json.dumps({"format": FORMAT, "state": body}, separators=(",", ":"))


def state_from_json(text: str) -> FleetState:
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not JSON: {exc}") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise ValueError(f"unknown state format (expected {FORMAT})")
    state = decode(doc.get("state"))
    if not isinstance(state, FleetState):
        raise ValueError("not a fleet state")
    return state

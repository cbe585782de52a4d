"""``FleetState`` to and from JSON, whole (the decision memory included).

Values are encoded with their type so that a reload gives back an equal value:
dataclasses as ``{"$dc": "module:Name", ...fields}`` and named tuples as ``{"$nt": ..., "v":
[...]}`` (only classes of fleetscale's own packages are ever rebuilt), datetimes as
``{"$dt": ISO 8601}``, enums as ``{"$enum":
"module:Name", "v": value}``, tuples as lists, mappings as ``{"$map": [[k, v], ...]}``,
frozensets as ``{"$set": [...]}``, numpy arrays as ``{"$nd": [...], "dtype": ...}``; NaN and
infinities as JSON's extended literals.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import importlib
import json
from collections.abc import Mapping
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import Any

import numpy as np

from fleetscale.state import FleetState

FORMAT = 1
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
        return {"$nd": value.tolist(), "dtype": str(value.dtype)}
    raise ValueError(f"cannot encode a {type(value).__name__} in a state")


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
        array = np.asarray(value["$nd"], dtype=np.dtype(str(value["dtype"])))
        array.flags.writeable = False  # a state's arrays are values: never changed in place
        return array
    if "$nt" in value:
        cls = _class(value["$nt"])
        try:
            return cls(*(decode(v) for v in value["v"]))
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

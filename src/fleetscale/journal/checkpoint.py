"""A checkpoint of a pool's decision memory (``decide.Memory``) as JSON.

Only the governor's memory is restored (its fields are plain values: counters, datetimes,
``(datetime, int)`` pairs); policy memory is written for inspection but starts fresh after a
restart, since its shape belongs to each policy. An unreadable checkpoint raises ValueError;
the controller then starts from an empty memory.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime
from typing import Any

from fleetscale.decide import Memory
from fleetscale.governor.memory import GovernorMemory


def _encode(value: Any) -> Any:
    if isinstance(value, datetime):
        return {"$dt": value.isoformat()}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _encode(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict) or hasattr(value, "items"):
        return {str(k): _encode(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_encode(v) for v in value]
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return repr(value)


def _decode(value: Any) -> Any:
    if isinstance(value, dict):
        if set(value) == {"$dt"}:
            return datetime.fromisoformat(value["$dt"])
        return {k: _decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return tuple(_decode(v) for v in value)
    return value


def memory_to_json(memory: Memory) -> str:
    return json.dumps({"version": 1, "governor": _encode(memory.governor),
                       "policies": _encode(memory.policies)})


def memory_from_json(text: str) -> Memory:
    try:
        data = json.loads(text)
        fields = {f.name for f in dataclasses.fields(GovernorMemory)}
        gov = {k: _decode(v) for k, v in data["governor"].items() if k in fields}
        return Memory(governor=GovernorMemory(**gov))
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"unreadable memory checkpoint: {exc}") from exc

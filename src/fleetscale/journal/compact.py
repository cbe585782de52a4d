"""The compact JSON body of a journaled cycle, and its way back to ``CycleRecord.to_dict()``.

``encode(record)`` is what ``fs_cycles.record`` stores since the bounded journal:

- the row's own columns (``pool``, ``cycle_id``, ``started_at``, ``finished_at``, ``dry_run``)
  are left out;
- a field at its dataclass default (``Observation.error`` None, ``Instance.weight`` 1, a plan's
  empty ``launch``, ...) is left out, and so is ``Decision.direction`` (it follows from
  ``current`` and ``desired``);
- a string equal to the cycle's start (``Observation.at``, ``Decision.at``) is written ``@s``, one
  equal to the cycle id (``Plan.request_id``) ``@i``; a string that itself starts with ``@`` gets
  one more ``@`` in front;
- compact separators, a ``"v": 2`` marker.

So the body holds nothing that differs between two cycles that saw, decided and planned the same
thing: equal bodies are the test for "this cycle changed nothing", and one body serves every
cycle of a span (``decode`` with each cycle's id and times gives that cycle's record exactly).
A body without the marker is a row written before (the whole ``to_dict()``) and is read as it is.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import json
import types
import typing
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any

from fleetscale.journal.record import CycleRecord
from fleetscale.model import Decision, Direction

VERSION = 2
#: CycleRecord fields stored as columns of the row, not in the body
COLUMNS = ("pool", "cycle_id", "started_at", "finished_at", "dry_run")
START, CYCLE_ID = "@s", "@i"


def encode(record: CycleRecord, inputs_text: str | None = None) -> str:
    """The body of ``record``: no columns, no defaults, times relative to the cycle.
    ``inputs_text``: ``encode_inputs(record.inputs)``, when the caller kept it."""
    marks = {record.started_at.isoformat(): START, record.cycle_id: CYCLE_ID}
    body = {}
    for name, default in _fields_of(CycleRecord):
        v = getattr(record, name)
        if name not in COLUMNS and name != "inputs" and v != default:
            body[name] = _pack(v, marks)
    text = _dumps(body)
    if record.inputs is not None:
        inputs = inputs_text if inputs_text is not None else encode_inputs(record.inputs)
        text = f'{text[:-1]}{"," if body else ""}"inputs":{inputs}}}'
    return f'{text[:-1]}{"," if text != "{}" else ""}"v":{VERSION}}}'


def same_body(before: CycleRecord, body: str, record: CycleRecord) -> bool:
    """Whether ``encode(record)`` would be ``body``, the encoding of ``before`` (the same pool's
    previous cycle), told without encoding: a quiet cycle saw, decided and planned what the
    one before did, and its record differs only where the body writes marks (the readings' and
    the decision's time are the cycle's start, the plan's request id its cycle id), so the
    body of a run of quiet cycles is encoded once. Conservative: anything it cannot vouch for
    (a reading not taken at the start, a mark the body holds elsewhere, a string in the body
    equal to this cycle's start or id) answers False, and the caller encodes."""
    if (record.inputs is not before.inputs or record.outcome or record.errors or before.outcome
            or before.errors or record.instances != before.instances
            or record.proposals != before.proposals or record.steps != before.steps):
        return False
    start, first = record.started_at, before.started_at
    obs, old = record.observations, before.observations
    if len(obs) != len(old):
        return False
    for o, p in zip(obs, old, strict=True):
        if (o.at != start or p.at != first or o.value != p.value or o.source != p.source
                or o.metric != p.metric or o.instance_id != p.instance_id or o.error != p.error):
            return False
    d, e = record.decision, before.decision
    if (d is None) != (e is None) or (d is not None and e is not None and (
            d.at != start or e.at != first or d.current != e.current or d.desired != e.desired
            or d.reason != e.reason or d.pool != e.pool)):
        return False
    q, r = record.plan, before.plan
    if (q is None) != (r is None) or (q is not None and r is not None and (
            q.request_id != record.cycle_id or r.request_id != before.cycle_id
            or replace(q, request_id="") != replace(r, request_id=""))):
        return False
    return (body.count(f'"{START}"') == len(obs) + (d is not None)
            and body.count(f'"{CYCLE_ID}"') == (q is not None)
            and f'"{start.isoformat()}"' not in body and f'"{record.cycle_id}"' not in body)


def encode_inputs(inputs: Mapping[str, Any]) -> str:
    """The replay inputs' part of a body (no marks: the same text for equal inputs)."""
    text = _dumps(inputs)
    if '"@' in text:  # a string (or key) starting with "@": walk them
        text = _dumps(_pack(inputs, {}))
    return text


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)


def decode(body: str | Mapping[str, Any], *, pool: str, cycle_id: str, started_at: datetime,
           finished_at: datetime, dry_run: bool) -> dict[str, Any]:
    """The ``CycleRecord.to_dict()`` of the cycle ``cycle_id`` that started at ``started_at``."""
    doc = json.loads(body) if isinstance(body, str) else dict(body)
    if doc.get("v") != VERSION:
        return doc  # a row from before the compact body: the whole record already
    start = started_at.isoformat()
    marks = {START: start, CYCLE_ID: cycle_id}
    out = _unpack({k: v for k, v in doc.items() if k != "v"}, CycleRecord, marks)
    out |= {"pool": pool, "cycle_id": cycle_id, "started_at": start,
            "finished_at": finished_at.isoformat(), "dry_run": dry_run}  # in their places
    return out


# --- encoding ---------------------------------------------------------------------------
#
# A record is packed every cycle, so the walk is specialised: each dataclass's fields and
# defaults are looked up once per class (``_fields_of``), and the replay inputs (plain JSON
# already, ``journal/cycle_inputs.py``) go through ``json.dumps`` as they are unless a string in
# them starts with ``@`` (then they are walked like the rest). Marks (``@s``, ``@i``) are not
# applied inside the replay inputs: a mark only makes a body shorter, and an input equal to the
# cycle's start or id is rare (a provider's clock), while leaving them out keeps one encoding
# of equal inputs for every cycle.

_MISSING = object()


@functools.cache
def _fields_of(cls: type) -> tuple[tuple[str, Any], ...]:
    """``(name, default)`` of each field of a dataclass (``_MISSING``: no default)."""
    out = []
    for f in dataclasses.fields(cls):
        if f.default is not dataclasses.MISSING:
            default = f.default
        elif f.default_factory is not dataclasses.MISSING:
            default = f.default_factory()
        else:
            default = _MISSING
        out.append((f.name, default))
    return tuple(out)


def _pack(value: Any, marks: Mapping[str, str]) -> Any:
    if isinstance(value, str):
        return marks.get(value) or ("@" + value if value[:1] == "@" else value)
    if value is None or isinstance(value, int | float):  # bool is an int
        return value
    if isinstance(value, tuple | list | frozenset | set):
        return [_pack(v, marks) for v in value]
    cls: type = type(value)
    if hasattr(cls, "__dataclass_fields__") and not isinstance(value, type):
        out = {}
        for name, default in _fields_of(cls):
            v = getattr(value, name)
            if default is _MISSING or v != default:
                out[name] = _pack(v, marks)
        return out
    if isinstance(value, enum.Enum):
        return _pack(value.value, marks)
    if isinstance(value, datetime):
        return _pack(value.isoformat(), marks)
    if isinstance(value, Mapping):
        return {str(k): _pack(v, marks) for k, v in value.items()}
    return value


# --- decoding -------------------------------------------------------------------------


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _dataclass_of(hint: Any) -> type | None:
    """The dataclass a field's type holds (``X``, ``X | None``, ``tuple[X, ...]``), if any."""
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return hint
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType, tuple, list):
        for arg in typing.get_args(hint):
            found = _dataclass_of(arg)
            if found is not None:
                return found
    return None


def _default(f: dataclasses.Field[Any]) -> Any:
    if f.default is not dataclasses.MISSING:
        return _pack(f.default, {})
    if f.default_factory is not dataclasses.MISSING:
        return _pack(f.default_factory(), {})
    return None  # a field the body's writer did not know


def _unpack(doc: Mapping[str, Any], cls: type, marks: Mapping[str, str]) -> dict[str, Any]:
    hints = _hints(cls)
    out: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        if f.name not in doc:
            out[f.name] = _default(f)
            continue
        inner = _dataclass_of(hints[f.name])
        out[f.name] = _value(doc[f.name], inner, marks)
    if cls is Decision:
        out["direction"] = Direction.of(out["current"], out["desired"]).value
    out.update({k: _value(v, None, marks) for k, v in doc.items() if k not in out})  # unknown: kept
    return out


def _value(value: Any, cls: type | None, marks: Mapping[str, str]) -> Any:
    if isinstance(value, str):
        return marks.get(value) or (value[1:] if value.startswith("@@") else value)
    if isinstance(value, list):
        return [_value(v, cls, marks) for v in value]
    if isinstance(value, Mapping):
        if cls is not None:
            return _unpack(value, cls, marks)
        return {k: _value(v, None, marks) for k, v in value.items()}
    return value

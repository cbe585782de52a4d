"""The ranges every configured number must fall within, and the check of the pure parts.

Pydantic fields carry their own bounds (``config.py`` and each adapter's ``Settings`` use the
constants below). The policies and governor rules are plain dataclasses of the decision core
(no pydantic there), so ``problems(config)`` walks them after validation and names each value
out of range, or blank text, by the path the user wrote (``pools.0.governor.down.cooldown``).

Ranges (documented in the README's configuration section):

- durations (seconds): ``interval`` 0.1 s .. 1 day (sub-second for fast tests and event-driven
  pools; 1e-6 would flood the log); stabilisation, cooldown, step periods,
  staleness, boot timeout, drain deadline, forecast windows: 0 .. 7 days; latency and
  processing times: 0 .. 1 day;
- counts of units (``min``, ``max``, ``units``, step sizes, floors): 0 .. 1,000,000;
- counts of cycles (``hysteresis``, ``up_cycles``, ``down_cycles``, ``window``): 0 .. 10,000;
- fractions: ``utilisation`` / ``loadMax`` (0, 10], ``tolerance`` [0, 1), percents 0 .. 10,000;
- load values (``unit_capacity`` up to 1e9 per unit; thresholds and targets): at most 1e15;
- every number finite: NaN and infinity are refused everywhere (``document.problems``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping
from typing import Any

from pydantic import BaseModel

MINUTE = 60.0
DAY = 86400.0
WEEK = 7 * DAY
INTERVAL_MIN = 0.1
INTERVAL_MAX = DAY
UNITS_MAX = 1_000_000
CYCLES_MAX = 10_000
CAPACITY_MAX = 1e9
LOAD_MAX = 1e15
PRICE_MAX = 1e6

#: field name (as written in a policy or governor rule) -> (lowest, highest, unit)
RANGES: dict[str, tuple[float, float, str]] = {
    **{name: (0.0, WEEK, " seconds") for name in (
        "stabilisation", "cooldown", "step_period", "stale_after", "horizon", "bucket",
        "level_window", "volatility_window")},
    **{name: (0.0, DAY, " seconds") for name in (
        "latency", "processing_time", "initial_processing_time", "min_interval")},
    **{name: (0, CYCLES_MAX, " cycles") for name in ("hysteresis", "up_cycles", "down_cycles")},
    "window": (1, CYCLES_MAX, " samples"),
    "days": (1, 364, " days"),
    "weeks": (0, 52, " weeks"),
    **{name: (0, UNITS_MAX, " units") for name in (
        "units", "min", "max", "unlockedMin", "add", "remove", "max_step_count", "min_adjustment")},
    **{name: (0.0, 10_000.0, " %") for name in ("max_step_percent", "add_percent", "remove_percent")},
    "utilisation": (0.0, 10.0, ""),
    "loadMax": (0.0, 10.0, ""),
    "tolerance": (0.0, 1.0, ""),
    "volatility": (0.0, 100.0, ""),
    "min_level": (0.0, 1.0, ""),
    "max_level": (1.0, 1000.0, ""),
}
#: any other number (thresholds, targets, step bounds)
OTHER: tuple[float, float, str] = (-LOAD_MAX, LOAD_MAX, "")


def _number_fields(obj: Any, path: str) -> Iterator[tuple[str, str, Any]]:
    """(path, field name, value) of every field of the dataclasses reachable from ``obj``."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        for f in dataclasses.fields(obj):
            yield from _values(getattr(obj, f.name), f"{path}.{f.name}", f.name)
    elif isinstance(obj, BaseModel):
        for name in type(obj).model_fields:
            yield from _number_fields(getattr(obj, name), f"{path}.{name}")
    elif isinstance(obj, tuple):
        for i, item in enumerate(obj):
            yield from _number_fields(item, f"{path}.{i}")


def _values(value: Any, path: str, name: str) -> Iterator[tuple[str, str, Any]]:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        yield from _number_fields(value, path)
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from _values(item, f"{path}.{key}", name)
    elif isinstance(value, tuple) and not isinstance(value, str):
        for i, item in enumerate(value):
            yield from _values(item, f"{path}.{i}", name)
    else:
        yield path, name, value


def problems(pools: Any) -> list[str]:
    """Out-of-range numbers and blank text in the policies and governor rules of ``pools``
    (validated PoolConfig values), one line each."""
    found: list[str] = []
    for i, pool in enumerate(pools):
        for part in ("policies", "governor"):
            for path, name, value in _number_fields(getattr(pool, part), f"pools.{i}.{part}"):
                line = _check(path, name, value)
                if line:
                    found.append(line)
    return found


def _check(path: str, name: str, value: Any) -> str | None:
    if isinstance(value, str):
        return f"{path}: must not be blank (got {value!r})" if not value.strip() else None
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    lo, hi, unit = RANGES.get(name, OTHER)
    if not lo <= value <= hi:
        return f"{path}: must be between {lo:g} and {hi:g}{unit} (got {value:g})"
    return None

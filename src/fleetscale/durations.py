"""Durations as people write them in configuration: ``14d``, ``36h``, ``90m``, ``45s``,
``2w``, or a plain number of seconds (``3600``, ``"3600"``)."""

from __future__ import annotations

import math
import re

_TEXT = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d|w)?\s*$", re.IGNORECASE)
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800}


def seconds(value: object) -> float:
    """``value`` in seconds; ValueError (saying what is expected) for anything else."""
    if isinstance(value, bool):
        raise ValueError("expected a duration like 14d, 36h, 90m or a number of seconds")
    if isinstance(value, int | float):
        out = float(value)
    elif isinstance(value, str) and (m := _TEXT.match(value)):
        out = float(m.group(1)) * _SECONDS[(m.group(2) or "s").lower()]
    else:
        raise ValueError("expected a duration like 14d, 36h, 90m or a number of seconds")
    if not math.isfinite(out):
        raise ValueError("the duration must be finite")
    return out


def bounded(value: object, low: float, high: float) -> float:
    """``seconds(value)``, checked to lie within ``[low, high]`` seconds."""
    out = seconds(value)
    if not low <= out <= high:
        raise ValueError(f"must be between {describe(low)} and {describe(high)}")
    return out


def describe(secs: float) -> str:
    """``1209600`` -> ``14d``; ``5400`` -> ``90m``."""
    for unit in ("w", "d", "h", "m"):
        if secs >= _SECONDS[unit] and secs % _SECONDS[unit] == 0:
            return f"{secs / _SECONDS[unit]:g}{unit}"
    return f"{secs:g}s"

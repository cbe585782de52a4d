"""``fleetscale simulate``'s arguments, checked before any work: every problem is a ConfigError
line naming the option as typed (``--boot-delay: ...``), so the command exits 2 at once instead
of failing after the run (an output path) or producing a report full of ``inf``.

- numbers finite and within the configuration's ranges (``limits``): ``--interval`` 0.1 s .. 1 day,
  ``--boot-delay``, ``--drain-time``, ``--drain-timeout`` and ``--session-mean`` 0 .. 7 days,
  ``--session-cv`` up to 100, ``--sessions-per-load`` up to 604800, ``--capacity`` up to 1e9,
  ``--scale`` up to 1e6, ``--min``/``--max`` 0 .. 1,000,000, ``--boot-failure-rate`` in [0, 1);
- the trace readable (``sources.trace.read_trace``), at least one decision interval long, at
  most ``MAX_STEPS`` decisions, and every scaled load finite and at most 1e15; with the
  session model, at most ``MAX_SESSIONS`` sessions at the peak;
- each output file in an existing, writable directory, not a directory itself, and with the
  extension its writer produces (``--timeline`` .csv, ``--report`` .json, ``--plot``
  .png/.svg/.pdf, ``--html`` .html).
"""

from __future__ import annotations

import argparse
import math
import os
from pathlib import Path

from fleetscale import limits
from fleetscale.errors import ConfigError, TraceError

#: decisions one run may take (the loop is one ``core.think`` per step)
MAX_STEPS = 5_000_000
#: sessions the session model may carry at once (each is one heap entry)
MAX_SESSIONS = 1_000_000
SCALE_MAX = 1e6
#: option -> the extensions its writer produces
OUTPUTS: dict[str, tuple[str, ...]] = {
    "timeline": (".csv",),
    "report": (".json",),
    "plot": (".png", ".svg", ".pdf"),
    "html": (".html",),
}
#: option -> (lowest, highest, unit); None = not given
RANGES: dict[str, tuple[float, float, str]] = {
    "interval": (limits.INTERVAL_MIN, limits.INTERVAL_MAX, " seconds"),
    "boot_delay": (0.0, limits.WEEK, " seconds"),
    "drain_time": (0.0, limits.WEEK, " seconds"),
    "capacity": (0.0, limits.CAPACITY_MAX, ""),
    "scale": (0.0, SCALE_MAX, ""),
    "min": (0, limits.UNITS_MAX, ""),
    "max": (1, limits.UNITS_MAX, ""),
    "boot_failure_rate": (0.0, 1.0, ""),
    "session_mean": (0.0, limits.WEEK, " seconds"),
    "session_cv": (0.0, 100.0, ""),
    "sessions_per_load": (0.0, limits.WEEK, ""),
    "drain_timeout": (0.0, limits.WEEK, " seconds"),
}


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _numbers(args: argparse.Namespace) -> list[str]:
    problems = []
    for name, (lo, hi, unit) in RANGES.items():
        value = getattr(args, name, None)
        if value is None:
            continue
        if isinstance(value, float) and not math.isfinite(value):
            problems.append(f"{_flag(name)}: must be a finite number (got {value})")
        elif not lo <= value <= hi or (name == "boot_failure_rate" and value == hi):
            shown = f"[{lo:g}, {hi:g})" if name == "boot_failure_rate" else f"{lo:g} .. {hi:g}{unit}"
            problems.append(f"{_flag(name)}: must be within {shown} (got {value:g})")
    low, high = getattr(args, "min", None), getattr(args, "max", None)
    if low is not None and high is not None and low > high:
        problems.append(f"--min: above --max ({high}) (got {low})")
    return problems


def _outputs(args: argparse.Namespace) -> list[str]:
    problems = []
    for name, extensions in OUTPUTS.items():
        value = getattr(args, name, None)
        if value is None:
            continue
        flag, path = _flag(name), Path(value)
        try:
            problem = _output(flag, path, value, extensions)
        except (OSError, ValueError) as exc:
            problem = f"{flag}: cannot use this path: {getattr(exc, 'strerror', None) or exc} (got {value})"
        if problem:
            problems.append(problem)
    return problems


def _output(flag: str, path: Path, value: str, extensions: tuple[str, ...]) -> str | None:
    if "\0" in value:
        return f"{flag}: the file name contains a NUL character"
    if path.suffix.lower() not in extensions:
        return f"{flag}: the file name must end in {' or '.join(extensions)} (got {value})"
    if path.is_dir():
        return f"{flag}: is a directory, expected a file name (got {value})"
    if not path.parent.is_dir():
        return f"{flag}: no such directory {str(path.parent)!r} (got {value})"
    if not os.access(path.parent, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        return f"{flag}: cannot write there (got {value})"
    return None


def _trace(args: argparse.Namespace, interval: float | None) -> list[str]:
    from fleetscale.sources.trace import read_trace

    try:
        trace = read_trace(args.trace)
    except TraceError as exc:
        return [f"--trace: {exc}"]
    scale = getattr(args, "scale", 1.0) or 1.0
    peak = max(trace.loads) * scale if trace.loads else 0.0
    if not math.isfinite(peak) or peak > limits.LOAD_MAX:
        return [f"--scale: the trace's peak load x --scale must be at most {limits.LOAD_MAX:g} "
                f"(got {peak:g})"]
    if getattr(args, "session_mean", None) is not None:
        sessions = peak * (getattr(args, "sessions_per_load", 1.0) or 1.0)
        if sessions > MAX_SESSIONS:
            return [f"--session-mean: the session model carries at most {MAX_SESSIONS:,} sessions; the "
                    f"trace's peak load x --scale x --sessions-per-load is {sessions:g}"]
    if interval is None:
        return []
    if trace.duration < interval:
        return [f"--trace: covers {trace.duration:g} s, shorter than one decision interval "
                f"({interval:g} s) (got {args.trace})"]
    if trace.duration / interval > MAX_STEPS:
        return [f"--interval: {trace.duration:g} s of trace every {interval:g} s is more than "
                f"{MAX_STEPS:,} decisions; use a longer --interval or a shorter trace (got {interval:g})"]
    return []


def _configured_interval(args: argparse.Namespace) -> tuple[float | None, list[str]]:
    """The pool's interval when simulating a configured pool (its configuration checked)."""
    config_file, pool_name = getattr(args, "config", None), getattr(args, "pool", None)
    if not (config_file or pool_name):
        return (args.interval if args.interval is not None else 60.0), []
    if not (config_file and pool_name):
        return None, ["simulate: --config and --pool go together (got only one)"]
    from fleetscale import config

    try:
        return config.load(config_file).config.pool(pool_name).interval, []
    except ConfigError as exc:
        return None, list(exc.problems)


def check(args: argparse.Namespace) -> None:
    """Raise ConfigError naming every bad argument of ``simulate``; return if all are usable."""
    problems = _numbers(args) + _outputs(args)
    interval, config_problems = _configured_interval(args)
    problems += config_problems
    if not any(p.startswith("--interval") for p in problems):
        problems += _trace(args, interval)
    if problems:
        raise ConfigError(problems)


"""``fleetscale demo``: the real controller against a simulated world, in under a minute.

The same ``Controller``/``PoolRunner`` cycle that ``fleetscale run`` uses, with the
recommended policy, drives a simulated provider (instances boot in ``--boot-delay`` seconds;
drains take ``--drain-time``) while the load is replayed from the bundled NASA trace
(``data/``) on a clock running ``--speed`` times faster than real time. It prints one line
per cycle as decisions happen and a summary at the end. No service is needed.
"""

from __future__ import annotations

import argparse
import math
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from importlib import resources
from typing import IO, Any

from fleetscale import limits
from fleetscale.app import runner_for
from fleetscale.config import PoolConfig
from fleetscale.controller import Controller
from fleetscale.errors import ConfigError
from fleetscale.journal.record import CycleRecord
from fleetscale.journal.sql import SqlJournal
from fleetscale.journal.state_store import SqlStateStore
from fleetscale.model import InstanceState
from fleetscale.sim.clock import ScaledClock
from fleetscale.sim.provider import SimulatedProvider
from fleetscale.sources.trace import TraceSource, read_trace
from fleetscale.state import FleetState

TRACE = "nasa_http_jul1995_days5-6_1min.csv"
#: t=0 of the bundled trace: 1995-07-06 00:00:01 EDT
TRACE_T0 = datetime(1995, 7, 6, 4, 0, 1, tzinfo=UTC)
UNIT_CAPACITY = 0.1  # requests/s one instance serves


def add_parser(sub: Any) -> None:
    from fleetscale.cli import duration

    p = sub.add_parser("demo", help="the controller against a simulated fleet and a replayed trace")
    p.add_argument("--duration", type=duration, default=6 * 3600.0, metavar="D",
                   help="simulated time to run, e.g. 6h, 90m (default 6h)")
    p.add_argument("--speed", type=float, default=720.0, metavar="X",
                   help="simulated seconds per real second (default 720)")
    p.add_argument("--start", type=duration, default=6 * 3600.0, metavar="D",
                   help="where in the trace (2 days) to start, e.g. 6h (default 6h: 06:00)")
    p.add_argument("--boot-delay", type=float, default=180.0, metavar="S")
    p.add_argument("--drain-time", type=float, default=240.0, metavar="S")
    p.add_argument("--interval", type=float, default=60.0, metavar="S", help="cycle interval")
    p.add_argument("--journal", default="sqlite://", metavar="URL",
                   help="keep the journal here (e.g. sqlite:///demo.db, then fleetscale explain demo "
                        "--journal sqlite:///demo.db); default in memory")
    p.set_defaults(handler=run_demo)


@dataclass
class Tally:
    cycles: int = 0
    under: int = 0
    launched: int = 0
    drained: int = 0
    terminated: int = 0
    errors: int = 0
    peak_load: float = 0.0
    peak_ready: int = 0
    lines: list[str] = field(default_factory=list)


def _line(rec: CycleRecord, provider: SimulatedProvider, tally: Tally) -> str:
    load_obs = [o for o in rec.observations if o.metric == "load" and o.instance_id is None and o.ok]
    load = load_obs[-1].value if load_obs else None
    states = {s: 0 for s in InstanceState}
    for i in rec.instances:
        states[i.state] += 1
    ready = states[InstanceState.READY]
    tally.cycles += 1
    if load is not None:
        tally.peak_load = max(tally.peak_load, load)
        if ready * UNIT_CAPACITY < load:
            tally.under += 1
    tally.peak_ready = max(tally.peak_ready, ready)
    tally.launched += sum(int(x.split()[1]) for x in rec.outcome if x.startswith("launched "))
    tally.drained += sum(1 for x in rec.outcome if x.startswith("drain begun"))
    tally.terminated += sum(1 for x in rec.outcome if x.startswith("terminated "))
    tally.errors += len(rec.errors)
    when = rec.started_at.astimezone(timezone_edt()).strftime("%H:%M")
    need = "-" if load is None else str(math.ceil(load / UNIT_CAPACITY - 1e-9))
    shown_load = " n/a" if load is None else f"{load:4.2f}"
    d = rec.decision
    verdict = ("NO DECISION" if d is None
               else f"{d.direction.value.upper():<4} {d.current:>2} -> {d.desired:<2}")
    why = _short(d.reason if d else "; ".join(rec.errors), 110)
    acts = f"[{_actions(rec)}]" if rec.outcome or rec.errors else ""
    return (f"{when}  load {shown_load} (needs {need:>2})  fleet {ready:>2} ready "
            f"{states[InstanceState.PENDING]:>2} booting {states[InstanceState.DRAINING]:>2} draining  "
            f"{verdict} {acts:<24} {why}")


def _short(reason: str, width: int) -> str:
    """The reason without the verdict the line already shows, cut to ``width``."""
    head, sep, rest = reason.partition(": ")
    if sep and head.split(" ", 1)[0] in ("up", "down", "hold"):
        reason = rest
    return reason if len(reason) <= width else reason[: width - 1] + "…"


def _actions(rec: CycleRecord) -> str:
    count = {"launched": 0, "drain begun": 0, "drain cancelled": 0, "terminated": 0}
    for line in rec.outcome:
        for key in count:
            if line.startswith(key):
                count[key] += int(line.split()[1]) if key == "launched" else 1
    parts = [f"{label} {count[key]}" for key, label in (
        ("launched", "+launch"), ("drain cancelled", "undrain"), ("drain begun", "drain"),
        ("terminated", "-terminate")) if count[key]]
    if rec.errors:
        parts.append(f"{len(rec.errors)} error{'s' if len(rec.errors) > 1 else ''}")
    return ", ".join(parts)


#: option -> (lowest, highest): finite, and within the configuration's ranges (``limits``)
_RANGES = {"speed": (1e-3, 1e6), "interval": (limits.INTERVAL_MIN, limits.INTERVAL_MAX),
           "boot_delay": (0.0, limits.WEEK), "drain_time": (0.0, limits.WEEK)}


def _check(args: argparse.Namespace, covered: float) -> None:
    problems = [f"--{name.replace('_', '-')}: must be a finite number from {lo:g} to {hi:g} "
                f"(got {getattr(args, name):g})"
                for name, (lo, hi) in _RANGES.items() if not lo <= getattr(args, name) <= hi]
    if args.start + args.duration > covered:
        problems.append(f"--duration: the bundled trace covers {_span(covered)}; --start {_span(args.start)} "
                        f"+ --duration {_span(args.duration)} goes past its end (got {args.duration:g} s)")
    if problems:
        raise ConfigError(problems)


def _span(seconds: float) -> str:
    if seconds >= 3600:
        return f"{seconds / 3600:.4g} h"
    return f"{seconds / 60:.4g} min"


def timezone_edt() -> Any:
    from datetime import timezone

    return timezone(timedelta(hours=-4), "EDT")


def run_demo(args: argparse.Namespace, out: IO[str] | None = None) -> int:
    from fleetscale.journal.log import configure_logging

    out = out or sys.stdout
    configure_logging("warning")
    trace = read_trace(resources.files("fleetscale.data").joinpath(TRACE))  # type: ignore[arg-type]
    _check(args, trace.duration)
    start = TRACE_T0 + timedelta(seconds=args.start)
    clock = ScaledClock(start, args.speed)
    first_load = trace.at(args.start) or 0.0
    pool = PoolConfig.model_validate({
        "name": "demo", "interval": args.interval, "min": 2, "max": 40, "unit_capacity": UNIT_CAPACITY,
        "instance_types": [{"name": "small", "weight": 1, "price": 0.10}],
        "provider": {"kind": "simulated"}, "boot_timeout": max(600.0, 3 * args.boot_delay),
    })
    provider = SimulatedProvider(clock, pool.types(), pool="demo", boot_delay=args.boot_delay,
                                 drain_time=args.drain_time,
                                 initial=max(2, math.ceil(first_load / UNIT_CAPACITY)))
    source = TraceSource(trace, start, offset=args.start, name="nasa-trace")
    store = SqlJournal(args.journal)
    states = SqlStateStore(store.engine)
    if states.load("demo") is None:  # the instances in service at the start are the demo's own
        states.save(FleetState("demo").launched(provider.list(), clock.now()))
    runner = runner_for(pool, sources=[source], provider=provider, drainer=provider.drainer(),
                        journals=[store], store=states, operator=store, clock=clock)
    controller = Controller([runner], clock, on_close=[store.close])
    tally = Tally()
    until = start + timedelta(seconds=args.duration)
    print(f"fleetscale demo: NASA web trace from {start.astimezone(timezone_edt()):%Y-%m-%d %H:%M} EDT, "
          f"{_span(args.duration)} at {args.speed:g}x; one instance serves {UNIT_CAPACITY} req/s, "
          f"boots in {args.boot_delay:g} s, drains in {args.drain_time:g} s; policy: recommended", file=out)

    def show(rec: CycleRecord) -> None:
        print(_line(rec, provider, tally), file=out, flush=True)

    clock.restart()
    try:
        controller.run_paced(until, on_cycle=show)
    except KeyboardInterrupt:
        print("interrupted", file=out)
    finally:
        controller.close()
    hours = provider.instance_seconds() / 3600.0
    share = tally.under / tally.cycles if tally.cycles else 0.0
    print(f"summary: {tally.cycles} cycles over {_span(args.duration)} simulated; "
          f"instance-hours {hours:.1f} (cost {provider.cost():.2f}); under-provisioned "
          f"{share:.0%} of the time; actions: {tally.launched} launched, {tally.drained} drained, "
          f"{tally.terminated} terminated; peak load {tally.peak_load:.2f} req/s, peak fleet "
          f"{tally.peak_ready} ready; errors {tally.errors}", file=out)
    return 0

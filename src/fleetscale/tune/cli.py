"""``fleetscale tune``: the cheapest settings of the pool's policy family that meet a service
objective on its history.

    fleetscale tune --trace nasa.csv --capacity 0.05 --slo tau_under=1,unserved=0.1 --out tuned.yaml
    fleetscale tune --journal sqlite:///fleetscale.db --pool sip --slo tau_under=1 --out tuned.yaml \\
        --scheduler tcp://dask-scheduler:8786 --budget 300 --report tune.json --plot tune.png

The last ``--holdout`` share of the input (default 25 %) is held out: the search never sees it,
and the report says when the objective met in-sample is missed there.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np

from fleetscale.errors import ConfigError
from fleetscale.sim.cli import _non_negative, _positive
from fleetscale.tune.search import METHODS

DEFAULT_BUDGET = 60


def add_parser(sub: Any) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = sub.add_parser(
        "tune", help="search the cheapest policy settings that meet a service objective",
        description=__doc__.split("\n\n")[0])
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--trace", metavar="FILE.csv", help="CSV t_seconds,load (uniform interval)")
    src.add_argument("--journal", metavar="URL", help="a pool's recorded load (with --pool)")
    p.add_argument("--pool", metavar="NAME", help="the pool (of --journal, of --config; names the output)")
    p.add_argument("--config", metavar="FILE", help="start from this pool's configuration (with --pool)")
    p.add_argument("--capacity", type=_positive, metavar="U", help="load one instance serves (default 1)")
    p.add_argument("--boot-delay", type=_non_negative, metavar="S", help="seconds to boot (default 120)")
    p.add_argument("--interval", type=_positive, metavar="S", help="decision interval (default 60)")
    p.add_argument("--min", type=int, metavar="N")
    p.add_argument("--max", type=int, metavar="N")
    p.add_argument("--slo", required=True, metavar="tau_under=%,unserved=%",
                   help="the objective: % of time under-provisioned and % of load unserved at most")
    p.add_argument("--budget", type=int, default=DEFAULT_BUDGET, metavar="N",
                   help=f"configurations to simulate (default {DEFAULT_BUDGET})")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--workers", type=int, metavar="N",
                       help="local worker processes (default: every core)")
    where.add_argument("--scheduler", metavar="ADDRESS",
                       help="a Dask distributed scheduler, e.g. tcp://host:8786")
    p.add_argument("--method", choices=METHODS, default="optuna", help="search strategy (default optuna)")
    p.add_argument("--holdout", type=float, default=0.25, metavar="F",
                   help="share of the input held out to judge the choice (default 0.25; 0: none)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True, metavar="tuned.yaml", help="the tuned pool configuration")
    p.add_argument("--report", metavar="OUT.json", help="the search, the front, the anchors, as JSON")
    p.add_argument("--plot", metavar="OUT.png", help="Pareto front, chosen point and anchors")
    p.set_defaults(handler=cmd_tune)
    return p


def _or(value: Any, default: Any) -> Any:
    return default if value is None else value


def _write_trace(path: Path, loads: np.ndarray[Any, Any], interval: float) -> None:
    from fleetscale.sim.run import _exact

    lines = ["t_seconds,load"] + [f"{_exact(k * interval)},{_exact(float(v))}" for k, v in enumerate(loads)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def history_from_args(args: argparse.Namespace) -> Any:
    from fleetscale.tune.run import History

    if not 0 <= args.holdout < 1:
        raise ConfigError(f"--holdout must be in [0, 1) (got {args.holdout})")
    base: dict[str, Any] = {}
    if args.journal:
        if not args.pool:
            raise ConfigError("tune: --journal needs --pool NAME")
        from fleetscale.replay import counterfactual as cf
        from fleetscale.replay.journal import load
        from fleetscale.replay.run import recorded_setup

        cycles = load(args.journal, args.pool)
        setup = recorded_setup(cycles)
        interval = _or(args.interval, setup[1] if setup else 60.0)
        metric = cf.metric_of(setup[0].decision) if setup else "load"
        hist = cf.history(cycles, interval, metric)
        loads = np.concatenate([hist.load[p] for p in hist.parts()])
        trace_interval = interval
        trace_path = Path(args.out).with_suffix(".trace.csv")
        _write_trace(trace_path, loads, interval)
        if setup:
            d = setup[0].decision
            base = {"min": d.min, "max": d.max, "unit_capacity": d.unit_capacity, "interval": setup[1]}
        boot = cf.boot_delay_of(cycles, interval)
    else:
        from fleetscale.sources.trace import read_trace

        trace = read_trace(args.trace)
        loads, trace_interval = np.asarray(trace.loads, dtype=np.float64), trace.interval
        trace_path, boot = Path(args.trace), 120.0
    if args.config:
        if not args.pool:
            raise ConfigError("tune: --config needs --pool NAME")
        from fleetscale import config

        loaded = config.load(args.config)  # validated first: errors name the field
        loaded.config.pool(args.pool)
        raw = config.read_document(args.config)
        doc = next(dict(p) for p in raw["pools"] if p.get("name") == args.pool)
        doc.pop("policies", None)
        doc.pop("governor", None)
    else:
        lo, hi = _or(args.min, base.get("min", 1)), _or(args.max, base.get("max", 100))
        if lo < 0 or hi < 1 or lo > hi:
            raise ConfigError(f"tune: need 0 <= --min <= --max and --max >= 1 (got {lo}, {hi})")
        doc = {
            "name": args.pool or "tuned",
            "interval": float(_or(args.interval, base.get("interval", 60.0))),
            "min": lo, "max": hi,
            "unit_capacity": float(_or(args.capacity, base.get("unit_capacity", 1.0))),
            "provider": {"kind": "simulated", "boot_delay": float(_or(args.boot_delay, boot)),
                         "drain_time": 0.0},
            "sources": [{"kind": "trace", "path": str(trace_path.resolve())}],
        }
    return History(loads, trace_interval, doc, args.holdout)


def cmd_tune(args: argparse.Namespace) -> int:
    from fleetscale.cli import say
    from fleetscale.journal.log import configure_logging
    from fleetscale.tune import output
    from fleetscale.tune.objective import parse_slo
    from fleetscale.tune.parallel import Dask, Inline, Local, Runner
    from fleetscale.tune.run import tune

    configure_logging("warning")  # the simulated cycles' own log lines are not the output
    slo = parse_slo(args.slo)
    if args.budget < 1:
        raise ConfigError(f"--budget must be >= 1 (got {args.budget})")
    if args.workers is not None and args.workers < 1:
        raise ConfigError(f"--workers must be >= 1 (got {args.workers})")
    history = history_from_args(args)
    runner: Runner
    if args.scheduler:
        runner = dask = Dask(args.scheduler, total=args.budget)
        batch = dask.workers
    elif args.workers == 1:
        runner, batch = Inline(progress=True, total=args.budget), 1
    else:
        local = Local(args.workers, total=args.budget)
        runner, batch = local, local.workers
    try:
        tuned = tune(history, slo, runner, budget=args.budget, batch=batch, method=args.method,
                     seed=args.seed)
    finally:
        runner.close()
    output.write_config(tuned, args.out)
    body = output.report(tuned, input=args.trace or f"journal pool {args.pool}", out=args.out)
    if args.report:
        output.write_report(body, args.report)
    if args.plot:
        output.plot(tuned, args.plot, title=f"tune {history.doc['name']}: {args.trace or 'journal'}")
    c = tuned.chosen.figures
    say(f"tuned {history.doc['name']} ({len(tuned.tried)} runs, {tuned.method}): "
        f"{c.cost_vs_oracle:.3f}x oracle, under-provisioned {c.tau_under:.2f} % of the time, "
        f"unserved {c.unserved:.3f} % of load (in-sample)")
    if tuned.held_out is not None:
        h = tuned.held_out
        say(f"  held out: {h.cost_vs_oracle:.3f}x oracle, under-provisioned {h.tau_under:.2f} %, "
            f"unserved {h.unserved:.3f} %")
    say(f"  {body['verdict']}; wrote {args.out}")
    return 0

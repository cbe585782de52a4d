"""``fleetscale simulate``: replay a load trace through the pool's policies, governor and
planner (``core.think``) against a simulated fleet, and score the run against the oracle.

    fleetscale simulate --trace nasa.csv --capacity 0.05 --boot-delay 120 --interval 60 \\
        --min 1 --max 100 --policy hpa --timeline out.csv --report out.json --plot out.png
    fleetscale simulate --trace nasa.csv --config pools.yaml --pool web

The lead wires it with ``sim.cli.add_parser(subparsers)``; the parser sets ``handler``.
"""

from __future__ import annotations

import argparse
from typing import Any

import numpy as np

from fleetscale.decide import DecisionSpec
from fleetscale.errors import ConfigError
from fleetscale.model import InstanceType
from fleetscale.sim.baselines import NAMES
from fleetscale.sim.run import FleetSettings
from fleetscale.sim.scenario import Scenario, run_policy
from fleetscale.sim.sessions import DISPATCH, DISTRIBUTIONS, Holding


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number (got {text!r})") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a number > 0 (got {text!r})")
    return value


def _non_negative(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number (got {text!r})") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a number >= 0 (got {text!r})")
    return value


def add_parser(sub: Any) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = sub.add_parser(
        "simulate", help="replay a load trace through a pool's policies and score it",
        description=__doc__.split("\n\n")[0])
    p.add_argument("--trace", required=True, metavar="FILE", help="CSV t_seconds,load (uniform interval)")
    p.add_argument("--config", metavar="FILE", help="simulate a configured pool (with --pool)")
    p.add_argument("--pool", metavar="NAME", help="the pool of --config to simulate")
    p.add_argument("--policy", choices=NAMES, metavar="NAME",
                   help=f"run a named policy instead of the configured one: {', '.join(NAMES)}")
    p.add_argument("--capacity", type=_positive, default=None, metavar="UNITS",
                   help="load one instance serves (default pool; default 1)")
    p.add_argument("--boot-delay", type=_non_negative, default=None, metavar="SECONDS",
                   help="seconds from launch to in service (default 120)")
    p.add_argument("--drain-time", type=_non_negative, default=None, metavar="SECONDS",
                   help="seconds a drained instance stays paid for (default 0)")
    p.add_argument("--session-mean", type=_positive, default=None, metavar="SECONDS",
                   help="sessions' mean holding time: the fleet carries load x --sessions-per-load "
                        "sessions and a drained instance stays until its own last one ends")
    p.add_argument("--session-distribution", choices=DISTRIBUTIONS, default="exponential",
                   help="holding-time distribution (with --session-mean)")
    p.add_argument("--session-cv", type=_positive, default=1.0, metavar="CV",
                   help="lognormal holding times' coefficient of variation")
    p.add_argument("--sessions-per-load", type=_positive, default=1.0, metavar="X",
                   help="concurrent sessions per unit of load (1: the load counts sessions)")
    p.add_argument("--dispatch", choices=DISPATCH, default="round-robin",
                   help="how new sessions go to the instances in service")
    p.add_argument("--drain-timeout", type=_non_negative, default=None, metavar="SECONDS",
                   help="cut a drain's remaining sessions after this (default: wait for the last)")
    p.add_argument("--interval", type=_positive, default=None, metavar="SECONDS",
                   help="decision interval (default 60)")
    p.add_argument("--min", type=int, default=None, metavar="N")
    p.add_argument("--max", type=int, default=None, metavar="N")
    p.add_argument("--scale", type=_positive, default=1.0, metavar="X", help="multiply every load by X")
    p.add_argument("--boot-failure-rate", type=float, default=None, metavar="P",
                   help="share of launched instances that never boot (seeded)")
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--timeline", metavar="OUT.csv", help="t_seconds,load,demanded,ready,provisioned")
    p.add_argument("--report", metavar="OUT.json", help="settings and scores as JSON")
    p.add_argument("--plot", metavar="OUT.png", help="load, demanded, ready and provisioned over time")
    p.add_argument("--html", metavar="OUT.html",
                   help="a self-contained interactive report: timeline, scores, worst under-provisioned "
                        "episodes with the decisions around them")
    p.set_defaults(handler=cmd_simulate)
    return p


def _or(value: Any, default: Any) -> Any:
    return default if value is None else value


def scenario_from_args(args: argparse.Namespace) -> Scenario:
    from fleetscale.sources.trace import read_trace

    trace = read_trace(args.trace)
    loads = np.asarray(trace.loads, dtype=np.float64) * args.scale
    boot, drain, rate, seed = 120.0, 0.0, 0.0, 0
    if args.config or args.pool:
        if not (args.config and args.pool):
            raise ConfigError("simulate: --config and --pool go together (got only one)")
        from fleetscale import config

        pool = config.load(args.config).config.pool(args.pool)
        spec = pool.decision_spec()
        types = pool.types()
        interval = pool.interval
        if pool.provider.kind == "simulated":
            opts = pool.provider.options
            boot = float(opts.get("boot_delay", boot))
            drain = float(opts.get("drain_time", drain))
            rate = float(opts.get("boot_failure_rate", rate))
            seed = int(opts.get("seed", seed))
    else:
        from fleetscale.policy.recommended import recommended_governor, recommended_policies

        lo, hi = _or(args.min, 1), _or(args.max, 100)
        if lo < 0 or hi < 1 or lo > hi:
            raise ConfigError(f"simulate: need 0 <= --min <= --max and --max >= 1 (got {lo}, {hi})")
        interval = _or(args.interval, 60.0)
        boot = _or(args.boot_delay, boot)
        spec = DecisionSpec(pool="sim", min=lo, max=hi, unit_capacity=_or(args.capacity, 1.0),
                            policies=recommended_policies(horizon=boot + interval),
                            governor=recommended_governor())
        types = (InstanceType("default"),)
    fleet = FleetSettings(
        boot_delay=_or(args.boot_delay, boot),
        drain_time=_or(args.drain_time, drain),
        boot_failure_rate=_or(args.boot_failure_rate, rate),
        seed=_or(args.seed, seed),
        holding=Holding(args.session_mean, args.session_distribution, args.session_cv)
        if args.session_mean is not None else None,
        dispatch=args.dispatch,
        sessions_per_load=args.sessions_per_load,
        drain_timeout=args.drain_timeout,
    )
    if not 0 <= fleet.boot_failure_rate < 1:
        raise ConfigError(f"simulate: --boot-failure-rate must be in [0, 1) (got {fleet.boot_failure_rate})")
    return Scenario(trace.interval, loads, spec, types, interval, fleet)


def cmd_simulate(args: argparse.Namespace) -> int:
    from fleetscale.cli import say
    from fleetscale.sim import arguments, report

    arguments.check(args)  # every argument usable (outputs writable) before any work
    sc = scenario_from_args(args)
    outcome = run_policy(sc, args.policy, record=bool(args.html))
    oracle = run_policy(sc, "oracle")
    body = report.report(sc, outcome, oracle, trace=args.trace)
    if args.timeline:
        outcome.timeline.write_csv(args.timeline)
    if args.report:
        report.write(body, args.report)
    if args.plot:
        from fleetscale.sim.plot import plot_timeline

        plot_timeline(outcome.timeline, args.plot, title=f"{args.trace}: {outcome.name}",
                      others={"oracle": oracle.timeline})
    if args.html:
        from fleetscale.sim import html, report_data

        html.write_html(args.html, report_data.build(outcome.timeline, oracle.timeline, policy=outcome.name,
                                                     title=f"{args.trace}: {outcome.name}",
                                                     settings=body["settings"]))
    say(f"{outcome.name}: {outcome.steps} steps in {outcome.wall_seconds:.2f} s; "
        f"cost {body['cost_vs_oracle']:.3f}x oracle ({body['instance_hours']:.1f} instance-hours), "
        f"under-provisioned {body['tau_under']:.2f} % of the time (theta_under {body['theta_under']:.2f} %), "
        f"unserved {100 * body['unserved_fraction']:.3f} % of load, {body['scale_actions']} scale actions")
    return 0

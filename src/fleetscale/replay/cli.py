"""``fleetscale replay``: a pool's recorded history run again.

    fleetscale replay --journal sqlite:///fleetscale.db --pool sip --report out.json
    fleetscale replay --journal URL --pool sip --policy hpa --since 2026-01-01 --html out.html
    fleetscale replay --journal URL --pool sip --config other.yaml --as web --plot out.png

With the pool's own configuration (recorded in the journal; or ``--config FILE`` naming the
same pool) every recorded cycle runs again through ``cycle.step`` and the report counts the
decisions reproduced. With ``--policy`` or ``--config FILE --as POOL`` the recorded load runs
through the simulator and is scored as ``fleetscale simulate`` scores it, beside the pool's
recorded figures. Missing data (failed reads, the controller down) is reported, never filled.
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from typing import Any

from fleetscale.errors import ConfigError
from fleetscale.sim.baselines import NAMES


def _time(text: str) -> datetime:
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected an ISO 8601 time such as 2026-01-05T08:00 (got {text!r})") from None
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def add_parser(sub: Any) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = sub.add_parser(
        "replay", help="replay a pool's recorded cycles (reproduce its decisions, or try another policy)",
        description=__doc__.split("\n\n")[0])
    p.add_argument("--journal", required=True, metavar="URL",
                   help="the SQL journal (sqlite:///… or mysql+pymysql://…)")
    p.add_argument("--pool", required=True, metavar="NAME", help="the recorded pool")
    p.add_argument("--since", type=_time, metavar="TIME",
                   help="first cycle to replay (ISO 8601, UTC if no zone)")
    p.add_argument("--until", type=_time, metavar="TIME", help="replay cycles before this time")
    who = p.add_mutually_exclusive_group()
    names = [n for n in NAMES if n != "oracle"]
    who.add_argument("--policy", choices=names, metavar="NAME",
                     help=f"a named policy instead of the pool's: {', '.join(names)}")
    who.add_argument("--config", metavar="FILE", help="a configuration file (its pool --as, default --pool)")
    p.add_argument("--as", dest="as_pool", metavar="POOL",
                   help="the pool of --config whose settings to replay")
    p.add_argument("--timeline", metavar="OUT.csv", help="the simulated timeline (as simulate writes it)")
    p.add_argument("--report", metavar="OUT.json", help="reproduction, gaps and scores as JSON")
    p.add_argument("--plot", metavar="OUT.png", help="recorded load, the simulated and the recorded fleet")
    p.add_argument("--html", metavar="OUT.html", help="the interactive report of the simulated run")
    p.set_defaults(handler=cmd_replay)
    return p


def cmd_replay(args: argparse.Namespace) -> int:
    from fleetscale.cli import say
    from fleetscale.journal.log import configure_logging
    from fleetscale.replay.run import replay

    configure_logging("warning")  # the simulated cycles' own log lines are not the output

    if args.as_pool and not args.config:
        raise ConfigError("replay: --as POOL goes with --config FILE")
    if args.since and args.until and args.since >= args.until:
        raise ConfigError(f"replay: --since must be before --until (got {args.since} and {args.until})")
    result = replay(args.journal, args.pool, since=args.since, until=args.until, policy=args.policy,
                    config=args.config, as_pool=args.as_pool or (args.pool if args.config else None),
                    record=bool(args.html))
    body = result.body
    if args.report:
        from fleetscale.sim import report

        report.write(body, args.report)
    cf = result.counterfactual
    if args.timeline:
        cf.outcome.timeline.write_csv(args.timeline)
    if args.plot:
        from fleetscale.sim.plot import plot_timeline

        plot_timeline(cf.outcome.timeline, args.plot, title=f"replay {args.pool}: {cf.outcome.name}",
                      others={"recorded": cf.recorded, "oracle": cf.oracle.timeline})
    if args.html:
        from fleetscale.sim import html, report_data

        html.write_html(args.html, report_data.build(cf.outcome.timeline, cf.oracle.timeline,
                                                     policy=cf.outcome.name,
                                                     title=f"replay {args.pool}: {cf.outcome.name}",
                                                     settings=body["settings"]))
    rep = body["reproduction"]
    gaps = body["gaps"]
    say(f"{args.pool}: {rep['decisions_reproduced']} of {rep['decisions_total']} recorded decisions "
        f"reproduced with {body['replayed_with']}; {gaps['count']} stretches of missing data")
    rec = body["recorded"]
    say(f"  simulated {cf.outcome.name}: {body['instance_hours']:.2f} instance-hours, under-provisioned "
        f"{body['tau_under']:.2f} % of the time, unserved {100 * body['unserved_fraction']:.3f} % of load")
    say(f"  recorded:  {rec['instance_hours']:.2f} instance-hours, under-provisioned "
        f"{rec['tau_under']:.2f} % of the time, unserved {100 * rec['unserved_fraction']:.3f} % of load")
    return 0


"""The command line: ``fleetscale run | check | status | explain | pause | resume | hold | serve |
demo``.

Every error is one clear line on stderr, never a traceback. Exit codes: 0 ok, 2 invalid
configuration or usage, 1 any other failure (an unreachable journal, an adapter that cannot
start).
"""

from __future__ import annotations

import argparse
import getpass
import math
import os
import re
import sys
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import ValidationError

from fleetscale import config, limits
from fleetscale.errors import ConfigError, FleetscaleError, TraceError
from fleetscale.model import Direction
from fleetscale.sim import cli as sim_cli

_DURATION = re.compile(r"^(\d+(?:\.\d+)?)\s*([smhd]?)$")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}
#: the farthest ahead an operator's hold may reach (and the longest duration accepted)
HOLD_MAX = timedelta(days=366)
#: the most cycles ``explain`` shows at once
EXPLAIN_MAX = 10_000


def duration(text: str) -> float:
    """``90``, ``90s``, ``15m``, ``6h``, ``2d`` -> seconds (more than 0, at most 366 days)."""
    m = _DURATION.match(text.strip().lower())
    seconds = float(m.group(1)) * _UNITS[m.group(2)] if m else math.nan
    if not 0 < seconds <= HOLD_MAX.total_seconds():
        raise argparse.ArgumentTypeError(f"expected a positive duration like 90s, 15m, 6h, at most "
                                         f"{HOLD_MAX.days}d (got {text!r})")
    return seconds


def moment(text: str, now: datetime | None = None) -> datetime:
    """An ISO 8601 time with its zone (``2026-01-05T18:00:00Z``) or ``+DURATION`` from now."""
    now = now or datetime.now(UTC)
    if text.startswith("+"):
        return now + timedelta(seconds=duration(text[1:]))
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected an ISO 8601 time with zone or +DURATION (got {text!r})") from None
    if when.tzinfo is None:
        raise argparse.ArgumentTypeError(f"the time needs a zone, e.g. {text}Z (got {text!r})")
    return when


def say(text: str, err: bool = False) -> None:
    """CLI output (the one place the CLI writes to the terminal)."""
    (sys.stderr if err else sys.stdout).write(text + "\n")


def _journal_opts(p: argparse.ArgumentParser) -> None:
    g = p.add_mutually_exclusive_group()
    g.add_argument("--config", metavar="FILE", help="read the journal URL from this configuration")
    g.add_argument("--journal", metavar="URL", help="SQLAlchemy URL of the journal (default: "
                                                    "the configuration's, else sqlite:///fleetscale.db)")


def _reason_opt(p: argparse.ArgumentParser) -> None:
    p.add_argument("--reason", default="", metavar="TEXT", help="why (journaled with who and when; "
                                                                "shown by explain)")


def _who() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except Exception:  # no user name (a container without passwd entry)
        return "cli"


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="fleetscale", description="Autoscaler for fleets outside Kubernetes.")
    sub = ap.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("run", help="run the controller until SIGINT/SIGTERM")
    p.add_argument("file", nargs="?", metavar="FILE", help="configuration (YAML or JSON)")
    p.add_argument("--dry-run", action="store_true", help="decide and journal, act on nothing")
    p.add_argument("--from-env", action="store_true", help="configure from DynoScaler environment variables")
    p.add_argument("--once", action="store_true", help="run one cycle of every pool, then exit")
    p.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])

    p = sub.add_parser("check", help="validate a configuration file")
    p.add_argument("file", metavar="FILE")

    p = sub.add_parser("status", help="each pool's owner (replica) and lease token")
    _journal_opts(p)

    p = sub.add_parser("explain", help="why recent decisions were made")
    p.add_argument("pool", metavar="POOL")
    p.add_argument("--last", default="5", metavar="N",
                   help="how many entries (default 5; a run of identical cycles is one)")
    _journal_opts(p)

    p = sub.add_parser("pause", help="pause a pool's scaling (both directions unless --direction)")
    p.add_argument("pool", metavar="POOL")
    p.add_argument("--direction", choices=["up", "down"])
    _reason_opt(p)
    _journal_opts(p)

    p = sub.add_parser("resume", help="remove a pool's pauses and hold")
    p.add_argument("pool", metavar="POOL")
    _reason_opt(p)
    _journal_opts(p)

    p = sub.add_parser("hold", help="hold a pool at N units until a time")
    p.add_argument("pool", metavar="POOL")
    p.add_argument("units", metavar="N")
    p.add_argument("--until", required=True, metavar="TIME", help="ISO 8601 with zone, or +DURATION")
    _reason_opt(p)
    _journal_opts(p)

    p = sub.add_parser("serve", help="serve the HTTP API and dashboard of a journal (read-only)")
    _journal_opts(p)
    p.add_argument("--listen", metavar="HOST:PORT", help="default: the configuration's api.listen, "
                                                         "else 127.0.0.1:8080")

    from fleetscale import demo

    demo.add_parser(sub)
    sim_cli.add_parser(sub)  # `simulate`: sets its own handler
    _add_history_commands(sub)
    return ap


# --- commands ----------------------------------------------------------------------------


def _summary(loaded: config.Loaded) -> str:
    pools = loaded.config.pools
    parts = [f"{p.name} ({p.min}-{p.max} units every {p.interval:g} s, provider {p.provider.kind}"
             f"{', dry run' if p.dry_run else ''})" for p in pools]
    return f"ok: {len(pools)} pool{'s' if len(pools) != 1 else ''}: {'; '.join(parts)}"


def cmd_check(args: argparse.Namespace) -> int:
    say(_summary(config.load(args.file)))
    return 0


def _load_for_run(args: argparse.Namespace) -> config.Loaded:
    if args.from_env:
        if args.file:
            raise ConfigError("(arguments): give FILE or --from-env, not both (got both)")
        from fleetscale.compat.dynoscaler_env import parse_env

        loaded: config.Loaded = parse_env(dict(os.environ))
        return loaded
    if not args.file:
        raise ConfigError("(arguments): run needs FILE or --from-env (got neither)")
    return config.load(args.file)


def cmd_run(args: argparse.Namespace) -> int:
    from fleetscale.app import build_controller
    from fleetscale.journal.log import configure_logging

    loaded = _load_for_run(args)  # nothing starts with an invalid file
    configure_logging(args.log_level)
    api = None
    if loaded.config.api is not None:  # the HTTP API: tokens and port checked before anything starts
        from fleetscale.api.server import RunApi

        api = RunApi.prepare(loaded)
    try:
        controller = build_controller(loaded, dry_run=args.dry_run, extra_sinks=api.sinks if api else ())
        try:
            if api is not None:
                api.start(controller.journal_errors)
            if args.once:
                records = controller.cycle()
            else:
                controller.run()
                records = []
            failing = controller.journal_errors()
        finally:
            controller.close()
    finally:
        if api is not None:
            api.close()
    if failing:  # the journal could not be written: nothing was acted on, and nothing explains it
        for pool, why in failing.items():
            say(f"fleetscale: pool {pool}: {why}", err=True)
        return 1
    if args.once and any(r.errors and r.decision is None for r in records):
        for r in records:
            if r.errors and r.decision is None:
                say(f"fleetscale: pool {r.pool}: cycle failed: {'; '.join(r.errors)}", err=True)
        return 1
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from fleetscale.api.server import serve_journal
    from fleetscale.journal.log import configure_logging

    loaded = config.load(args.config) if args.config else None
    url = args.journal or (loaded.config.journal.sql if loaded else config.JournalConfig().sql)
    api = (loaded.config.api if loaded else None) or config.ApiConfig()
    if args.listen:
        try:
            api = config.ApiConfig.model_validate({**api.model_dump(), "listen": args.listen})
        except ValidationError as exc:
            why = exc.errors()[0]["msg"].removeprefix("Value error, ")
            raise ConfigError(f"--listen: {why} (got {args.listen})") from None
    configure_logging("info")
    serve_journal(url, api)
    return 0


def _whole(text: str, name: str, lo: int, hi: int) -> int:
    try:
        value = int(str(text).strip())
    except ValueError:
        raise ConfigError(f"{name}: expected a whole number (got {text})") from None
    if not lo <= value <= hi:
        raise ConfigError(f"{name}: must be from {lo} to {hi} (got {text})")
    return value


def _journal(url: str, where: str) -> Any:
    """The existing journal at ``url``; never creates one (an operator command that found no
    journal would otherwise leave an empty database behind and report success)."""
    import sqlalchemy as sa
    from sqlalchemy.exc import SQLAlchemyError

    from fleetscale.journal.sql import SqlJournal

    try:
        parsed = sa.engine.make_url(url)
    except (SQLAlchemyError, ValueError):
        raise ConfigError(f"{where}: not a database URL (got {url})") from None
    shown = parsed.render_as_string(hide_password=True)
    if parsed.drivername.startswith("sqlite"):
        db = parsed.database or ""
        if db in ("", ":memory:") or not os.path.isfile(db):
            raise ConfigError(f"{where}: no journal at {shown}; the controller creates it on its first "
                              f"cycle (got {shown})")
    store = SqlJournal(url, create=False)
    try:
        known = sa.inspect(store.engine).has_table("fs_cycles")
    except SQLAlchemyError:
        known = False
    if not known:
        store.close()
        raise ConfigError(f"{where}: {shown} holds no fleetscale journal (got {shown})")
    return store


def _configured(args: argparse.Namespace) -> config.Loaded | None:
    loaded = config.load(args.config) if args.config else None
    if loaded is not None:
        loaded.config.pool(args.pool)  # the pool must exist
    return loaded


def _store(args: argparse.Namespace, loaded: config.Loaded | None) -> Any:
    """The pool's journal. The pool must be known: named by the configuration, or recorded."""
    if args.journal:
        url, where = args.journal, "--journal"
    elif loaded is not None:
        url, where = loaded.config.journal.sql, "journal.sql"
    else:
        url, where = config.JournalConfig().sql, "--journal (default)"
    store = _journal(url, where)
    if loaded is None:
        recorded = store.pools()
        if args.pool not in recorded:
            store.close()
            raise ConfigError(f"POOL: the journal has recorded no pool of that name (it has: "
                              f"{', '.join(recorded) or 'none'}); give --config to name a configured "
                              f"pool (got {args.pool})")
    return store


def cmd_status(args: argparse.Namespace) -> int:
    from fleetscale.status import owners, render

    loaded = config.load(args.config) if args.config else None
    if args.journal:
        url, where = args.journal, "--journal"
    elif loaded is not None:
        url, where = loaded.config.journal.sql, "journal.sql"
    else:
        url, where = config.JournalConfig().sql, "--journal (default)"
    store = _journal(url, where)
    try:
        coordination = loaded.config.coordination if loaded else None
        pools = [p.name for p in loaded.config.pools] if loaded else store.pools()
        say(render(owners(store.engine, pools, coordination, url, coordination is not None)))
    finally:
        store.close()
    return 0


def cmd_explain(args: argparse.Namespace) -> int:
    from fleetscale.journal.explain import explain
    from fleetscale.journal.operator_log import OperatorLog

    last = _whole(args.last, "--last", 1, EXPLAIN_MAX)
    store = _store(args, _configured(args))
    records = store.spans(args.pool, last)
    if not records:
        say(f"fleetscale: no cycles journaled for pool {args.pool!r} yet", err=True)
        return 1
    oldest = datetime.fromisoformat(records[0]["started_at"])
    events = OperatorLog(store.engine).events(args.pool, since=oldest)
    say(explain(records, events))
    return 0


def _operator_log(store: Any) -> Any:
    from fleetscale.journal.operator_log import OperatorLog

    return OperatorLog(store.engine)


def cmd_pause(args: argparse.Namespace) -> int:
    store = _store(args, _configured(args))
    direction = Direction(args.direction) if args.direction else None
    _operator_log(store).pause(args.pool, direction, args.reason, _who(), datetime.now(UTC))
    say(f"paused {args.pool} ({args.direction or 'up and down'}); the controller applies it next cycle")
    return 0


def cmd_resume(args: argparse.Namespace) -> int:
    store = _store(args, _configured(args))
    event = _operator_log(store).resume(args.pool, args.reason, _who(), datetime.now(UTC))
    say(f"resumed {args.pool} ({event.detail})")
    return 0


def cmd_hold(args: argparse.Namespace) -> int:
    now = datetime.now(UTC)
    try:
        until = moment(args.until, now)
    except argparse.ArgumentTypeError as exc:
        raise ConfigError(f"--until: {exc}") from None
    if not now < until <= now + HOLD_MAX:
        raise ConfigError(f"--until: must be in the future and at most {HOLD_MAX.days} days ahead "
                          f"(got {args.until})")
    units = _whole(args.units, "N", 0, limits.UNITS_MAX)
    loaded = _configured(args)
    if loaded is not None:
        pool = loaded.config.pool(args.pool)
        if not pool.min <= units <= pool.max:
            raise ConfigError(f"N: must be within the pool's min..max {pool.min}..{pool.max} "
                              f"(got {units})")
    store = _store(args, loaded)
    _operator_log(store).hold(args.pool, units, until, args.reason, _who(), now)
    say(f"holding {args.pool} at {units} units until {until.isoformat()}")
    return 0


def _add_history_commands(sub: Any) -> None:
    """``replay`` and ``tune`` (their parsers set their own handlers)."""
    from fleetscale.replay import cli as replay_cli
    from fleetscale.tune import cli as tune_cli

    replay_cli.add_parser(sub)
    tune_cli.add_parser(sub)


HANDLERS = {"run": cmd_run, "check": cmd_check, "status": cmd_status, "explain": cmd_explain,
            "pause": cmd_pause, "resume": cmd_resume, "hold": cmd_hold, "serve": cmd_serve}


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    handler = getattr(args, "handler", None) or HANDLERS[args.command]
    try:
        return int(handler(args) or 0)
    except ConfigError as exc:
        for line in exc.problems:
            say(" ".join(line.split()), err=True)  # one line per problem, always
        return 2
    except TraceError as exc:  # a trace file the user named
        say(f"fleetscale: {' '.join(str(exc).split())}", err=True)
        return 2
    except FleetscaleError as exc:
        say(f"fleetscale: {' '.join(str(exc).split())}", err=True)
        return 1
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # a bug: still one line, no traceback
        say(f"fleetscale: internal error: {type(exc).__name__}: {exc}", err=True)
        return 1


if __name__ == "__main__":
    sys.exit(main())

"""Journal growth: bytes per pool per day of the SQL journal's cycles table, before and after.

A simulated pool runs the real controller cycle (``PoolRunner.cycle()`` with the recommended
policy, a simulated provider and a simulated clock) for ``--cycles`` cycles at a 15 s
interval, journaling into SQLite (a file) and MariaDB (a scratch database on 127.0.0.1:3306,
when it answers). Two loads:

- ``steady``: constant readings (a pool-wide ``load`` and the ``sessions`` of every ready
  instance): the pool settles and holds, as a quiet pool does at night or a queue worker on an
  empty queue;
- ``varying``: the NASA web trace (one row a minute, so a reading holds for 4 cycles) with the
  sessions following it: every few cycles something changes, and the pool scales.

Measured, then scaled to a day (5,760 cycles at 15 s):

- ``rows``: rows in ``fs_cycles``;
- ``payload``: the summed length of every column of ``fs_cycles`` (what the rows hold);
- ``sqlite pages``: the bytes of the SQLite pages that hold ``fs_cycles`` and its indexes
  (``dbstat``), and the growth of the database file (after a WAL checkpoint);
- ``mariadb``: ``data_length + index_length`` of ``fs_cycles`` from ``information_schema``
  (after ``ANALYZE TABLE``; InnoDB allocates in 16 KB pages, then 1 MB extents).

"Before" is the code at ``--before`` (a git revision, exported with ``git archive``; default:
the commit this work started from), "after" is this checkout. Each tree runs in its own
interpreter and the two are printed side by side::

    .venv/bin/python bench/journal_growth.py                 # 2,880 cycles (12 h) per run
    .venv/bin/python bench/journal_growth.py --cycles 5760 --no-mariadb
    .venv/bin/python bench/journal_growth.py --prune-cost   # ms of one 500-row pruning batch
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
#: main before the bounded journal (issue 12, section 4)
BEFORE = "15f067c"
INTERVAL = 15.0
PER_DAY = 86400 / INTERVAL
KIT_FILES = ("src", "tests/__init__.py", "tests/unit/__init__.py", "tests/unit/controller_kit.py")


# --- one tree, in its own interpreter ---------------------------------------------------


def _sessions_source(provider: Any, journal: Any, per_instance: Any) -> Any:
    """Per-instance ``sessions`` of the ready instances in rotation, as a SIP or media source
    reports (a draining instance's sessions come from the drainer: they fall to zero)."""
    from fleetscale.model import InstanceState, Observation

    class Sessions:
        name = metric = "sessions"

        def read(self, pool: str, now: Any) -> list[Any]:
            draining = _draining(journal, pool)
            ready = [i for i in provider.list() if i.state is InstanceState.READY and i.id not in draining]
            each = per_instance(now, len(ready))
            return [Observation("kamailio", "sessions", float(each), now, instance_id=i.id) for i in ready]

    return Sessions()


def _draining(journal: Any, pool: str) -> set[str]:
    """Ids of the instances being drained (the journal's table before the one-state core, the
    pool's saved state after)."""
    if hasattr(journal, "drains"):
        return set(journal.drains(pool))
    from fleetscale.journal.state_store import SqlStateStore

    state = SqlStateStore(journal.engine).load(pool)
    return set(state.drains) if state is not None else set()


def _run(scenario: str, url: str, cycles: int) -> dict[str, float]:
    from tests.unit.controller_kit import kit

    from fleetscale.config import PoolConfig
    from fleetscale.journal.sql import SqlJournal
    from fleetscale.sim.clock import SimClock
    from fleetscale.sim.provider import SimulatedProvider
    from fleetscale.sources.fixed import FixedSource
    from fleetscale.sources.trace import TraceSource, read_trace

    clock = SimClock()
    pool = PoolConfig.model_validate({
        "name": "gw", "interval": INTERVAL, "min": 2, "max": 60, "unit_capacity": 10,
        "provider": {"kind": "simulated"}, "boot_timeout": 600,
    })
    provider = SimulatedProvider(clock, pool.types(), pool="gw", boot_delay=90, drain_time=120, initial=8)
    journal = SqlJournal(url)
    if scenario == "steady":
        load: Any = FixedSource(60.0, name="kamailio-calls")
        sessions = _sessions_source(provider, journal, lambda now, n: 60 // max(n, 1))
    else:
        import fleetscale

        data = Path(str(fleetscale.__file__)).parent / "data" / "nasa_http_jul1995_days5-6_1min.csv"
        trace = read_trace(data)
        load = TraceSource(trace, clock.now(), offset=6 * 3600, scale=8.0, name="nasa-trace")
        sessions = _sessions_source(provider, journal,
                                    lambda now, n: round((load.load_at(now) or 0) / max(n, 1)))
    if hasattr(journal, "add_known"):  # before the one-state core; after it, they are adopted
        journal.add_known("gw", [i.id for i in provider.list()], "launched", clock.now())
    k = kit(Path(tempfile.gettempdir()), pool=pool, sources=[load, sessions], clock=clock,
            provider=provider, journal=journal)
    began = time.perf_counter()
    k.step(cycles)
    seconds = time.perf_counter() - began
    out = {"cycles": cycles, "ms_per_cycle": 1000 * seconds / cycles}
    out |= _measure(journal)
    journal.close()
    return out


def _measure(journal: Any) -> dict[str, float]:
    import sqlalchemy as sa

    from fleetscale.journal.sql import cycles

    cols = [sa.func.coalesce(sa.func.sum(sa.func.length(c)), 0) for c in cycles.c
            if not isinstance(c.type, sa.Integer | sa.Boolean)]
    ints = sum(1 for c in cycles.c if isinstance(c.type, sa.Integer | sa.Boolean))
    with journal.engine.begin() as conn:
        rows = conn.execute(sa.select(sa.func.count()).select_from(cycles)).scalar_one()
        text = sum(conn.execute(sa.select(*cols)).one())
        out = {"rows": rows, "payload": text + 8 * ints * rows}
        if journal.engine.dialect.name == "sqlite":
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
            out["pages"] = conn.exec_driver_sql(
                "SELECT SUM(d.pgsize) FROM dbstat d JOIN sqlite_schema s ON s.name = d.name "
                "WHERE s.tbl_name = 'fs_cycles'").scalar_one()
            path = journal.engine.url.database
            out["file"] = os.path.getsize(path)
        else:
            conn.exec_driver_sql("ANALYZE TABLE fs_cycles")
            out["pages"] = conn.exec_driver_sql(
                "SELECT data_length + index_length FROM information_schema.tables "
                "WHERE table_schema = DATABASE() AND table_name = 'fs_cycles'").scalar_one()
    return {k: float(v) for k, v in out.items()}


def worker(cycles: int, mysql: str | None) -> dict[str, Any]:
    import pymysql  # type: ignore[import-untyped]

    from fleetscale.journal.log import configure_logging

    configure_logging("error")

    results: dict[str, Any] = {}
    for scenario in ("steady", "varying"):
        with tempfile.TemporaryDirectory() as d:
            results[f"{scenario}/sqlite"] = _run(scenario, f"sqlite:///{d}/journal.db", cycles)
        if mysql:
            host, _, port = mysql.partition(":")
            name = f"fs_bench_{os.getpid()}"
            conn = pymysql.connect(host=host, port=int(port or 3306), user="root", autocommit=True)
            try:
                conn.cursor().execute(f"CREATE DATABASE `{name}`")
                url = f"mysql+pymysql://root@{host}:{port or 3306}/{name}"
                results[f"{scenario}/mariadb"] = _run(scenario, url, cycles)
            finally:
                conn.cursor().execute(f"DROP DATABASE IF EXISTS `{name}`")
                conn.close()
    return results


def prune_cost(url: str, rows: int = 20_000, batches: int = 10) -> dict[str, float]:
    """Milliseconds one pruning batch (500 rows) takes in a table of ``rows`` expired cycles of
    realistic size (this checkout only: the code before had no pruning)."""
    from datetime import UTC, datetime, timedelta

    from fleetscale.journal.retention import Pruner
    from fleetscale.journal.sql import SqlJournal, cycles

    journal = SqlJournal(url)
    start = datetime(2026, 1, 1, tzinfo=UTC).replace(tzinfo=None)
    body = "x" * 1800
    with journal.engine.begin() as conn:
        for chunk in range(0, rows, 1000):
            conn.execute(cycles.insert(), [
                {"pool": f"p{k % 50}", "cycle_id": f"c{k}", "started_at": start + timedelta(seconds=k),
                 "finished_at": start + timedelta(seconds=k), "dry_run": False, "n_errors": 0,
                 "record": body, "repeats": 0, "last_at": start + timedelta(seconds=k)}
                for k in range(chunk, min(rows, chunk + 1000))])
    pruner = Pruner(journal.engine, cycles, timedelta(days=14))
    now = datetime(2026, 3, 1, tzinfo=UTC)
    took = []
    for _ in range(batches):
        began = time.perf_counter()
        assert pruner.prune_batch(now) == pruner.batch
        took.append(1000 * (time.perf_counter() - began))
    journal.close()
    took.sort()
    return {"median_ms": took[len(took) // 2], "max_ms": took[-1], "batch": float(pruner.batch)}


# --- side by side -----------------------------------------------------------------------


def _export(rev: str, into: Path) -> Path:
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev, *KIT_FILES],
                             check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into


def _in_tree(tree: Path, cycles: int, mysql: str | None) -> dict[str, Any]:
    env = dict(os.environ, PYTHONPATH=f"{tree / 'src'}{os.pathsep}{tree}")
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", "--cycles", str(cycles)]
    cmd += ["--mysql", mysql] if mysql else ["--no-mariadb"]
    done = subprocess.run(cmd, env=env, cwd=tree, check=True, capture_output=True, text=True)
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def _kb(n: float) -> str:
    return f"{n / 1024:,.0f} KB" if n < 10 * 1024 * 1024 else f"{n / 1024 / 1024:,.1f} MB"


def report(before: dict[str, Any], after: dict[str, Any]) -> str:
    lines = ["bytes per pool per day (15 s cycles), before -> after"]
    head = f"{'run':<17}{'measure':<14}{'before':>12}{'after':>12}{'ratio':>9}"
    lines += [head, "-" * len(head)]
    for key in before:
        b, a = before[key], after.get(key)
        if a is None:
            continue
        scale = PER_DAY / b["cycles"]
        measures = [("rows", "rows"), ("payload", "payload"), ("pages", "table+index")]
        if "file" in b:
            measures.append(("file", "db file"))
        for field, label in measures:
            bv, av = b[field] * scale, a[field] * (PER_DAY / a["cycles"])
            show = (lambda v: f"{v:,.0f}") if field == "rows" else _kb
            ratio = f"{bv / av:,.1f}x" if av else "-"
            lines.append(f"{key:<17}{label:<14}{show(bv):>12}{show(av):>12}{ratio:>9}")
        lines.append(f"{key:<17}{'ms/cycle':<14}{b['ms_per_cycle']:>12.1f}{a['ms_per_cycle']:>12.1f}")
    return "\n".join(lines)


def _prune_report(mysql: str | None) -> int:
    import pymysql

    from fleetscale.journal.log import configure_logging

    configure_logging("error")
    with tempfile.TemporaryDirectory() as d:
        print("sqlite  one prune batch:", prune_cost(f"sqlite:///{d}/journal.db"))
    if mysql:
        host, _, port = mysql.partition(":")
        name = f"fs_bench_prune_{os.getpid()}"
        conn = pymysql.connect(host=host, port=int(port or 3306), user="root", autocommit=True)
        try:
            conn.cursor().execute(f"CREATE DATABASE `{name}`")
            url = f"mysql+pymysql://root@{host}:{port or 3306}/{name}"
            print("mariadb one prune batch:", prune_cost(url))
        finally:
            conn.cursor().execute(f"DROP DATABASE IF EXISTS `{name}`")
            conn.close()
    return 0


def _mysql_default() -> str | None:
    try:
        socket.create_connection(("127.0.0.1", 3306), timeout=1).close()
    except OSError:
        return None
    return "127.0.0.1:3306"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cycles", type=int, default=2880, help="cycles per run (default 2880: 12 h)")
    ap.add_argument("--before", default=BEFORE, help=f"git revision measured as 'before' (default {BEFORE})")
    ap.add_argument("--mysql", default=None, help="MariaDB host:port (default 127.0.0.1:3306 if it answers)")
    ap.add_argument("--no-mariadb", action="store_true")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--json", type=Path, help="also write the numbers here")
    ap.add_argument("--prune-cost", action="store_true",
                    help="only time one pruning batch (500 rows) on SQLite and MariaDB, this checkout")
    args = ap.parse_args(argv)
    mysql = None if args.no_mariadb else (args.mysql or _mysql_default())
    if args.prune_cost:
        return _prune_report(mysql)
    if args.worker:
        print(json.dumps(worker(args.cycles, mysql)))
        return 0
    with tempfile.TemporaryDirectory() as d:
        before = _in_tree(_export(args.before, Path(d)), args.cycles, mysql)
    after = _in_tree(ROOT, args.cycles, mysql)
    print(report(before, after))
    if args.json:
        args.json.write_text(json.dumps({"before": before, "after": after}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())

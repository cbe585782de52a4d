"""How many pools one controller replica carries: CPU, memory and punctuality of the cycles.

    .venv/bin/python bench/scale.py --pools 100 1000 10000 --seconds 60
    .venv/bin/python bench/scale.py --pools 10000 --replicas 2 3 --journal mysql+pymysql://root@127.0.0.1/fs_scale

Each case builds a configuration of N pools (interval ``--interval``, 15 s; a fixed source, the
simulated provider, journal in SQLite or ``--journal``, ``journal.log: false``), builds the
controller exactly as ``fleetscale run`` does (``app.build_controller``) and runs it in real
time. After ``--warmup`` seconds (the first cycles launch the fleets) it measures, for
``--seconds``: CPU time of the process as % of one core, RSS at the end, and the lateness of
every scheduled cycle (its start minus the previous start of the same pool plus the interval;
p50 / p95 / max; and ``due_p95`` / ``due_max``, the scheduler's own start minus due time), how
many cycles ran, and the scheduler's skipped runs (APScheduler's
"maximum number of running instances" warnings in releases before the one-heap scheduler).
Then it stops the controller with the same event SIGINT/SIGTERM set and measures how long the
stop takes.

With ``--replicas R`` (R > 1), R processes run the same configuration with a ``coordination:``
section (the ``sql`` backend on ``--journal``, which must then be a server database); each
reports its own figures and the pools it owned.

The machine's load average is printed with the figures: the numbers mean little without it.
Run it with another release's ``src`` on PYTHONPATH to compare (the figures are measured the
same way: through a journal sink, not the scheduler's own counters).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


class Starts:
    """A journal sink keeping each cycle's pool and start time."""

    required = False

    def __init__(self) -> None:
        self.seen: list[tuple[str, datetime]] = []

    def record(self, rec: Any) -> None:
        self.seen.append((rec.pool, rec.started_at))


class Count(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.n = 0

    def emit(self, record: logging.LogRecord) -> None:
        if "maximum number of running instances" in record.getMessage():
            self.n += 1


def config(pools: int, interval: float, journal: str, replicas: int, initial: int = 0,
           coordinated: bool = False) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "pools": [{"name": f"pool-{i:05d}", "interval": interval, "max": 5,
                   "sources": [{"kind": "fixed", "value": 2}],
                   "provider": {"kind": "simulated", "boot_delay": 0, "initial": initial}}
                  for i in range(pools)],
        "journal": {"sql": journal, "log": False},
    }
    if replicas > 1 or coordinated:
        doc["coordination"] = {"backend": "sql", "ttl": 10, "max_moves": pools}
    return doc


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def measure(path: str, interval: float, warmup: float, seconds: float) -> dict[str, Any]:
    """One replica, in this process."""
    from fleetscale import document
    from fleetscale.app import build_controller
    from fleetscale.config import parse
    from fleetscale.journal.log import configure_logging

    configure_logging("warning")
    counter = Count()
    logging.getLogger("apscheduler").addHandler(counter)
    starts = Starts()
    t0 = time.monotonic()
    controller = build_controller(parse(document.read(path)), log=False, extra_sinks=(starts,))
    built = time.monotonic() - t0
    stop = threading.Event()
    runner = threading.Thread(target=controller.run, kwargs={"stop": stop, "install_signals": False})
    runner.start()
    time.sleep(warmup)
    if getattr(controller, "pacer", None) is not None:
        controller.pacer.lateness.clear()  # type: ignore[union-attr]
    begin_wall, begin_cpu, begin_n = datetime.now().astimezone(), time.process_time(), len(starts.seen)
    time.sleep(seconds)
    cpu = time.process_time() - begin_cpu
    end_n = len(starts.seen)
    rss = rss_mib()
    coordination = getattr(controller, "coordination", None)  # what it owns at the window's end
    owned = len(coordination.coordinator.owned()) if coordination else None
    stopping = time.monotonic()
    stop.set()
    runner.join()
    stop_s = time.monotonic() - stopping
    controller.close()
    last: dict[str, datetime] = {}
    late: list[float] = []
    for pool, at in starts.seen:
        before = last.get(pool)
        last[pool] = at
        if before is not None and at >= begin_wall:
            late.append(max(0.0, (at - before).total_seconds() - interval))
    late.sort()
    pacer = getattr(controller, "pacer", None)
    # the scheduler's own figure: each periodic run's start minus its due time, in the window
    # (includes the grain by which runs batch up, in releases that have one)
    due = sorted(pacer.lateness) if pacer is not None else []
    return {
        "pools": len(controller.runners), "built_s": round(built, 1), "cycles": end_n - begin_n,
        "cpu_pct": round(100 * cpu / seconds, 1), "rss_mib": round(rss),
        "late_p50": round(late[len(late) // 2], 3) if late else None,
        "late_p95": round(late[int(len(late) * 0.95)], 3) if late else None,
        "late_max": round(late[-1], 3) if late else None,
        "skipped": (pacer.skipped if pacer is not None else counter.n),
        "due_p95": round(due[int(len(due) * 0.95)], 3) if due else None,
        "due_max": round(due[-1], 3) if due else None,
        "stop_s": round(stop_s, 2),
        "owned": owned,
    }


def profile(pools: int, rounds: int, top: int) -> None:
    """Where a steady cycle's time goes: every pool cycled twice (the fleets launch), then
    ``rounds`` more rounds under cProfile, in this thread (no scheduler)."""
    import cProfile
    import pstats

    from fleetscale.app import build_controller
    from fleetscale.config import parse
    from fleetscale.journal.log import configure_logging

    configure_logging("warning")
    tmp = Path(tempfile.mkdtemp(prefix="fs-scale-"))
    controller = build_controller(parse(config(pools, 15.0, f"sqlite:///{tmp / 'journal.db'}", 1)), log=False)
    for _ in range(2):
        controller.cycle()
    batching = getattr(controller, "batch_journals", lambda on: [])  # as ``run`` does (newer releases)
    batching(True)
    c0 = time.process_time()
    for _ in range(rounds):
        controller.cycle()
    n = rounds * pools
    print(f"{n} steady cycles: {1000 * (time.process_time() - c0) / n:.3f} ms CPU per cycle (not profiled)")
    prof = cProfile.Profile()
    t0, c0 = time.perf_counter(), time.process_time()
    prof.enable()
    for _ in range(rounds):
        controller.cycle()
    prof.disable()
    print(f"{n} steady cycles: {1000 * (time.perf_counter() - t0) / n:.2f} ms wall, "
          f"{1000 * (time.process_time() - c0) / n:.2f} ms CPU per cycle (profiled)")
    pstats.Stats(prof).sort_stats("cumulative").print_stats(top)
    batching(False)
    controller.close()


def one_case(pools: int, replicas: int, args: argparse.Namespace) -> list[dict[str, Any]]:
    tmp = Path(tempfile.mkdtemp(prefix="fs-scale-"))
    journal = args.journal or f"sqlite:///{tmp / 'journal.db'}"
    if args.journal and args.journal.startswith("mysql"):
        import sqlalchemy as sa

        name = "fs_scale_" + uuid.uuid4().hex[:8]
        base = sa.create_engine(args.journal.rsplit("/", 1)[0] + "/")
        with base.begin() as c:
            c.execute(sa.text(f"CREATE DATABASE `{name}`"))
        base.dispose()
        journal = args.journal.rsplit("/", 1)[0] + "/" + name
    path = tmp / "fleet.json"
    path.write_text(json.dumps(config(pools, args.interval, journal, replicas, args.initial,
                                      args.coordinated)))
    if replicas == 1 and not args.coordinated:
        return [measure(str(path), args.interval, args.warmup, args.seconds)]
    argv = [sys.executable, __file__, "--child", str(path), "--interval", str(args.interval),
            "--warmup", str(args.warmup), "--seconds", str(args.seconds)]
    procs = [subprocess.Popen(argv, stdout=subprocess.PIPE, text=True) for _ in range(replicas)]
    # the database server's CPU in the replicas' measured window (the same warmup and length)
    server = server_pid() if args.journal else None
    time.sleep(args.warmup)
    db0 = cpu_seconds(server)
    time.sleep(args.seconds)
    db1 = cpu_seconds(server)
    out = []
    for p in procs:
        stdout, _ = p.communicate(timeout=args.warmup + args.seconds + 900)
        out.append(json.loads(stdout.strip().splitlines()[-1]))
    if db0 is not None and db1 is not None:
        for r in out:
            r["db_cpu_pct"] = round(100 * (db1 - db0) / args.seconds, 1)
    return out


def server_pid() -> int | None:
    """The local MariaDB/MySQL server's process id (None when it is not on this machine)."""
    for name in ("mariadbd", "mysqld"):
        found = subprocess.run(["pidof", name], capture_output=True, text=True).stdout.split()
        if found:
            return int(found[0])
    return None


def cpu_seconds(pid: int | None) -> float | None:
    """User + system CPU seconds of process ``pid`` so far (None without one)."""
    if pid is None:
        return None
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pools", type=int, nargs="+", default=[100, 1000, 10000])
    ap.add_argument("--replicas", type=int, nargs="+", default=[1])
    ap.add_argument("--interval", type=float, default=15.0)
    ap.add_argument("--warmup", type=float, default=30.0)
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--journal", help="SQLAlchemy URL of a server (a fresh database per case)")
    ap.add_argument("--initial", type=int, default=0,
                    help="instances each pool's simulated fleet already runs at start (3: the pool's "
                         "desired size, so the first cycles adopt instead of launching: replicas "
                         "restarted on running fleets rather than 10,000 fleets launched at once)")
    ap.add_argument("--coordinated", action="store_true",
                    help="one replica with the coordination section too (the baseline for replicas: "
                         "leases renewed, every write fenced)")
    ap.add_argument("--profile", type=int, metavar="ROUNDS", help="profile ROUNDS steady rounds instead")
    ap.add_argument("--child", metavar="CONFIG", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.profile:
        profile(args.pools[0], args.profile, 45)
        return
    if args.child:
        print(json.dumps(measure(args.child, args.interval, args.warmup, args.seconds)))
        return
    for pools in args.pools:
        for replicas in args.replicas:
            load = os.getloadavg()
            results = one_case(pools, replicas, args)
            for i, r in enumerate(results):
                print(json.dumps({"replicas": replicas, "replica": i, **r,
                                  "load_before": [round(x, 2) for x in load],
                                  "load_after": [round(x, 2) for x in os.getloadavg()]}), flush=True)
            if len(results) > 1 or args.coordinated:
                print(json.dumps({"replicas": replicas, "pools": pools,
                                  "cycles_total": sum(r["cycles"] for r in results),
                                  "cpu_pct_each": [r["cpu_pct"] for r in results],
                                  "late_p95_worst": max((r["late_p95"] or 0) for r in results),
                                  "cpu_pct_sum": round(sum(r["cpu_pct"] for r in results), 1),
                                  "db_cpu_pct": results[0].get("db_cpu_pct"),
                                  "median_cpu": statistics.median(r["cpu_pct"] for r in results)}),
                      flush=True)


if __name__ == "__main__":
    main()

"""Does serving the HTTP API slow the controller's cycles?

One simulated pool (``simulated`` provider, a looping trace) journaling to a SQLite file, its
cycles run back to back on the wall clock (``controller.cycle()`` in a loop: the most cycles
per second this process can do), in four settings, interleaved over ``--rounds`` rounds of
``--seconds`` each so that other work on the machine falls on all of them alike:

- ``no api``: the controller alone;
- ``api idle``: the API served from the same process (uvicorn in its thread), no client;
- ``api + dashboard``: a client process polling what the dashboard polls, every 2 s
  (pools, pool, instances, decisions?limit=15, series since the last point);
- ``api + busy client``: the same requests back to back, as fast as the server answers.

Prints cycles/s (median of the rounds), the cycle's wall time p50/p95 and CPU time in ms, the
CPU the rest of the process used (the API), and the requests the client made. The client is a
separate process, as a browser is. On a shared machine wall times carry others' load: the
interleaved rounds spread it over the settings, the CPU times do not carry it.

    PYTHONPATH=src python bench/api_overhead.py [--seconds 10] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing as mp
import statistics
import tempfile
import time
import urllib.parse
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

SETTINGS = ("no api", "api idle", "api + dashboard", "api + busy client")


def _document(tmp: Path) -> dict[str, Any]:
    trace = tmp / "trace.csv"
    rows = ["t_seconds,load"] + [f"{t},{45 + 30 * math.sin(2 * math.pi * t / 40):.1f}" for t in range(80)]
    trace.write_text("\n".join(rows) + "\n")
    (tmp / "token").write_text("bench-token\n")
    return {
        "pools": [{"name": "media", "interval": 1, "min": 1, "max": 12, "unit_capacity": 10,
                   "policies": [{"kind": "target", "utilisation": 0.8}],
                   "governor": {"down": {"stabilisation": 0}},
                   "sources": [{"kind": "trace", "path": str(trace), "loop": True}],
                   "provider": {"kind": "simulated", "boot_delay": 0, "initial": 3}}],
        "journal": {"sql": f"sqlite:///{tmp / 'journal.db'}", "log": False},
        "api": {"listen": "127.0.0.1:0", "token_file": str(tmp / "token")},
    }


def _poll(url: str, every: float, seconds: float, out: Any) -> None:
    """The dashboard's requests, every ``every`` seconds (0: back to back), for ``seconds``."""
    last: float | None = None
    n = 0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        began = time.monotonic()
        since = "3h" if last is None else datetime.fromtimestamp(last, UTC).isoformat()
        for path in ("/api/pools", "/api/pools/media", "/api/pools/media/instances",
                     "/api/pools/media/decisions?limit=15",
                     "/api/pools/media/series?since=" + urllib.parse.quote(since)):
            with urllib.request.urlopen(url + path, timeout=30) as r:
                body = json.load(r)
            n += 1
        if body["t"]:
            last = body["t"][-1]
        if every:
            time.sleep(max(0.0, every - (time.monotonic() - began)))
    out.put(n)


def _run(controller: Any, seconds: float) -> tuple[list[float], list[float], float]:
    """Wall and CPU (this thread) seconds of each cycle, and the CPU seconds of the whole process
    (the cycles plus whatever else runs in it: the API's threads)."""
    wall, cpu = [], []
    process = time.process_time()
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        began, began_cpu = time.perf_counter(), time.thread_time()
        controller.cycle()
        wall.append(time.perf_counter() - began)
        cpu.append(time.thread_time() - began_cpu)
    return wall, cpu, time.process_time() - process


def _setting(loaded: Any, setting: str, seconds: float, ctx: Any) -> tuple[tuple[list[float], list[float],
                                                                                 float], int]:
    """Cycle times of one run of ``setting`` and the requests its client made."""
    from fleetscale.api.server import RunApi
    from fleetscale.app import build_controller

    api = RunApi.prepare(loaded) if setting != "no api" else None
    controller = build_controller(loaded, extra_sinks=api.sinks if api else ())
    client = None
    queue = ctx.Queue()
    try:
        if api is not None:
            api.start()
            assert api.server is not None
            if setting.startswith("api + "):
                every = 2.0 if setting == "api + dashboard" else 0.0
                client = ctx.Process(target=_poll, args=(api.server.url, every, seconds, queue))
                client.start()
                time.sleep(1.0)  # the client's interpreter starts
        measured = _run(controller, seconds)
        n = 0
        if client is not None:
            client.join(seconds + 60)
            n = queue.get(timeout=10)
        return measured, n
    finally:
        if api is not None:
            api.close()
        controller.close()


def main() -> None:
    from fleetscale import config
    from fleetscale.journal.log import configure_logging

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    configure_logging("warning")
    tmp = Path(tempfile.mkdtemp(prefix="fleetscale-bench-api-"))
    loaded = config.parse(_document(tmp))
    ctx = mp.get_context("spawn")
    rates: dict[str, list[float]] = {s: [] for s in SETTINGS}
    wall_ms: dict[str, list[float]] = {s: [] for s in SETTINGS}
    cpu_ms: dict[str, list[float]] = {s: [] for s in SETTINGS}
    other_cpu: dict[str, float] = {s: 0.0 for s in SETTINGS}
    spent: dict[str, float] = {s: 0.0 for s in SETTINGS}
    requests: dict[str, int] = {s: 0 for s in SETTINGS}
    _setting(loaded, "no api", 2.0, ctx)  # warm up: imports, the journal's first rows
    for _ in range(args.rounds):
        for setting in SETTINGS:
            (wall, cpu, process), n = _setting(loaded, setting, args.seconds, ctx)
            rates[setting].append(len(wall) / sum(wall) if wall else 0.0)
            wall_ms[setting] += [t * 1000 for t in wall]
            cpu_ms[setting] += [t * 1000 for t in cpu]
            other_cpu[setting] += max(0.0, process - sum(cpu))
            spent[setting] += sum(wall)
            requests[setting] += n
    from fleetscale.journal.sql import SqlJournal

    journal = SqlJournal(loaded.config.journal.sql)
    total = len(journal.cycles("media", 10_000_000))
    journal.close()
    print(f"api overhead: {args.rounds} rounds x {args.seconds:g} s per setting, interleaved; the journal "
          f"ended with {total} cycles")
    base = statistics.median(rates["no api"])
    print(f"{'setting':<18} {'cycles/s':>8} {'vs no api':>9} {'p50 ms':>7} {'p95 ms':>7} {'cpu ms':>7} "
          f"{'other cpu':>9} {'requests':>8}")
    for s in SETTINGS:
        ms = sorted(wall_ms[s])
        rate = statistics.median(rates[s])
        print(f"{s:<18} {rate:8.1f} {rate / base - 1:+9.1%} {ms[len(ms) // 2]:7.2f} "
              f"{ms[int(len(ms) * 0.95)]:7.2f} {statistics.median(cpu_ms[s]):7.2f} "
              f"{other_cpu[s] / spent[s]:9.1%} {requests[s]:8d}")
    print("cycles/s: median over the rounds of wall-clock cycles per second; p50/p95 ms: wall time of "
          "one cycle; cpu ms: median CPU time of one cycle (its own thread); other cpu: CPU the rest "
          "of the process used (the API's threads) per second of cycling")


if __name__ == "__main__":
    main()

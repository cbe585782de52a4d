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

Prints cycles/s (median of the rounds) and the cycle time p50/p95 in ms, and the requests the
client made. The client is a separate process, as a browser is.

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


def _run(controller: Any, seconds: float) -> list[float]:
    times = []
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        began = time.perf_counter()
        controller.cycle()
        times.append(time.perf_counter() - began)
    return times


def _setting(loaded: Any, setting: str, seconds: float, ctx: Any) -> tuple[list[float], int]:
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
        times = _run(controller, seconds)
        n = 0
        if client is not None:
            client.join(seconds + 60)
            n = queue.get(timeout=10)
        return times, n
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
    cycle_ms: dict[str, list[float]] = {s: [] for s in SETTINGS}
    requests: dict[str, int] = {s: 0 for s in SETTINGS}
    _setting(loaded, "no api", 2.0, ctx)  # warm up: imports, the journal's first rows
    for _ in range(args.rounds):
        for setting in SETTINGS:
            times, n = _setting(loaded, setting, args.seconds, ctx)
            rates[setting].append(len(times) / sum(times) if times else 0.0)
            cycle_ms[setting] += [t * 1000 for t in times]
            requests[setting] += n
    from fleetscale.journal.sql import SqlJournal

    journal = SqlJournal(loaded.config.journal.sql)
    total = len(journal.cycles("media", 10_000_000))
    journal.close()
    print(f"api overhead: {args.rounds} rounds x {args.seconds:g} s per setting; the journal ended with "
          f"{total} cycles")
    base = statistics.median(rates["no api"])
    print(f"{'setting':<20} {'cycles/s':>9} {'vs no api':>10} {'p50 ms':>8} {'p95 ms':>8} {'requests':>9}")
    for s in SETTINGS:
        ms = sorted(cycle_ms[s])
        rate = statistics.median(rates[s])
        print(f"{s:<20} {rate:9.1f} {rate / base - 1:+10.1%} {ms[len(ms) // 2]:8.2f} "
              f"{ms[int(len(ms) * 0.95)]:8.2f} {requests[s]:9d}")


if __name__ == "__main__":
    main()

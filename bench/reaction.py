"""Reaction latency on the real stack: Kamailio 5.6 (registrar, dispatcher, dialog, evapi) on
MariaDB, sipp gateways launched by the ``local`` provider, a sipp caller, and the real
controller (``Controller.run``) with a long interval (60 s), so every reaction measured here
comes from the event path (Kamailio's evapi events -> debounced extra cycles).

The caller places one call every ``--call-gap`` seconds, each held to the end. The pool carries
2 calls per gateway (target utilisation 1.0), so the (2N+1)-th concurrent call crosses the
capacity of N gateways: ``--crossings`` crossings, each answered by one launch.

Printed (p50 / p95 / max over the samples):

- **crossing -> provider.launch**: from the Kamailio timestamp (``$TV``) of the call-start
  event of the crossing call (the moment Kamailio's active calls crossed the threshold: the
  call counts in the dialog profile from then on) to the moment the controller called
  ``provider.launch`` for the gateway that answers it (the k-th gateway launched after the
  first answers the k-th crossing);
- **registration -> dispatcher membership**: from the Kamailio timestamp of a gateway's
  ``register`` event to the first ``dispatcher.list`` that lists it (polled every 20 ms, so
  each figure may be up to 20 ms late).

Run (needs kamailio, kamailio-mysql-modules, kamailio-extra-modules, sip-tester and MariaDB on
127.0.0.1:3306 or a private one started by the test fixtures)::

    .venv/bin/python bench/reaction.py --crossings 10 --call-gap 1.5
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "src"))

from tests.fixtures.kamailio import Kamailio, running_kamailio, start_caller  # noqa: E402
from tests.fixtures.mysql import MySQL  # noqa: E402
from tests.fixtures.services import answers  # noqa: E402

from fleetscale.app import build_controller  # noqa: E402
from fleetscale.config import parse  # noqa: E402
from fleetscale.journal.record import CycleRecord  # noqa: E402
from fleetscale.kamailio.evapi import EvapiWatch, KamailioEvent  # noqa: E402
from fleetscale.kamailio.rpc import KamailioRpc, RpcError  # noqa: E402
from fleetscale.sim.clock import WallClock  # noqa: E402


class Events:
    """The bench's own evapi client: every Kamailio event with the time it arrived."""

    def __init__(self, address: str) -> None:
        self.items: list[KamailioEvent] = []
        self.lock = threading.Lock()
        self.watch = EvapiWatch(address, self._add, lambda: None, lambda _: None, "bench").start()

    def _add(self, event: KamailioEvent) -> None:
        with self.lock:
            self.items.append(event)

    def of(self, kind: str) -> list[KamailioEvent]:
        with self.lock:
            return [e for e in self.items if e.kind == kind]


class Members:
    """Polls ``dispatcher.list`` every 20 ms: when each destination was first listed."""

    def __init__(self, rpc_url: str) -> None:
        self.first: dict[str, float] = {}
        self.rpc = KamailioRpc(rpc_url, timeout=2)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _loop(self) -> None:
        while not self.stop.wait(0.02):
            try:
                uris = [uri for (_, uri) in self.rpc.dispatcher_states()]
            except RpcError:
                continue
            now = time.time()
            for uri in uris:
                self.first.setdefault(uri, now)

    def close(self) -> None:
        self.stop.set()
        self.thread.join(5)
        self.rpc.close()


class TimedProvider:
    """Wraps the pool's provider: when the controller called ``launch`` for each instance."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.launches: list[tuple[float, str, str | None]] = []  # (time, id, address)

    def launch(self, type: str, count: int, request_id: str) -> Any:
        at = time.time()
        made = self.inner.launch(type, count, request_id)
        self.launches.extend((at, i.id, i.address) for i in made)
        return made

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


class Recorder:
    def __init__(self) -> None:
        self.records: list[CycleRecord] = []

    def record(self, cycle: CycleRecord) -> None:
        self.records.append(cycle)


def pool_doc(k: Kamailio, state: Path, crossings: int, interval: float) -> dict[str, Any]:
    db = {"host": k.mysql.host, "port": k.mysql.port, "user": k.user, "password": k.password,
          "database": k.database}
    return {"pools": [{
        "name": "sip", "interval": interval, "min": 1, "max": crossings + 1, "unit_capacity": 2,
        "instance_types": [{"name": "gateway"}],
        "policies": [{"kind": "target", "metric": "load", "utilisation": 1.0}],
        "sources": [{"kind": "kamailio", "db": db, "rpc_url": k.rpc_url, "gw_prefix": "gw-",
                     "evapi_address": k.evapi_address}],
        "provider": {"kind": "local", "registrar": k.registrar, "name_prefix": "gw-", "expires": 30,
                     "lifetime": 900, "state_dir": str(state / "gw")},
        "drainer": {"kind": "kamailio", "db": db, "rpc_url": k.rpc_url, "gw_prefix": "gw-"},
        "require_registration": True,
    }], "journal": {"sql": f"sqlite:///{state / 'journal.db'}", "log": False}}


def wait(check: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise SystemExit(f"bench: {what} not within {timeout} s")


def summary(name: str, values: list[float]) -> dict[str, Any]:
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, max(0, round(0.95 * len(ordered) + 0.5) - 1))]
    out = {"n": len(values), "p50": statistics.median(ordered), "p95": p95, "max": ordered[-1],
           "samples": [round(v, 3) for v in values]}
    print(f"{name:40s} n={out['n']:2d}  p50 {out['p50']:.3f} s  p95 {out['p95']:.3f} s  "
          f"max {out['max']:.3f} s")
    return out


def run(crossings: int, call_gap: float, interval: float) -> dict[str, Any]:
    if not answers("127.0.0.1", 3306):
        raise SystemExit("bench: MariaDB is not answering on 127.0.0.1:3306")
    with running_kamailio(MySQL("127.0.0.1", 3306)) as k, tempfile.TemporaryDirectory() as tmp:
        state = Path(tmp)
        events = Events(k.evapi_address)
        members = Members(k.rpc_url)
        recorder = Recorder()
        controller = build_controller(parse(pool_doc(k, state, crossings, interval)), WallClock(),
                                      extra_sinks=(recorder,))
        runner = controller.runners[0]
        # the provider call itself: under the write-ahead log (after the intent is written) when
        # there is one, else under the actor
        holder: Any = runner.wal if runner.wal is not None else runner.actor
        timed = TimedProvider(holder.provider)
        holder.provider = timed
        stop = threading.Event()
        loop = threading.Thread(target=controller.run, kwargs={"stop": stop, "install_signals": False})
        loop.start()
        caller = None
        try:
            wait(lambda: timed.launches and f"sip:{timed.launches[0][2]}" in members.first, 20,
                 "the first gateway in the dispatcher set")
            calls = 2 * crossings + 1
            hold_ms = int((calls * call_gap + 20) * 1000)
            caller = start_caller(k, state / "caller", calls=calls, hold_ms=hold_ms, rate=1.0 / call_gap)
            wait(lambda: len(timed.launches) == crossings + 1
                 and all(f"sip:{a}" in members.first for _, _, a in timed.launches),
                 calls * call_gap + 30, f"{crossings} launches, all in the dispatcher set")
            starts = sorted(e.ts or 0.0 for e in events.of("call-start"))
            reaction = [timed.launches[j][0] - starts[2 * j] for j in range(1, crossings + 1)]
            registered = {e.user: e.ts or 0.0 for e in reversed(events.of("register"))}
            joining = [members.first[f"sip:{a}"] - registered[i] for _, i, a in timed.launches]
            scheduled = sum(1 for r in recorder.records
                            if not any(x.startswith("extra cycle: ") for x in r.outcome))
            print(f"crossings {crossings}, one call every {call_gap} s, interval {interval} s: "
                  f"{len(recorder.records)} cycles, {scheduled} scheduled")
            return {
                "crossings": crossings, "call_gap": call_gap, "interval": interval,
                "cycles": len(recorder.records), "scheduled_cycles": scheduled,
                "crossing_to_launch": summary("crossing -> provider.launch", reaction),
                "registration_to_dispatcher": summary("registration -> dispatcher membership", joining),
            }
        finally:
            stop.set()
            loop.join(30)
            if caller is not None:
                caller.stop()
            timed.inner.terminate([i.id for i in timed.inner.list()], "bench-cleanup")
            controller.close()
            members.close()
            events.watch.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--crossings", type=int, default=10)
    ap.add_argument("--call-gap", type=float, default=1.5, help="seconds between two calls")
    ap.add_argument("--interval", type=float, default=60.0, help="the pool's scheduled interval")
    ap.add_argument("--json", type=Path, help="also write the figures here")
    args = ap.parse_args()
    if not 1 <= args.crossings <= 40 or not 0.05 <= args.call_gap <= 30 or not 1 <= args.interval <= 3600:
        ap.error("--crossings 1-40, --call-gap 0.05-30 s, --interval 1-3600 s")
    result = run(args.crossings, args.call_gap, args.interval)
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()

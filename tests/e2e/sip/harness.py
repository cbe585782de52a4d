"""Shared pieces of the SIP end-to-end tests: the pool document, a loop that drives the real
controller one cycle at a time, readers of cycle records, and live call counts from Kamailio."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fleetscale.controller import Controller
from fleetscale.journal.record import CycleRecord
from fleetscale.kamailio.rpc import KamailioRpc
from fleetscale.model import InstanceState
from tests.fixtures.kamailio import Kamailio

CALLS_PER_GW = 2  # unit_capacity: desired gateways = ceil(calls / 2)


def pool_doc(k: Kamailio, name: str, prefix: str, setid: int, registrar: str, state: Path,
             **pool: Any) -> dict[str, Any]:
    db = {"host": k.mysql.host, "port": k.mysql.port, "user": k.user, "password": k.password,
          "database": k.database}
    return {
        "name": name, "interval": 0.5, "min": 1, "max": 3, "unit_capacity": CALLS_PER_GW,
        "instance_types": [{"name": "gateway"}],
        "policies": [{"kind": "target", "metric": "load", "utilisation": 1.0}],
        "governor": {"down": {"stabilisation": 0}},
        "sources": [{"kind": "kamailio", "db": db, "rpc_url": k.rpc_url, "gw_prefix": prefix, "setid": setid,
                     "unregistered_grace": 5}],
        "provider": {"kind": "local", "registrar": registrar, "name_prefix": prefix, "expires": 4,
                     "lifetime": 300, "state_dir": str(state)},
        "drainer": {"kind": "kamailio", "db": db, "rpc_url": k.rpc_url, "setid": setid, "gw_prefix": prefix},
        "require_registration": True,
        **pool,
    }


@dataclass
class Loop:
    """Drives the controller one cycle at a time and keeps every record."""

    controller: Controller
    records: list[CycleRecord] = field(default_factory=list)
    pause: float = 0.25

    def cycle(self) -> dict[str, CycleRecord]:
        got = {r.pool: r for r in self.controller.cycle()}
        self.records.extend(got.values())
        return got

    def until(self, check: Callable[[CycleRecord], object], timeout: float, what: str,
              pool: str = "sip") -> CycleRecord:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            record = self.cycle()[pool]
            if check(record):
                return record
            time.sleep(self.pause)
        raise AssertionError(f"{what}: not within {timeout} s; last outcome "
                             f"{[r.outcome for r in self.records[-4:]]}, errors {self.records[-1].errors}")

    def of(self, pool: str) -> list[CycleRecord]:
        return [r for r in self.records if r.pool == pool]


def ready(record: CycleRecord) -> list[str]:
    return sorted(i.id for i in record.instances if i.state is InstanceState.READY)


def outcome_ids(record: CycleRecord, verb: str) -> list[str]:
    """Instance ids in outcome lines like 'drain begun on gw-1' / 'terminated gw-1 (...)'."""
    ids = []
    for line in record.outcome:
        if line.startswith(verb):
            ids.append(line[len(verb):].split()[0].rstrip(","))
    return ids


def launched(record: CycleRecord) -> list[str]:
    out: list[str] = []
    for line in record.outcome:
        if line.startswith("launched"):
            out.extend(x.strip() for x in line.split(":", 1)[1].split(","))
    return out


def sessions_of(record: CycleRecord, instance_id: str) -> float | None:
    for o in record.observations:
        if o.metric == "sessions" and o.instance_id == instance_id and o.ok:
            return o.value
    return None


class Calls:
    """The gateways' live call counts, straight from Kamailio's dialog profiles."""

    def __init__(self, k: Kamailio) -> None:
        self.rpc = KamailioRpc(k.rpc_url)

    def on(self, address: str) -> int:
        return self.rpc.profile_size("gw", f"sip:{address}")

    def total(self) -> int:
        return self.rpc.profile_size("gw")

    def wait_total(self, n: int, timeout: float = 10) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.total() == n:
                return
            time.sleep(0.05)
        raise AssertionError(f"expected {n} active calls, have {self.total()}")

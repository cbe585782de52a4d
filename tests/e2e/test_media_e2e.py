"""End to end: the controller scales a media pool from room load (Redis) with the simulated
provider, drains gateways with the media_redis drainer, and the journal explains every step.

The test plays the application: each simulated 30 s it opens or closes rooms through the
allocator protocol (``RoomAllocator``) to follow a load profile, oldest rooms closing first.
After every cycle it checks the invariants against Redis itself: rooms only ever leave a
draining gateway, a gateway is terminated only with zero rooms, and no open room is lost.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pytest
import redis

from fleetscale import app, config
from fleetscale.journal.explain import explain
from fleetscale.journal.sql import SqlJournal
from fleetscale.media import KeySchema, MediaRegistry, RoomAllocator
from fleetscale.model import InstanceState
from fleetscale.sim.clock import SimClock

pytestmark = pytest.mark.e2e

INTERVAL = 30
#: rooms the application wants open, one value per cycle: quiet, a ramp to 40, a plateau, back to 4
PROFILE = [4] * 3 + list(range(8, 41, 4)) + [40] * 8 + list(range(36, 3, -4)) + [4] * 24


class RoomApp:
    """The application: keeps ``want`` rooms open through the allocator. Each room lasts 2 to 8
    cycles (seeded), so a draining gateway holds live rooms for a while before it empties."""

    def __init__(self, alloc: RoomAllocator, seed: int = 11) -> None:
        self.alloc = alloc
        self.ends: dict[str, int] = {}  # open room -> the step at which it closes
        self.refused = 0
        self._rng = random.Random(seed)
        self._next = 0

    @property
    def open(self) -> list[str]:
        return list(self.ends)

    def follow(self, want: int, step: int) -> None:
        for room in [r for r, end in self.ends.items() if end <= step]:
            self._close(room)
        while len(self.ends) > want:  # load falls: the rooms closest to their end close first
            self._close(min(self.ends, key=lambda r: (self.ends[r], r)))
        while len(self.ends) < want:
            room = f"room-{self._next}"
            if not self.alloc.place(room).ok:
                self.refused += 1  # no ready gateway has room yet: retried next step
                return
            self._next += 1
            self.ends[room] = step + self._rng.randint(2, 8)

    def _close(self, room: str) -> None:
        assert self.alloc.release(room).gateway is not None
        del self.ends[room]


def document(redis_url: str, prefix: str, journal: str, self_registration: bool = False) -> dict[str, object]:
    media = {"url": redis_url, "prefix": prefix}
    pool: dict[str, object] = {
        "name": "conf",
        "interval": INTERVAL,
        "min": 1,
        "max": 6,
        "unit_capacity": 10,  # rooms per gateway
        "policies": [{"kind": "target", "metric": "load", "target": 8}],
        "governor": {"down": {"stabilisation": 60}},
        "sources": [{"kind": "media_redis", **media}],
        "provider": {"kind": "simulated", "boot_delay": 60, "initial": 1, "seed": 3},
        "drainer": {"kind": "media_redis", **media},
    }
    if self_registration:
        pool["require_registration"] = True
        pool["drainer"] = {"kind": "media_redis", "register_instances": False, **media}
    return {"pools": [pool], "journal": {"sql": journal, "log": False}}


@dataclass
class Run:
    """What a run saw, checked against Redis after every cycle."""

    ready_counts: list[int] = field(default_factory=list)
    terminated: list[str] = field(default_factory=list)
    rooms_at_drain: dict[str, int] = field(default_factory=dict)
    draining_rooms: dict[str, set[str]] = field(default_factory=dict)
    addresses: dict[str, str] = field(default_factory=dict)


def drive(redis_url: str, client: redis.Redis, prefix: str, tmp_path: Path, self_registration: bool
          ) -> tuple[Run, list[dict[str, object]], RoomApp, MediaRegistry, list[str]]:
    journal_url = f"sqlite:///{tmp_path / 'journal.db'}"
    clock = SimClock(datetime(2026, 3, 2, 8, 0, tzinfo=UTC))
    loaded = config.parse(document(redis_url, prefix, journal_url, self_registration))
    controller = app.build_controller(loaded, clock, log=False)
    provider = controller.runners[0].provider
    registry = MediaRegistry(client, KeySchema.for_pool("conf", prefix))
    keys = registry.keys
    application = RoomApp(RoomAllocator(client, "conf", default_capacity=10, prefix=prefix))
    run = Run()

    def gateway(iid: str) -> str:  # fleetscale registers under the id, a gateway under its address
        return iid if client.exists(keys.gateway(iid)) or iid not in run.addresses else run.addresses[iid]

    try:
        for step, want in enumerate(PROFILE):
            listed = provider.list()
            run.addresses.update({i.id: i.address for i in listed if i.address})
            if self_registration:  # each booted gateway's agent registers itself, by address
                for inst in listed:
                    if inst.state is InstanceState.READY and inst.address:
                        registry.register(inst.address, address=inst.address, capacity=10)
            application.follow(want, step)
            record = controller.cycle()[0]
            assert not record.errors, record.errors
            for line in record.outcome:
                if m := re.match(r"drain begun on (\S+)", line):
                    run.rooms_at_drain[m.group(1)] = client.scard(keys.gateway_rooms(gateway(m.group(1))))
                if m := re.match(r"terminated (\S+)", line):  # only with zero rooms
                    run.terminated.append(m.group(1))
                    assert client.scard(keys.gateway_rooms(gateway(m.group(1)))) == 0, line
            for gw in registry.view().gateways:  # rooms only ever leave a draining gateway
                if gw.state != "draining":
                    run.draining_rooms.pop(gw.id, None)
                    continue
                now = set(client.smembers(keys.gateway_rooms(gw.id)))
                assert now <= run.draining_rooms.get(gw.id, now), f"a room was placed on draining {gw.id}"
                run.draining_rooms[gw.id] = now
            # no open room is lost: each is assigned to a live instance's gateway
            live = [i for i in provider.list() if i.state is InstanceState.READY]
            assignments = client.hgetall(keys.assignments)
            assert set(assignments) == set(application.open)
            assert set(assignments.values()) <= {gateway(i.id) for i in live}
            run.ready_counts.append(len(live))
            clock.advance(INTERVAL)
        final = sorted(gateway(i.id) for i in provider.list() if i.state is InstanceState.READY)
    finally:
        controller.close()
    records = SqlJournal(journal_url).cycles("conf", last=len(PROFILE))
    return run, records, application, registry, final


def check_scaled_up_and_down(run: Run, registry: MediaRegistry, final: list[str]) -> None:
    assert max(run.ready_counts) >= 5  # 40 rooms / 8 per gateway
    assert run.ready_counts[-1] == 1  # back to min with 4 rooms
    assert len(run.terminated) >= 4 and set(run.terminated) <= set(run.rooms_at_drain)
    assert any(n > 0 for n in run.rooms_at_drain.values()), run.rooms_at_drain  # drains waited for rooms
    # the registry follows the fleet: one entry per live instance, none left for the terminated
    assert sorted(g.id for g in registry.view().gateways) == final


def test_media_pool_scales_up_and_down(redis_url: str, redis_client: redis.Redis, redis_prefix: str,
                                       tmp_path: Path) -> None:
    """fleetscale registers each ready instance; the journal tells every step."""
    run, records, _, registry, final = drive(redis_url, redis_client, redis_prefix + "{pool}:", tmp_path,
                                             self_registration=False)
    check_scaled_up_and_down(run, registry, final)
    assert len(records) == len(PROFILE)
    text = explain(records)
    assert re.search(r"UP 1 -> \d+ units", text)
    assert re.search(r"DOWN \d+ -> \d+ units", text)
    for phrase in ("launched 1 x default", "media: registered gateway sim-", "drain begun on sim-",
                   "(drained: 0 sessions after", "media: removed gateway sim-", "load=", "media_redis"):
        assert phrase in text, phrase
    assert re.search(r"drained: 0 sessions after ([6-9]\d|\d{3,}) s", text)  # waited >= 2 cycles
    ups = [r for r in records if r["decision"] and r["decision"]["direction"] == "up"]  # type: ignore[index]
    assert ups and all("load" in r["decision"]["reason"] for r in ups)  # type: ignore[index]


def test_self_registered_gateways_are_adopted(redis_url: str, redis_client: redis.Redis, redis_prefix: str,
                                              tmp_path: Path) -> None:
    """Gateways register themselves by address; the pool requires registration; fleetscale
    adopts the entries, drains them by address and removes them once terminated."""
    run, records, _, registry, final = drive(redis_url, redis_client, redis_prefix + "{pool}:", tmp_path,
                                             self_registration=True)
    check_scaled_up_and_down(run, registry, final)
    text = explain(records)
    assert "media: registered gateway" not in text  # register_instances: false
    assert re.search(r"media: adopted gateway sim-\d+\.sim\.invalid as instance sim-\d+", text)
    removed = r"media: removed gateway sim-\d+\.sim\.invalid: no instance matches it and it is drained"
    assert re.search(removed, text)
    assert all(g.instance_id for g in registry.view().gateways)

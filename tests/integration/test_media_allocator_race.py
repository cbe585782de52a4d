"""Room placement racing a drain, on a real Redis.

The claim under test: once a drain has committed (its clock value ``drain_seq``), no new room
lands on that gateway. Every placement and every state change takes the next value of the
pool's clock in the same atomic step as its write, so a placement on the drained gateway with
``seq > drain_seq`` is a violation. ``NaiveAllocator`` (read the states, then write the room in a
second round trip) shows that the check catches the unsafe protocol, deterministically and
under real concurrency.
"""

from __future__ import annotations

import itertools
import multiprocessing
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import pytest
import redis

from fleetscale.drainers.media_redis import MediaRedisDrainer
from fleetscale.media import KeySchema, MediaRegistry, Placement, RoomAllocator
from fleetscale.media.reconcile import ReconcileOptions
from fleetscale.model import Instance, InstanceState
from tests.integration.media_support import FakeClock

pytestmark = pytest.mark.integration

WORKERS = 8
PER_WORKER = 200
GATEWAYS = ("g0", "g1", "g2", "g3")


@dataclass(frozen=True)
class Event:
    kind: str  # "place" | "retry" | "release"
    room: str
    gateway: str | None
    new: bool
    seq: int


def late_placements(events: Sequence[Event], gateway: str, drain_seq: int) -> list[Event]:
    """New rooms placed on ``gateway`` after its drain committed: must be none."""
    return [e for e in events if e.kind == "place" and e.new and e.gateway == gateway and e.seq > drain_seq]


def wait_for(check: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {seconds} s waiting for {what}")
        time.sleep(0.001)


def _worker(args: tuple[str, str, int]) -> list[Event]:
    """One process: place PER_WORKER rooms, release every third one's predecessor, retry some."""
    url, prefix, worker = args
    client = redis.Redis.from_url(url, decode_responses=True)
    keys = KeySchema.for_pool("race", prefix)
    alloc = RoomAllocator(client, "race", default_capacity=100_000, prefix=prefix)
    client.incr(keys.prefix + "ready")
    wait_for(lambda: bool(client.exists(keys.prefix + "go")), 30, "the start signal")
    out: list[Event] = []
    for i in range(PER_WORKER):
        room = f"w{worker}-r{i}"
        p = alloc.place(room)
        out.append(Event("place", room, p.gateway, p.new, p.seq))
        if i % 5 == 0:
            again = alloc.place(room)
            out.append(Event("retry", room, again.gateway, again.new, again.seq))
        if i % 3 == 2:
            old = f"w{worker}-r{i - 1}"
            r = alloc.release(old)
            out.append(Event("release", old, r.gateway, True, r.seq))
    client.close()
    return out


def redis_rooms(client: redis.Redis, keys: KeySchema, gateways: Sequence[str]) -> dict[str, set[str]]:
    return {g: set(client.smembers(keys.gateway_rooms(g))) for g in gateways}


class NaiveAllocator:
    """The unsafe protocol: read the states and counts, then write the room in a second step."""

    def __init__(self, client: redis.Redis, keys: KeySchema,
                 between: Callable[[], None] | None = None) -> None:
        self._client = client
        self._keys = keys
        self._between = between

    def place(self, room: str) -> Placement:
        c, k = self._client, self._keys
        best: tuple[float, str] | None = None
        for gid in sorted(c.smembers(k.index)):
            state, capacity = c.hmget(k.gateway(gid), "state", "capacity")
            n = c.scard(k.gateway_rooms(gid))
            cap = int(capacity) if capacity else 100_000
            if state == "ready" and n < cap and (best is None or (n / cap, gid) < best):
                best = (n / cap, gid)
        if best is None:
            return Placement(room, None, None, False, 0)
        if self._between:
            self._between()
        pipe = c.pipeline(transaction=True)  # the write itself is atomic; the read before it is not
        pipe.sadd(k.gateway_rooms(best[1]), room)
        pipe.hset(k.assignments, room, best[1])
        pipe.incr(k.clock)
        seq = pipe.execute()[-1]
        return Placement(room, best[1], None, True, int(seq))


def setup_pool(client: redis.Redis, prefix: str, pool: str) -> MediaRegistry:
    registry = MediaRegistry(client, KeySchema.for_pool(pool, prefix))
    for g in GATEWAYS:
        registry.register(g, address=f"127.0.0.{GATEWAYS.index(g) + 1}")
    return registry


def draining_at(changes: Sequence[tuple[int, str]], seq: int) -> bool:
    """Whether the gateway was draining at clock value ``seq``, from its state changes' log."""
    before = [state for at, state in sorted(changes) if at < seq]
    return bool(before) and before[-1] == "draining"


def placements_while_draining(events: Sequence[Event], gateway: str,
                              changes: Sequence[tuple[int, str]]) -> list[Event]:
    return [e for e in events if e.kind == "place" and e.new and e.gateway == gateway
            and draining_at(changes, e.seq)]


def threaded_race(place: Callable[[str], Placement], registry: MediaRegistry,
                  threads: int = 8, per_thread: int = 100) -> tuple[list[Event], list[tuple[int, str]]]:
    """``threads`` threads place rooms while another drains and un-drains g0 every ~2 ms."""
    events: list[Event] = []
    changes: list[tuple[int, str]] = []
    lock = threading.Lock()
    go = threading.Event()

    def run(t: int) -> None:
        go.wait(10)
        for i in range(per_thread):
            p = place(f"t{t}-r{i}")
            with lock:
                events.append(Event("place", p.room, p.gateway, p.new, p.seq))

    workers = [threading.Thread(target=run, args=(t,)) for t in range(threads)]
    for w in workers:
        w.start()
    go.set()
    deadline = time.monotonic() + 60
    while any(w.is_alive() for w in workers) and time.monotonic() < deadline:
        for change in (registry.drain("g0"), registry.undrain("g0")):
            assert change.done
            changes.append((change.seq, "draining" if change.previous == "ready" else "ready"))
            time.sleep(0.002)
    for w in workers:
        w.join(10)
    assert not any(w.is_alive() for w in workers)
    return events, changes


class TestLuaAllocatorRacesADrain:
    """8 processes x 200 placements (with releases and retries) race a drain: the protocol holds."""

    def test_processes(self, redis_url: str, redis_client: redis.Redis, redis_prefix: str) -> None:
        prefix = redis_prefix + "{pool}:"
        registry = setup_pool(redis_client, prefix, "race")
        keys = registry.keys
        ctx = multiprocessing.get_context("fork")
        with ctx.Pool(WORKERS) as pool:
            pending = pool.map_async(_worker, [(redis_url, prefix, w) for w in range(WORKERS)])
            wait_for(lambda: int(redis_client.get(keys.prefix + "ready") or 0) == WORKERS, 30, "workers")
            redis_client.set(keys.prefix + "go", "1")
            wait_for(lambda: int(redis_client.get(keys.clock) or 0) >= 300, 30, "placements to start")
            drain = registry.drain("g0")
            events = [e for chunk in pending.get(timeout=120) for e in chunk]
        assert drain.status == 1 and drain.rooms > 0

        placed = [e for e in events if e.kind == "place"]
        assert len(placed) == WORKERS * PER_WORKER and all(e.new and e.gateway for e in placed)
        # the race was live on both sides of the drain
        assert any(e.gateway == "g0" and e.seq < drain.seq for e in placed)
        assert sum(e.seq > drain.seq for e in placed) > 100
        assert late_placements(events, "g0", drain.seq) == []

        where = {e.room: e.gateway for e in placed}
        assert all(not e.new and e.gateway == where[e.room] for e in events if e.kind == "retry")
        released = {e.room for e in events if e.kind == "release"}
        assert all(e.gateway == where[e.room] for e in events if e.kind == "release")
        live = {room: gw for room, gw in where.items() if room not in released}

        # no room lost, none double counted: every live room is in exactly one gateway's set
        in_redis = redis_rooms(redis_client, keys, GATEWAYS)
        assert sum(len(s) for s in in_redis.values()) == len(live)
        assert {room: g for g, rooms in in_redis.items() for room in rooms} == live
        assert redis_client.hgetall(keys.assignments) == live

        self._terminate_only_at_zero(redis_client, registry, prefix, in_redis["g0"])

    def _terminate_only_at_zero(self, client: redis.Redis, registry: MediaRegistry, prefix: str,
                                g0_rooms: set[str]) -> None:
        """Rooms end on g0 while new rooms arrive; a controller-like loop terminates g0 at zero."""
        drainer = MediaRedisDrainer(registry, FakeClock(), ReconcileOptions())
        alloc = RoomAllocator(client, "race", default_capacity=100_000, prefix=prefix)
        inst = Instance("g0", "t", InstanceState.DRAINING, address="127.0.0.1")
        seen: list[int | None] = []
        terminated: list[int] = []
        placed: list[Placement] = []

        def release_all() -> None:
            for room in sorted(g0_rooms):
                alloc.release(room)
                time.sleep(0.0005)

        def place_more() -> None:
            placed.extend(alloc.place(f"late-{i}") for i in range(200))

        def terminator() -> None:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                n = drainer.sessions(inst)
                seen.append(n)
                if n == 0:
                    terminated.append(registry.deregister("g0", only_if_empty=True))
                    return
                time.sleep(0.001)

        threads = [threading.Thread(target=f) for f in (release_all, place_more, place_more, terminator)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert terminated == [0]  # removed at zero rooms, none released by the removal
        assert seen[0] is not None and seen[0] > 0
        assert all(a is not None and b is not None and a >= b for a, b in itertools.pairwise(seen))
        assert all(p.ok and p.gateway != "g0" for p in placed)
        assert not client.exists(registry.keys.gateway("g0"), registry.keys.gateway_rooms("g0"))


class TestTheCheckCanFail:
    """The same check catches a non-atomic allocator: it is not vacuous."""

    def test_drain_between_read_and_write(self, redis_client: redis.Redis, redis_prefix: str) -> None:
        registry = setup_pool(redis_client, redis_prefix + "{pool}:", "naive")
        drains: list[int] = []
        naive = NaiveAllocator(redis_client, registry.keys,
                               between=lambda: drains.append(registry.drain("g0").seq))
        p = naive.place("room-1")
        event = Event("place", p.room, p.gateway, p.new, p.seq)
        assert late_placements([event], "g0", drains[0]) == [event]  # landed on a draining gateway
        # the Lua allocator, asked at the same point (after the drain), does not
        alloc = RoomAllocator(redis_client, "naive", default_capacity=100_000,
                              prefix=redis_prefix + "{pool}:")
        assert alloc.place("room-2").gateway != "g0"

    def test_naive_allocator_under_concurrency(self, redis_client: redis.Redis, redis_prefix: str) -> None:
        late: list[Event] = []
        for attempt in range(5):  # bounded: violations show up in the first round in practice
            registry = setup_pool(redis_client, redis_prefix + "{pool}:", f"naive{attempt}")
            naive = NaiveAllocator(redis_client, registry.keys, between=lambda: time.sleep(0.001))
            events, changes = threaded_race(naive.place, registry)
            late = placements_while_draining(events, "g0", changes)
            if late:
                break
        assert late, "the naive allocator never placed a room on a draining gateway"


class TestLuaAllocatorUnderThreads:
    """The same threads and the same drain/un-drain storm: never a room on a draining gateway."""

    def test_drain_storm(self, redis_client: redis.Redis, redis_prefix: str) -> None:
        prefix = redis_prefix + "{pool}:"
        registry = setup_pool(redis_client, prefix, "lua")
        alloc = RoomAllocator(redis_client, "lua", default_capacity=100_000, prefix=prefix)
        events, changes = threaded_race(alloc.place, registry, per_thread=200)
        assert sum(state == "draining" for _, state in changes) >= 5
        assert any(e.gateway == "g0" for e in events)  # g0 took rooms while ready
        assert placements_while_draining(events, "g0", changes) == []

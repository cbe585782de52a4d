"""The media_redis source and drainer, built the way the controller builds them, on a real Redis."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import redis

from fleetscale import registry as adapters
from fleetscale.errors import DrainError
from fleetscale.media import KeySchema, MediaRegistry, RoomAllocator
from fleetscale.model import Instance, InstanceState
from tests.fixtures.services import free_port
from tests.integration.media_support import FakeClock, context

pytestmark = pytest.mark.integration
S = InstanceState
NOW = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture
def options(redis_url: str, redis_prefix: str) -> dict[str, object]:
    return {"url": redis_url, "prefix": redis_prefix + "{pool}:"}


@pytest.fixture
def reg(redis_client: redis.Redis, redis_prefix: str) -> MediaRegistry:
    return MediaRegistry(redis_client, KeySchema.for_pool("conf", redis_prefix + "{pool}:"))


@pytest.fixture
def alloc(redis_client: redis.Redis, redis_prefix: str) -> RoomAllocator:
    return RoomAllocator(redis_client, "conf", default_capacity=10, prefix=redis_prefix + "{pool}:")


def build(role: str, options: dict[str, object], clock: FakeClock | None = None) -> object:
    module = adapters.module_for(role, "media_redis")
    return module.build(module.Settings.model_validate(options), context(clock=clock))


def pool_values(obs: list) -> dict[str, float | None]:
    return {o.metric: o.value for o in obs if o.instance_id is None}


class TestSource:
    """Reads load and per-gateway sessions; bad data or no Redis is an error (the pool holds)."""

    def test_reads_rooms(self, options: dict, reg: MediaRegistry, alloc: RoomAllocator) -> None:
        reg.register("i-1", address="127.0.0.1", instance_id="i-1", capacity=4)
        reg.register("127.0.0.2", address="127.0.0.2")  # self-registered, no capacity: pool default 10
        for room in "abcde":
            alloc.place(room)
        reg.drain("i-1")
        obs = build("source", options).read("conf", NOW)
        assert pool_values(obs) == {"load": 5.0, "rooms": 5.0, "capacity": 10.0}
        sessions = {o.instance_id: o.value for o in obs if o.metric == "sessions"}
        assert sessions == {"i-1": 2.0, "127.0.0.2": 3.0}
        assert all(o.ok for o in obs)

    def test_reads_participants(self, options: dict, reg: MediaRegistry, alloc: RoomAllocator) -> None:
        reg.register("g1")
        alloc.place("a")
        alloc.place("b")
        alloc.set_participants("a", 12)
        alloc.set_participants("b", 3)
        obs = build("source", {**options, "load": "participants"}).read("conf", NOW)
        assert pool_values(obs)["load"] == 15.0

    @pytest.mark.parametrize(
        ("field", "value", "message"),
        [("state", "on-fire", "state must be one of"), ("capacity", "ten", "capacity is not an integer")],
        ids=["state", "capacity"],
    )
    def test_garbage_is_an_error(self, options: dict, reg: MediaRegistry, redis_client: redis.Redis,
                                 field: str, value: str, message: str) -> None:
        reg.register("g1")
        redis_client.hset(reg.keys.gateway("g1"), field, value)
        obs = build("source", options).read("conf", NOW)
        load = next(o for o in obs if o.metric == "load")
        assert not load.ok and message in (load.error or "")

    def test_garbage_participants_is_an_error(self, options: dict, reg: MediaRegistry, alloc: RoomAllocator,
                                              redis_client: redis.Redis) -> None:
        reg.register("g1")
        alloc.place("a")
        redis_client.hset(reg.keys.participants, "a", "many")
        obs = build("source", {**options, "load": "participants"}).read("conf", NOW)
        assert "participant count" in (next(o for o in obs if o.metric == "load").error or "")

    def test_dangling_index_entry_is_an_error(self, options: dict, reg: MediaRegistry,
                                              redis_client: redis.Redis) -> None:
        redis_client.sadd(reg.keys.index, "ghost")
        load = next(o for o in build("source", options).read("conf", NOW) if o.metric == "load")
        assert "hash is missing" in (load.error or "")

    def test_wrong_key_type_is_an_error(self, options: dict, reg: MediaRegistry,
                                        redis_client: redis.Redis) -> None:
        redis_client.set(reg.keys.index, "not a set")
        obs = build("source", options).read("conf", NOW)
        assert len(obs) == 1 and not obs[0].ok and "redis read failed" in (obs[0].error or "")

    def test_unreachable_redis_is_an_error(self) -> None:
        source = build("source", {"url": f"redis://127.0.0.1:{free_port()}/0", "socket_timeout": 0.5})
        obs = source.read("conf", NOW)
        assert len(obs) == 1 and obs[0].metric == "load" and not obs[0].ok

    def test_empty_pool_reads_zero(self, options: dict) -> None:
        assert pool_values(build("source", options).read("conf", NOW)) == {"load": 0.0, "rooms": 0.0,
                                                                             "capacity": 0.0}


class TestDrainer:
    """begin/cancel/sessions by instance, found by id, address or a linked instance_id."""

    def test_drain_cycle(self, options: dict, reg: MediaRegistry, alloc: RoomAllocator) -> None:
        drainer = build("drainer", options)
        inst = Instance("i-1", "t", S.READY, address="127.0.0.7")
        reg.register("127.0.0.7", address="127.0.0.7", instance_id="i-1")  # self-registered by address
        alloc.place("a")
        drainer.begin(inst)
        assert not alloc.place("b").ok
        assert drainer.sessions(inst) == 1
        drainer.cancel(inst)
        assert alloc.place("b").ok and drainer.sessions(inst) == 2
        drainer.begin(inst)
        alloc.release("a")
        alloc.release("b")
        assert drainer.sessions(inst) == 0

    def test_linked_entry_found_by_instance_id(self, options: dict, reg: MediaRegistry) -> None:
        reg.register("media-7", instance_id="i-7")
        build("drainer", options).begin(Instance("i-7", "t", S.READY))
        assert reg.view().gateways[0].state == "draining"

    def test_unregistered_instance_has_no_rooms(self, options: dict) -> None:
        drainer = build("drainer", options)
        inst = Instance("i-9", "t", S.READY)
        drainer.begin(inst)  # nothing to drain: no room can be placed on it
        assert drainer.sessions(inst) == 0

    def test_drain_of_garbage_state_is_refused(self, options: dict, reg: MediaRegistry,
                                               redis_client: redis.Redis) -> None:
        reg.register("i-1")
        redis_client.hset(reg.keys.gateway("i-1"), "state", "broken")
        with pytest.raises(DrainError, match="cannot drain from state 'broken'"):
            build("drainer", options).begin(Instance("i-1", "t", S.READY))

    def test_redis_down(self) -> None:
        drainer = build("drainer", {"url": f"redis://127.0.0.1:{free_port()}/0", "socket_timeout": 0.5})
        inst = Instance("i-1", "t", S.READY)
        assert drainer.sessions(inst) is None
        with pytest.raises(DrainError):
            drainer.begin(inst)
        with pytest.raises(DrainError):
            drainer.reconcile([inst])

    def test_reconcile_registers_adopts_and_removes(self, options: dict, reg: MediaRegistry,
                                                    alloc: RoomAllocator) -> None:
        clock = FakeClock()
        drainer = build("drainer", {**options, "unknown_grace": 60}, clock)
        reg.register("127.0.0.2", address="127.0.0.2", state="pending")  # self-registration, booting
        reg.register("old", address="127.0.0.99")  # an entry no instance matches
        instances = [Instance("i-1", "t", S.READY, weight=2, address="127.0.0.1"),
                     Instance("i-2", "t", S.PENDING, address="127.0.0.2")]
        lines = drainer.reconcile(instances)
        assert lines == ("media: registered gateway i-1 (ready, 20 rooms)",
                         "media: adopted gateway 127.0.0.2 as instance i-2",
                         "media: gateway old matches no instance (watching)")
        assert drainer.reconcile(instances) == ()
        clock.sleep(61)
        assert drainer.reconcile(instances) == (
            "media: removed gateway old: no instance has matched it for 61 s",)
        assert alloc.place("a").gateway == "i-1"
        gone = [Instance("i-1", "t", S.GONE, address="127.0.0.1"), instances[1]]
        assert drainer.reconcile(gone) == ("media: removed gateway i-1: instance i-1 is gone",)
        assert alloc.where("a") is None
        assert [g.id for g in reg.view().gateways] == ["127.0.0.2"]

    def test_reconcile_redrains_after_redis_loses_state(self, options: dict, reg: MediaRegistry) -> None:
        drainer = build("drainer", options)
        reg.register("i-1", instance_id="i-1")  # e.g. a gateway re-registered itself as ready
        assert drainer.reconcile([Instance("i-1", "t", S.DRAINING)]) == (
            "media: drained gateway i-1 (its instance is draining)",)
        assert reg.view().gateways[0].state == "draining"

    def test_reconcile_uses_the_clock(self, options: dict, reg: MediaRegistry) -> None:
        clock = FakeClock(at=NOW + timedelta(hours=1))
        drainer = build("drainer", options, clock)
        reg.register("old")
        drainer.reconcile([])
        assert reg.view().gateways[0].unknown_since == (NOW + timedelta(hours=1)).timestamp()

"""The allocator protocol and the registry against a real Redis."""

from __future__ import annotations

import pytest
import redis

from fleetscale.media import KeySchema, MediaRegistry, RoomAllocator

pytestmark = pytest.mark.integration


@pytest.fixture
def prefix(redis_prefix: str) -> str:
    return redis_prefix + "{pool}:"


@pytest.fixture
def registry(redis_client: redis.Redis, prefix: str) -> MediaRegistry:
    return MediaRegistry(redis_client, KeySchema.for_pool("conf", prefix))


@pytest.fixture
def alloc(redis_client: redis.Redis, prefix: str) -> RoomAllocator:
    return RoomAllocator(redis_client, "conf", default_capacity=3, prefix=prefix)


class TestPlace:
    """Rooms go to the least loaded ready gateway with room to spare."""

    def test_least_loaded_by_ratio(self, registry: MediaRegistry, alloc: RoomAllocator) -> None:
        registry.register("big", address="127.0.0.1", capacity=10)
        registry.register("small", address="127.0.0.2", capacity=2)
        gateways = [alloc.place(f"r{i}").gateway for i in range(8)]
        # 0/10 vs 0/2 tie -> big (id order); 0.1 vs 0 -> small; big until 0.5 vs 0.5 (tie: big);
        # then 0.6 vs 0.5 -> small
        assert gateways == ["big", "small", "big", "big", "big", "big", "big", "small"]
        assert registry.rooms("big") == 6 and registry.rooms("small") == 2

    def test_placement_carries_address_and_order(self, registry: MediaRegistry, alloc: RoomAllocator) -> None:
        registry.register("g1", address="127.0.0.9")
        first, second = alloc.place("a"), alloc.place("b")
        assert (first.gateway, first.address, first.new) == ("g1", "127.0.0.9", True)
        assert second.seq == first.seq + 1

    def test_capacity_is_respected_then_refused(self, registry: MediaRegistry, alloc: RoomAllocator) -> None:
        registry.register("g1")  # no capacity field: the default, 3
        placed = [alloc.place(f"r{i}") for i in range(4)]
        assert [p.ok for p in placed] == [True, True, True, False]
        assert placed[3].gateway is None and not placed[3].new

    def test_only_ready_gateways_take_rooms(self, registry: MediaRegistry, alloc: RoomAllocator) -> None:
        registry.register("p", state="pending")
        registry.register("d", state="draining")
        registry.register("r", capacity=1)
        assert alloc.place("a").gateway == "r"
        assert alloc.place("b").gateway is None

    def test_garbage_capacity_takes_no_rooms(self, registry: MediaRegistry, alloc: RoomAllocator,
                                             redis_client: redis.Redis) -> None:
        registry.register("g1")
        redis_client.hset(registry.keys.gateway("g1"), "capacity", "lots")
        assert not alloc.place("a").ok

    def test_idempotent(self, registry: MediaRegistry, alloc: RoomAllocator) -> None:
        registry.register("g1")
        registry.register("g2")
        first = alloc.place("a")
        again = alloc.place("a")
        assert (again.gateway, again.new, again.seq) == (first.gateway, False, 0)
        assert registry.rooms("g1") + registry.rooms("g2") == 1

    def test_room_of_removed_gateway_is_placed_again(self, registry: MediaRegistry,
                                                     alloc: RoomAllocator) -> None:
        registry.register("g1")
        assert alloc.place("a").gateway == "g1"
        registry.register("g2")
        assert registry.deregister("g1") == 1
        assert alloc.where("a") is None
        assert alloc.place("a").gateway == "g2"

    def test_bad_room_id(self, alloc: RoomAllocator) -> None:
        with pytest.raises(ValueError, match="room: must be a non-empty string"):
            alloc.place("")


class TestRelease:
    """Release frees the room's slot, once."""

    def test_release_and_again(self, registry: MediaRegistry, alloc: RoomAllocator) -> None:
        registry.register("g1", capacity=1)
        alloc.place("a")
        assert not alloc.place("b").ok
        assert alloc.release("a").gateway == "g1"
        assert alloc.release("a").gateway is None
        assert alloc.place("b").gateway == "g1"

    def test_participants(self, registry: MediaRegistry, alloc: RoomAllocator) -> None:
        registry.register("g1")
        alloc.place("a")
        assert alloc.set_participants("a", 7) is True
        assert alloc.set_participants("zzz", 7) is False
        assert registry.view(participants=True).gateways[0].participants == 7
        alloc.release("a")
        assert registry.view(participants=True).gateways[0].participants == 0
        with pytest.raises(ValueError, match="participants"):
            alloc.set_participants("a", -1)


class TestStates:
    """State changes are checked, never create entries, and registration never undoes a drain."""

    def test_drain_and_cancel(self, registry: MediaRegistry, alloc: RoomAllocator) -> None:
        registry.register("g1")
        alloc.place("a")
        change = registry.drain("g1")
        assert (change.status, change.rooms, change.previous) == (1, 1, "ready")
        assert registry.drain("g1").seq == change.seq  # already draining: same commit
        assert not alloc.place("b").ok
        assert registry.undrain("g1").previous == "draining"
        assert alloc.place("b").gateway == "g1"

    def test_drain_of_unknown_gateway_creates_nothing(self, registry: MediaRegistry,
                                                      redis_client: redis.Redis) -> None:
        assert registry.drain("ghost").status == -1
        assert not redis_client.exists(registry.keys.gateway("ghost"))

    def test_cancel_refused_from_pending(self, registry: MediaRegistry) -> None:
        registry.register("g1", state="pending")
        change = registry.undrain("g1")
        assert (change.status, change.previous) == (0, "pending")

    def test_register_keeps_state(self, registry: MediaRegistry) -> None:
        assert registry.register("g1", capacity=5) is True
        registry.drain("g1")
        assert registry.register("g1", capacity=6, address="127.0.0.4") is False
        gw = registry.view().gateways[0]
        assert (gw.state, gw.capacity, gw.address) == ("draining", 6, "127.0.0.4")

    def test_deregister_only_if_empty(self, registry: MediaRegistry, alloc: RoomAllocator) -> None:
        registry.register("g1")
        alloc.place("a")
        assert registry.deregister("g1", only_if_empty=True) == -1
        alloc.release("a")
        assert registry.deregister("g1", only_if_empty=True) == 0
        assert registry.view().gateways == ()

    def test_script_cache_flush_is_survived(self, registry: MediaRegistry, alloc: RoomAllocator,
                                            redis_client: redis.Redis) -> None:
        registry.register("g1")
        redis_client.script_flush()
        assert alloc.place("a").gateway == "g1"

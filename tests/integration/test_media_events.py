"""The media source's watch on a real Redis: the Lua scripts publish every change on the
pool's channel, the watch hears them (whoever ran the script), and survives a lost connection."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest
import redis

from fleetscale import registry as adapters
from fleetscale.media import KeySchema, MediaRegistry, RoomAllocator
from fleetscale.ports import Watchable
from tests.integration.media_support import context

pytestmark = pytest.mark.integration


class Notes:
    def __init__(self) -> None:
        self.items: list[str] = []
        self.lock = threading.Lock()

    def __call__(self, why: str) -> None:
        with self.lock:
            self.items.append(why)

    def snapshot(self) -> list[str]:
        with self.lock:
            return list(self.items)


def wait_for(check: Callable[[], object], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.02)
    raise AssertionError(f"{what}: not within {timeout} s")


@pytest.fixture
def prefix(redis_prefix: str) -> str:
    return redis_prefix + "{pool}:"


def source(redis_url: str, prefix: str) -> object:
    module = adapters.module_for("source", "media_redis")
    return module.build(module.Settings.model_validate({"url": redis_url, "prefix": prefix}), context())


def test_every_change_is_heard(redis_url: str, redis_client: redis.Redis, prefix: str) -> None:
    src = source(redis_url, prefix)
    assert isinstance(src, Watchable)
    notes = Notes()
    watch = src.watch("conf", notes)
    reg = MediaRegistry(redis_client, KeySchema.for_pool("conf", prefix))
    other = MediaRegistry(redis_client, KeySchema.for_pool("other", prefix))
    alloc = RoomAllocator(redis_client, "conf", default_capacity=10, prefix=prefix)
    try:
        wait_for(lambda: "media_redis: subscribed" in notes.snapshot(), 5, "subscribed")
        reg.register("g1", address="10.0.0.1:1")
        reg.register("g1", address="10.0.0.1:1")  # an update: not a change of membership
        other.register("x1")  # another pool's channel
        assert alloc.place("room-1").gateway == "g1"
        alloc.place("room-1")  # a retry: nothing new
        alloc.set_participants("room-1", 3)
        alloc.set_participants("room-1", 3)  # unchanged
        alloc.release("room-1")
        alloc.release("room-1")  # idempotent: nothing
        reg.drain("g1")
        reg.deregister("g1")
        expected = ["media_redis: subscribed", "media_redis: register g1", "media_redis: place g1",
                    "media_redis: participants room-1", "media_redis: release g1",
                    "media_redis: state g1 draining", "media_redis: deregister g1"]
        wait_for(lambda: notes.snapshot() == expected, 5, f"events {expected}")
    finally:
        watch.close()
        src.close()  # type: ignore[attr-defined]


def test_resubscribes_after_the_connection_is_killed(redis_url: str, redis_client: redis.Redis,
                                                     prefix: str) -> None:
    src = source(redis_url, prefix)
    notes = Notes()
    watch = src.watch("conf", notes)  # type: ignore[attr-defined]
    try:
        wait_for(lambda: notes.snapshot().count("media_redis: subscribed") == 1, 5, "subscribed")
        channel = KeySchema.for_pool("conf", prefix).events
        for client in redis_client.client_list():
            if client.get("cmd") in ("subscribe", "ping") and int(client.get("sub", 0)) > 0:
                redis_client.client_kill_filter(_id=client["id"])
        wait_for(lambda: notes.snapshot().count("media_redis: subscribed") == 2, 10, "subscribed again")
        redis_client.publish(channel, "place g9")
        wait_for(lambda: "media_redis: place g9" in notes.snapshot(), 5, "heard after resubscribing")
    finally:
        started = time.monotonic()
        watch.close()
        assert time.monotonic() - started < 3
        src.close()  # type: ignore[attr-defined]

"""Reactions: notifications become debounced extra cycles, one cycle of a pool at a time."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from fleetscale.ports import Closeable, Watchable
from fleetscale.reaction import Debouncer, Reactions, watch_sources


class FakeClock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


class TestDebouncer:
    """At most one extra cycle per key per gap; no notification is lost."""

    def test_first_notification_runs_at_once(self) -> None:
        d = Debouncer(1.0, FakeClock())
        assert d.admit("p", "a") == 0.0
        assert d.begin("p") == "a"

    def test_notifications_waiting_for_one_cycle_share_it(self) -> None:
        d = Debouncer(1.0, FakeClock())
        assert d.admit("p", "a") == 0.0
        assert d.admit("p", "b") is None
        assert d.admit("p", "c") is None
        assert d.begin("p") == "a (+2 more)"
        assert d.begin("p") is None

    def test_a_notification_too_soon_waits_for_the_end_of_the_gap(self) -> None:
        clock = FakeClock()
        d = Debouncer(1.0, clock)
        d.admit("p", "a")
        d.begin("p")
        clock.t += 0.3
        assert d.admit("p", "b") == pytest.approx(0.7)
        clock.t += 0.7
        assert d.begin("p") == "b"
        clock.t += 2.0
        assert d.admit("p", "c") == 0.0

    def test_pools_are_independent(self) -> None:
        d = Debouncer(1.0, FakeClock())
        assert d.admit("p", "a") == 0.0
        assert d.admit("q", "a") == 0.0

    def test_a_scheduled_cycle_covers_a_waiting_one(self) -> None:
        d = Debouncer(1.0, FakeClock())
        d.admit("p", "a")
        d.covered("p")
        assert d.begin("p") is None

    def test_gap_must_be_non_negative(self) -> None:
        with pytest.raises(ValueError, match="gap"):
            Debouncer(-1.0)

    def test_at_most_one_extra_cycle_per_gap_under_concurrent_notifications(self) -> None:
        clock = FakeClock()
        d = Debouncer(1.0, clock)
        delays: list[float | None] = []
        lock = threading.Lock()

        def hammer() -> None:
            for _ in range(200):
                got = d.admit("p", "x")
                with lock:
                    delays.append(got)

        threads = [threading.Thread(target=hammer) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert [x for x in delays if x is not None] == [0.0]


@dataclass
class Runner:
    name: str
    sources: tuple[Any, ...] = ()
    calls: list[str | None] = field(default_factory=list)
    running: int = 0
    overlap: bool = False

    def cycle(self, extra: str | None = None) -> None:
        self.running += 1
        self.overlap = self.overlap or self.running > 1
        self.calls.append(extra)
        self.running -= 1


class TestReactions:
    """Extra cycles run through the submitted jobs, marked with why they run."""

    def test_notification_runs_an_extra_cycle(self) -> None:
        jobs: list[tuple[float, Callable[[], None]]] = []
        r = Runner("p")
        reactions = Reactions([r], lambda delay, fn: jobs.append((delay, fn)), Debouncer(1.0, FakeClock()))
        reactions.notify("p", "kamailio: register gw-1")
        reactions.notify("p", "kamailio: call-start")
        assert [d for d, _ in jobs] == [0.0]
        jobs[0][1]()
        assert r.calls == ["kamailio: register gw-1 (+1 more)"]

    def test_scheduled_cycle_skips_a_waiting_extra_one(self) -> None:
        jobs: list[tuple[float, Callable[[], None]]] = []
        r = Runner("p")
        reactions = Reactions([r], lambda delay, fn: jobs.append((delay, fn)), Debouncer(1.0, FakeClock()))
        reactions.notify("p", "x")
        reactions.scheduled("p")
        jobs[0][1]()
        assert r.calls == [None]

    def test_unknown_pool_and_failing_submit_are_ignored(self) -> None:
        r = Runner("p")

        def broken(delay: float, fn: Callable[[], None]) -> None:
            raise RuntimeError("scheduler stopped")

        reactions = Reactions([r], broken, Debouncer(1.0, FakeClock()))
        reactions.notify("nope", "x")
        reactions.notify("p", "x")  # does not raise; the slot is freed
        assert reactions.debouncer.begin("p") is None

    def test_cycles_of_one_pool_never_overlap(self) -> None:
        r = Runner("p")
        threads: list[threading.Thread] = []

        def submit(delay: float, fn: Callable[[], None]) -> None:
            threads.append(threading.Thread(target=fn))
            threads[-1].start()

        reactions = Reactions([r], submit, Debouncer(0.0))
        workers = [threading.Thread(target=reactions.scheduled, args=["p"]) for _ in range(4)]
        for w in workers:
            w.start()
        for _ in range(50):
            reactions.notify("p", "x")
        for t in workers + threads:
            t.join(10)
        assert not r.overlap and len(r.calls) >= 4


class Handle:
    def __init__(self) -> None:
        self.closed = False

    def close(self) -> None:
        self.closed = True


class WatchingSource:
    def __init__(self, fail: bool = False) -> None:
        self.fail = fail
        self.notify: Callable[[str], None] | None = None

    def read(self, pool: str, now: Any) -> list[Any]:
        return []

    def watch(self, pool: str, notify: Callable[[str], None]) -> Closeable:
        if self.fail:
            raise OSError("refused")
        self.notify = notify
        return Handle()


def test_watch_sources_routes_each_source_to_its_pool() -> None:
    a, b, broken = WatchingSource(), WatchingSource(), WatchingSource(fail=True)
    assert isinstance(a, Watchable)
    seen: list[tuple[str, str]] = []
    handles = watch_sources([Runner("p", (a, object())), Runner("q", (b, broken))],
                            lambda pool, why: seen.append((pool, why)))
    assert len(handles) == 2
    assert a.notify is not None and b.notify is not None
    a.notify("one")
    b.notify("two")
    assert seen == [("p", "one"), ("q", "two")]

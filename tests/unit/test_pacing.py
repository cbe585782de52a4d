"""The real-time scheduler (``pacing.Pacer``): due entries run, a pool never runs alongside
itself, a long run does not hold up the others, a stop waits for the runs in flight.

Real threads and a real clock with short intervals; every wait is bounded (a failure is a
timeout, never a hang), and nothing asserts how fast anything was."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable

import pytest

from fleetscale.pacing import Pacer

BOUND = 10.0  # seconds a test waits at most for something that should happen at once


def _start(pacer: Pacer) -> tuple[threading.Event, threading.Thread]:
    stop = threading.Event()
    loop = threading.Thread(target=pacer.run, args=(stop,), daemon=True)
    loop.start()
    return stop, loop


def _stop(stop: threading.Event, loop: threading.Thread) -> None:
    stop.set()
    loop.join(BOUND)
    assert not loop.is_alive(), "the scheduler did not stop"


def test_periodic_and_one_off_entries_run() -> None:
    pacer = Pacer(workers=3)
    runs: Counter[str] = Counter()
    enough = threading.Event()

    def tick() -> None:
        runs["tick"] += 1
        if runs["tick"] >= 5:
            enough.set()

    pacer.every("tick", 0.01, tick)
    once = threading.Event()
    pacer.once(0.0, once.set)
    stop, loop = _start(pacer)
    assert once.wait(BOUND) and enough.wait(BOUND)
    _stop(stop, loop)
    with pytest.raises(RuntimeError):
        pacer.once(0.0, once.set)


def test_a_pool_never_runs_alongside_itself() -> None:
    pacer = Pacer(workers=4)
    lock = threading.Lock()
    running, most = 0, 0
    release = threading.Event()

    def slow() -> None:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        release.wait(0.2)
        with lock:
            running -= 1

    pacer.every("slow", 0.01, slow)
    stop, loop = _start(pacer)
    deadline = threading.Event()
    for _ in range(int(BOUND / 0.05)):
        if pacer.skipped >= 3:
            break
        deadline.wait(0.05)
    release.set()
    _stop(stop, loop)
    assert most == 1
    assert pacer.skipped >= 3, "runs due while the previous one went on were not skipped"


def test_a_long_run_does_not_hold_up_the_others() -> None:
    """The worker that took the long run cannot serve the heap: another one does."""
    pacer = Pacer(workers=2)
    quick_runs = threading.Semaphore(0)
    done = threading.Event()

    def long() -> None:
        for _ in range(3):  # held until the quick pool has run three times meanwhile
            if not quick_runs.acquire(timeout=BOUND):
                return
        done.set()

    pacer.once(0.0, long)
    pacer.every("quick", 0.02, quick_runs.release, first=0.01)
    stop, loop = _start(pacer)
    assert done.wait(BOUND), "the quick pool did not run while the long run went on"
    _stop(stop, loop)


def test_stop_waits_for_the_runs_in_flight() -> None:
    pacer = Pacer(workers=2)
    started, finished = threading.Event(), threading.Event()

    def work() -> None:
        started.set()
        threading.Event().wait(0.3)
        finished.set()

    pacer.once(0.0, work)
    stop, loop = _start(pacer)
    assert started.wait(BOUND)
    _stop(stop, loop)
    assert finished.is_set(), "the scheduler returned before its run in flight ended"


def test_an_earlier_entry_wakes_the_watcher() -> None:
    """An entry pushed for now while the watcher sleeps towards a later one runs at once."""
    pacer = Pacer(workers=1)
    pacer.every("late", 3600.0, lambda: None, first=3600.0)
    stop, loop = _start(pacer)
    ran = threading.Event()
    threading.Event().wait(0.05)
    pacer.once(0.0, ran.set)
    assert ran.wait(BOUND)
    _stop(stop, loop)


def test_periodic_runs_due_together_run_back_to_back_on_one_thread() -> None:
    """The watcher wakes ``grain`` after the earliest periodic due time and runs every entry
    due by then itself, one after the other (warm caches), instead of one wake-up each."""
    pacer = Pacer(workers=4, grain=0.1)
    threads: dict[str, str] = {}
    done = threading.Event()

    def run(key: str) -> None:
        threads[key] = threading.current_thread().name
        if len(threads) == 5:
            done.set()

    for i in range(5):
        pacer.every(f"p{i}", 3600.0, lambda k=f"p{i}": run(k), first=0.01 * (i + 1))
    stop, loop = _start(pacer)
    assert done.wait(BOUND)
    _stop(stop, loop)
    assert len(set(threads.values())) == 1, threads


def test_a_first_run_at_once_does_not_wait_for_the_grain() -> None:
    pacer = Pacer(workers=1, grain=3600.0)
    ran = threading.Event()
    pacer.every("p", 7200.0, ran.set, first=0.0)
    stop, loop = _start(pacer)
    assert ran.wait(BOUND)
    _stop(stop, loop)


def test_a_one_off_entry_does_not_wait_for_the_grain() -> None:
    """A lone periodic run waits for its grain; a reaction (``once``) runs at its due time,
    and the periodic run already due goes right after it, on the same warm worker."""
    pacer = Pacer(workers=1, grain=3600.0)
    periodic = threading.Event()
    pacer.every("p", 7200.0, periodic.set, first=0.01)  # not "at once": it waits for its grain
    stop, loop = _start(pacer)
    threading.Event().wait(0.5)
    assert not periodic.is_set(), "a periodic run started before its grain"
    ran = threading.Event()
    pacer.once(0.0, ran.set)
    assert ran.wait(BOUND)
    assert periodic.wait(BOUND), "the due periodic run did not follow the one-off"
    _stop(stop, loop)


def test_no_run_starts_while_paused_and_the_pause_lifts() -> None:
    """Inside ``paused`` no run starts (a lease renewal goes first); after it, runs go on. A
    pause that is never left lifts itself after its limit."""
    pacer = Pacer(workers=2, grain=0.0)
    runs: list[int] = []
    pacer.every("tick", 0.01, lambda: runs.append(1))
    stop, loop = _start(pacer)
    try:
        _wait_for(lambda: len(runs) >= 3)
        with pacer.paused(BOUND):
            time.sleep(0.1)  # a run in flight when the pause began has finished by now
            during = len(runs)
            time.sleep(0.3)
            assert len(runs) == during, "a run started while paused"
        _wait_for(lambda: len(runs) > during)
        held = pacer.paused(0.2)
        held.__enter__()  # never left: the limit lifts it
        time.sleep(0.1)
        before = len(runs)
        _wait_for(lambda: len(runs) > before)
    finally:
        _stop(stop, loop)


def _wait_for(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + BOUND
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)

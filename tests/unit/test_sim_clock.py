"""Clocks: simulated time moves only when told; scaled time runs ``speed`` times faster."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from fleetscale.sim.clock import ScaledClock, SimClock

T0 = datetime(2026, 1, 5, tzinfo=UTC)


def test_sim_clock() -> None:
    c = SimClock(T0)
    c.sleep(30)
    assert c.now() == T0 + timedelta(seconds=30)
    with pytest.raises(ValueError):
        c.advance(-1)
    with pytest.raises(ValueError):
        SimClock(datetime(2026, 1, 5))


def test_scaled_clock_with_fake_wall() -> None:
    wall = [100.0]
    slept: list[float] = []
    c = ScaledClock(T0, 720, monotonic=lambda: wall[0], real_sleep=slept.append)
    wall[0] += 0.5
    assert c.now() == T0 + timedelta(seconds=360)
    c.sleep(72)
    assert slept == [0.1]
    c.restart()
    assert c.now() == T0

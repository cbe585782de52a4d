"""Policy ``schedule``: local time windows (DST-correct), the seed's ``auto_scale_threshold``."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from fleetscale.model import Observation, Proposal, Snapshot
from fleetscale.policy.context import PolicyContext, read_metric
from fleetscale.policy.schedule import SchedulePolicy, Threshold, Window


def propose(
    policy: SchedulePolicy, now: datetime, load: float | None = 412.0, unit_capacity: float = 50.0
) -> Proposal:
    obs = () if load is None else (Observation("src", policy.metric, load, now),)
    readings = {m: read_metric(obs, m, now, 300.0) for m in policy.metrics}
    ctx = PolicyContext(now, 8, unit_capacity, 0, 100, readings)
    proposal, _ = policy.propose(Snapshot("p", now, (), obs), ctx, None, "schedule")
    return proposal


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


SEED = SchedulePolicy(
    metric="calls",
    timezone="Europe/Paris",
    auto_scale_threshold={
        "00:00:00": Threshold(unlockedMin=2, loadMax=0.7),
        "08:00:00": Threshold(unlockedMin=10, loadMax=0.75),
    },
)


class TestSeedMap:
    """Each key starts a window that runs until the next key, wrapping around midnight."""

    def test_reason_reads_like_the_design(self) -> None:
        p = propose(SEED, utc(2026, 1, 5, 9, 0))  # 10:00 in Paris (CET)
        assert p.desired == 11
        assert p.floor == 10
        expected = (
            "calls 412 / (loadMax 0.75 \u00d7 50 per unit) -> 11 units; floor unlockedMin 10 (08:00 window)"
        )
        assert p.reason == expected

    @pytest.mark.parametrize(
        ("now", "floor", "desired"),
        [
            (utc(2026, 1, 5, 6, 59), 2, 12),  # 07:59 CET: the 00:00 window, 412 / 35 = 11.8
            (utc(2026, 1, 5, 7, 0), 10, 11),  # 08:00 CET
            (utc(2026, 1, 5, 22, 59), 10, 11),  # 23:59 CET: still the 08:00 window
            (utc(2026, 1, 5, 23, 0), 2, 12),  # 00:00 CET next day
        ],
        ids=["before-8", "at-8", "before-midnight", "after-midnight"],
    )
    def test_windows(self, now: datetime, floor: int, desired: int) -> None:
        p = propose(SEED, now)
        assert (p.floor, p.desired) == (floor, desired)

    def test_single_key_is_always_active(self) -> None:
        policy = SchedulePolicy(auto_scale_threshold={"08:00:00": Threshold(unlockedMin=3)})
        for hour in range(24):
            assert propose(policy, utc(2026, 1, 7, hour, 30)).floor == 3


class TestDaylightSaving:
    """Windows follow local wall-clock time across DST changes."""

    @pytest.mark.parametrize(
        ("now", "floor"),
        [
            (utc(2026, 3, 28, 6, 59), 2),  # Sat, CET (UTC+1): 07:59
            (utc(2026, 3, 28, 7, 0), 10),  # Sat 08:00 CET
            (utc(2026, 3, 29, 5, 59), 2),  # Sun after spring-forward, CEST (UTC+2): 07:59
            (utc(2026, 3, 29, 6, 0), 10),  # Sun 08:00 CEST: one UTC hour earlier than Saturday
            (utc(2026, 10, 24, 5, 59), 2),  # Sat, CEST: 07:59
            (utc(2026, 10, 24, 6, 0), 10),  # Sat 08:00 CEST
            (utc(2026, 10, 25, 6, 59), 2),  # Sun after fall-back, CET: 07:59
            (utc(2026, 10, 25, 7, 0), 10),  # Sun 08:00 CET: one UTC hour later than Saturday
        ],
        ids=[
            "spring-sat-0759",
            "spring-sat-0800",
            "spring-sun-0759",
            "spring-sun-0800",
            "autumn-sat-0759",
            "autumn-sat-0800",
            "autumn-sun-0759",
            "autumn-sun-0800",
        ],
    )
    def test_eight_oclock_is_local(self, now: datetime, floor: int) -> None:
        assert propose(SEED, now).floor == floor

    def test_window_in_the_skipped_hour_starts_when_the_clock_jumps(self) -> None:
        policy = SchedulePolicy(timezone="Europe/Paris", windows=(Window(start="02:30", end="03:30", min=7),))
        assert propose(policy, utc(2026, 3, 29, 0, 59)).floor is None  # 01:59 CET
        assert propose(policy, utc(2026, 3, 29, 1, 0)).floor == 7  # 03:00 CEST
        assert propose(policy, utc(2026, 3, 29, 1, 30)).floor is None  # 03:30 CEST

    def test_repeated_hour_is_in_the_window_twice(self) -> None:
        policy = SchedulePolicy(timezone="Europe/Paris", windows=(Window(start="02:00", end="02:30", min=7),))
        assert propose(policy, utc(2026, 10, 25, 0, 15)).floor == 7  # 02:15 CEST
        assert propose(policy, utc(2026, 10, 25, 0, 45)).floor is None  # 02:45 CEST
        assert propose(policy, utc(2026, 10, 25, 1, 15)).floor == 7  # 02:15 CET, again

    def test_new_york(self) -> None:
        policy = SchedulePolicy(
            timezone="America/New_York", windows=(Window(start="09:00", end="17:00", min=5),)
        )
        assert propose(policy, utc(2026, 3, 7, 14, 0)).floor == 5  # EST: 09:00
        assert propose(policy, utc(2026, 3, 9, 13, 0)).floor == 5  # EDT: 09:00
        assert propose(policy, utc(2026, 3, 9, 12, 59)).floor is None  # EDT: 08:59


class TestWindows:
    """Explicit windows: end, days, overlaps, bounds only."""

    def test_overnight_window_belongs_to_its_start_day(self) -> None:
        policy = SchedulePolicy(windows=(Window(start="22:00", end="06:00", days=("fri",), min=4),))
        assert propose(policy, utc(2026, 1, 9, 23, 0)).floor == 4  # Fri 23:00
        assert propose(policy, utc(2026, 1, 10, 5, 59)).floor == 4  # Sat 05:59
        assert propose(policy, utc(2026, 1, 10, 6, 0)).floor is None  # Sat 06:00
        assert propose(policy, utc(2026, 1, 10, 23, 0)).floor is None  # Sat 23:00
        assert propose(policy, utc(2026, 1, 9, 5, 0)).floor is None  # Fri 05:00

    def test_open_window_runs_to_the_next_start_across_the_week(self) -> None:
        policy = SchedulePolicy(
            windows=(Window(start="09:00", days=("mon",), min=6), Window(start="18:00", days=("fri",), min=1))
        )
        assert propose(policy, utc(2026, 1, 7, 3, 0)).floor == 6  # Wed: still Monday's window
        assert propose(policy, utc(2026, 1, 10, 12, 0)).floor == 1  # Sat: Friday's window
        assert propose(policy, utc(2026, 1, 12, 8, 59)).floor == 1  # next Mon 08:59

    def test_outside_every_window_abstains_without_bounds(self) -> None:
        policy = SchedulePolicy(windows=(Window(start="09:00", end="17:00", min=5, utilisation=0.5),))
        p = propose(policy, utc(2026, 1, 5, 20, 0))
        assert (p.desired, p.floor, p.ceiling) == (None, None, None)
        assert "no schedule window at Mon 20:00 UTC" in p.reason

    def test_overlap_takes_the_safest_of_each(self) -> None:
        policy = SchedulePolicy(
            windows=(
                Window(start="08:00", end="20:00", min=3, max=30, utilisation=0.8),
                Window(start="12:00", end="14:00", min=5, max=20, utilisation=0.5),
            )
        )
        p = propose(policy, utc(2026, 1, 5, 13, 0), load=100.0, unit_capacity=10.0)
        assert (p.desired, p.floor, p.ceiling) == (20, 5, 20)

    def test_bounds_only_window_proposes_no_capacity(self) -> None:
        policy = SchedulePolicy(windows=(Window(start="08:00", end="20:00", min=3, max=9),))
        p = propose(policy, utc(2026, 1, 5, 13, 0), load=None)
        assert (p.desired, p.floor, p.ceiling) == (None, 3, 9)
        assert policy.metrics == ()

    def test_target_without_data_keeps_the_floor(self) -> None:
        p = propose(SEED, utc(2026, 1, 5, 13, 0), load=None)
        assert (p.desired, p.floor) == (None, 10)
        assert "no usable calls" in p.reason

    def test_absolute_target(self) -> None:
        policy = SchedulePolicy(windows=(Window(start="00:00", target=40.0),))
        assert propose(policy, utc(2026, 1, 5, 13, 0), load=412.0).desired == 11


class TestValidation:
    """Bad windows are refused with the value."""

    @pytest.mark.parametrize(
        ("kwargs", "message"),
        [
            ({"timezone": "Mars/Olympus", "windows": (Window(start="08:00"),)}, "unknown IANA time zone"),
            ({"auto_scale_threshold": {"8 o'clock": Threshold(unlockedMin=1)}}, "HH:MM or HH:MM:SS"),
            ({"auto_scale_threshold": {"24:30": Threshold(unlockedMin=1)}}, "between 00:00 and 23:59:59"),
            ({}, "give windows and/or auto_scale_threshold"),
        ],
        ids=["timezone", "key-format", "key-range", "empty"],
    )
    def test_policy(self, kwargs: dict[str, object], message: str) -> None:
        with pytest.raises(ValueError, match=re.escape(message)):
            SchedulePolicy(**kwargs)  # type: ignore[arg-type]

    @pytest.mark.parametrize(
        ("kwargs", "message"),
        [
            ({"start": "08:00", "end": "08:00"}, "end must differ from start"),
            ({"start": "08:00", "min": 5, "max": 3}, "min (5) is above max (3)"),
            ({"start": "08:00", "utilisation": 0.5, "target": 3.0}, "either utilisation or target"),
            ({"start": "8:61"}, "between 00:00 and 23:59:59"),
        ],
        ids=["empty-window", "min-above-max", "two-targets", "bad-minute"],
    )
    def test_window(self, kwargs: dict[str, object], message: str) -> None:
        with pytest.raises(ValueError, match=re.escape(message)):
            Window(**kwargs)  # type: ignore[arg-type]

    def test_threshold(self) -> None:
        with pytest.raises(ValueError, match=re.escape("loadMax must be in (0, 10] (got 0)")):
            Threshold(loadMax=0)

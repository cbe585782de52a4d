"""Each governor rule on its own, table-driven: bounds, stale data, stabilisation,
hysteresis, cooldown, step limits, pause, override, warm-up."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from fleetscale.governor.compiled import compile_governor
from fleetscale.governor.govern import Demand, Outcome, govern
from fleetscale.governor.manual import Override
from fleetscale.governor.memory import GovernorMemory
from fleetscale.governor.settings import DirectionRules, GovernorSettings
from fleetscale.model import Direction
from fleetscale.policy.combine import Combined

NOW = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
PLAIN = GovernorSettings(down=DirectionRules())


def ago(seconds: float) -> datetime:
    return NOW - timedelta(seconds=seconds)


def run(
    desired: int | None,
    current: int,
    *,
    settings: GovernorSettings = PLAIN,
    memory: GovernorMemory | None = None,
    pool_min: int = 0,
    pool_max: int = 100,
    floor: int | None = None,
    ceiling: int | None = None,
    problems: tuple[str, ...] = (),
    paused: frozenset[Direction] = frozenset(),
    override: tuple[int, datetime] | None = None,
    pending: int = 0,
) -> Outcome:
    combined = Combined(
        desired, "policy", floor, ceiling, f"floor {floor} from s", f"ceiling {ceiling} from s"
    )
    rules = compile_governor(
        settings, pool_min, pool_max, paused, Override(*override) if override else None
    )
    return govern(Demand(NOW, current, pending, combined, problems), rules, memory or GovernorMemory())


class TestBounds:
    """min/max and the schedule's floor/ceiling; the pool's max is absolute."""

    @pytest.mark.parametrize(
        ("desired", "current", "bounds", "expected"),
        [
            (50, 10, {"pool_max": 40}, 40),
            (0, 10, {"pool_min": 2}, 2),
            (3, 10, {"floor": 8}, 8),
            (30, 10, {"ceiling": 20}, 20),
            (3, 10, {"floor": 50, "pool_max": 40}, 40),
            (3, 10, {"floor": 12, "ceiling": 9}, 12),
            (None, 1, {"floor": 10}, 10),
            (None, 7, {}, 7),
            (None, 50, {"pool_max": 40}, 40),
        ],
        ids=[
            "max",
            "min",
            "floor",
            "ceiling",
            "floor-capped-by-max",
            "floor-beats-ceiling",
            "floor-without-proposal",
            "no-proposal-holds",
            "above-max-shrinks-to-max",
        ],
    )
    def test_bounds(self, desired: int | None, current: int, bounds: dict[str, int], expected: int) -> None:
        assert run(desired, current, **bounds).desired == expected  # type: ignore[arg-type]

    def test_step_names_the_bound(self) -> None:
        out = run(3, 5, floor=8)
        assert out.steps == ("bounds: 3 is below the minimum 8 (floor 8 from s) -> 8",)


class TestStaleData:
    """A metric with a problem blocks scale-down, never scale-up."""

    @pytest.mark.parametrize(
        ("desired", "current", "problems", "expected"),
        [
            (4, 10, ("load: newest reading is 400 s old (stale after 300 s)",), 10),
            (14, 10, ("load: read failed (timeout)",), 14),
            (4, 10, (), 4),
        ],
        ids=["stale-blocks-down", "error-allows-up", "fresh-allows-down"],
    )
    def test_stale(self, desired: int, current: int, problems: tuple[str, ...], expected: int) -> None:
        assert run(desired, current, problems=problems).desired == expected

    def test_step(self) -> None:
        out = run(4, 10, problems=("load: read failed (timeout)",))
        assert out.steps == ("data: load: read failed (timeout) -> no scale-down, hold at 10",)

    def test_bound_still_applies(self) -> None:
        assert run(4, 50, problems=("load: read failed",), pool_max=40).desired == 40


DOWN300 = GovernorSettings(down=DirectionRules(stabilisation=300))
UP120 = GovernorSettings(up=DirectionRules(stabilisation=120), down=DirectionRules())


class TestStabilisation:
    """Down uses the highest desire in its window, up the lowest (HPA)."""

    @pytest.mark.parametrize(
        ("settings", "history", "desired", "current", "expected"),
        [
            (DOWN300, [(200, 10), (100, 8)], 6, 10, 10),
            (DOWN300, [(200, 9), (100, 8)], 6, 10, 9),
            (DOWN300, [(400, 12), (100, 7)], 6, 10, 7),
            (DOWN300, [(200, 4)], 14, 10, 14),
            (UP120, [(60, 12), (30, 15)], 20, 10, 12),
            (UP120, [(60, 9)], 20, 10, 10),
            (UP120, [(200, 9)], 20, 10, 20),
        ],
        ids=[
            "down-held-by-earlier-high",
            "down-only-to-window-max",
            "old-entries-forgotten",
            "down-window-does-not-slow-up",
            "up-only-to-window-min",
            "up-held-by-earlier-low",
            "up-old-entries-forgotten",
        ],
    )
    def test_window(
        self,
        settings: GovernorSettings,
        history: list[tuple[int, int]],
        desired: int,
        current: int,
        expected: int,
    ) -> None:
        memory = GovernorMemory(desires=tuple((ago(s), d) for s, d in history), since=ago(3600))
        assert run(desired, current, settings=settings, memory=memory).desired == expected

    def test_memory_keeps_only_the_window(self) -> None:
        memory = GovernorMemory(desires=((ago(900), 3), (ago(299), 5)))
        out = run(6, 10, settings=DOWN300, memory=memory)
        assert out.memory.desires == ((ago(299), 5), (NOW, 6))

    def test_step(self) -> None:
        memory = GovernorMemory(desires=((ago(100), 10),), since=ago(3600))
        out = run(6, 10, settings=DOWN300, memory=memory)
        assert out.steps == ("stabilisation: highest desire in the last 300 s is 10 -> hold",)

    @pytest.mark.parametrize(
        ("since", "desired", "expected"),
        [(None, 6, 10), (120, 6, 10), (300, 6, 6), (None, 14, 14)],
        ids=["fresh-memory-holds", "short-history-holds", "full-window-shrinks", "fresh-memory-may-grow"],
    )
    def test_fresh_memory_waits_one_down_window(self, since: int | None, desired: int, expected: int) -> None:
        memory = GovernorMemory(since=None if since is None else ago(since))
        out = run(desired, 10, settings=DOWN300, memory=memory)
        assert out.desired == expected
        assert out.memory.since == (NOW if since is None else ago(since))

    def test_fresh_memory_step(self) -> None:
        out = run(6, 10, settings=DOWN300, memory=GovernorMemory(since=ago(120)))
        assert out.steps == ("stabilisation: only 120 s of history (< 300 s window) -> hold at 10",)


H3 = GovernorSettings(up=DirectionRules(hysteresis=3), down=DirectionRules(hysteresis=2))


class TestHysteresis:
    """Act only after N consecutive cycles wanting the same direction."""

    @pytest.mark.parametrize(
        ("desired", "streaks", "expected", "after"),
        [
            (15, (0, 0), 10, (1, 0)),
            (15, (1, 0), 10, (2, 0)),
            (15, (2, 0), 15, (0, 0)),
            (5, (0, 0), 10, (0, 1)),
            (5, (0, 1), 5, (0, 0)),
            (5, (2, 0), 10, (0, 1)),
            (10, (2, 1), 10, (0, 0)),
        ],
        ids=[
            "first-up-waits",
            "second-up-waits",
            "third-up-acts-and-resets",
            "first-down-waits",
            "second-down-acts",
            "reversal-restarts",
            "hold-clears",
        ],
    )
    def test_streaks(
        self, desired: int, streaks: tuple[int, int], expected: int, after: tuple[int, int]
    ) -> None:
        memory = GovernorMemory(up_streak=streaks[0], down_streak=streaks[1])
        out = run(desired, 10, settings=H3, memory=memory)
        assert out.desired == expected
        assert (out.memory.up_streak, out.memory.down_streak) == after

    def test_step(self) -> None:
        assert run(15, 10, settings=H3).steps == (
            "hysteresis: 1 of 3 consecutive cycles want up -> hold at 10",
        )


COOL = GovernorSettings(up=DirectionRules(cooldown=60), down=DirectionRules(cooldown=120))


class TestCooldown:
    """No further change in a direction within its cooldown."""

    @pytest.mark.parametrize(
        ("desired", "memory", "expected"),
        [
            (5, GovernorMemory(last_down_at=ago(45)), 10),
            (5, GovernorMemory(last_down_at=ago(120)), 5),
            (15, GovernorMemory(last_down_at=ago(45)), 15),
            (15, GovernorMemory(last_up_at=ago(30)), 10),
            (15, GovernorMemory(last_up_at=ago(61)), 15),
            (5, GovernorMemory(last_up_at=ago(1)), 5),
        ],
        ids=[
            "down-in-cooldown",
            "down-cooldown-over",
            "down-cooldown-allows-up",
            "up-in-cooldown",
            "up-cooldown-over",
            "up-cooldown-allows-down",
        ],
    )
    def test_cooldown(self, desired: int, memory: GovernorMemory, expected: int) -> None:
        assert run(desired, 10, settings=COOL, memory=memory).desired == expected

    def test_step_and_memory(self) -> None:
        out = run(5, 10, settings=COOL, memory=GovernorMemory(last_down_at=ago(45)))
        assert out.steps == ("cooldown: last scale-down 45 s ago < 120 s -> hold at 10",)
        acted = run(5, 10, settings=COOL)
        assert acted.memory.last_down_at == NOW


HPA_UP = GovernorSettings(
    up=DirectionRules(max_step_count=4, max_step_percent=100, step_period=15), down=DirectionRules()
)
DOWN_LIMIT = GovernorSettings(down=DirectionRules(max_step_count=1, max_step_percent=10, step_period=60))


class TestStepLimits:
    """At most max(count, percent of the period's start) units per period; the larger wins."""

    @pytest.mark.parametrize(
        ("settings", "desired", "current", "changes", "expected"),
        [
            (HPA_UP, 100, 2, [], 6),
            (HPA_UP, 100, 10, [], 20),
            (HPA_UP, 100, 6, [(10, 4)], 6),
            (HPA_UP, 100, 6, [(20, 4)], 12),
            (HPA_UP, 100, 0, [], 4),
            (HPA_UP, 3, 2, [], 3),
            (DOWN_LIMIT, 0, 50, [], 45),
            (DOWN_LIMIT, 0, 5, [], 4),
            (DOWN_LIMIT, 0, 45, [(30, -5)], 45),
        ],
        ids=[
            "count-wins-when-small",
            "percent-wins-when-large",
            "period-used-up",
            "old-change-forgotten",
            "from-zero-count",
            "under-the-limit",
            "down-percent",
            "down-count",
            "down-period-used-up",
        ],
    )
    def test_limit(
        self,
        settings: GovernorSettings,
        desired: int,
        current: int,
        changes: list[tuple[int, int]],
        expected: int,
    ) -> None:
        memory = GovernorMemory(changes=tuple((ago(s), c) for s, c in changes))
        assert run(desired, current, settings=settings, memory=memory).desired == expected

    def test_step_and_memory(self) -> None:
        out = run(100, 2, settings=HPA_UP)
        assert out.steps == ("step limit: up at most 4 units per 15 s, 0 used -> up to 6",)
        assert out.memory.changes == ((NOW, 4),)

    def test_percent_only_allows_one_from_zero(self) -> None:
        settings = GovernorSettings(up=DirectionRules(max_step_percent=50))
        assert run(10, 0, settings=settings).desired == 1


class TestOperator:
    """Pause per direction; an override holds at N until a time (pool min/max still apply)."""

    @pytest.mark.parametrize(
        ("desired", "paused", "expected"),
        [(15, {"up"}, 10), (5, {"up"}, 5), (5, {"down"}, 10), (15, {"down"}, 15), (15, {"up", "down"}, 10)],
        ids=["up-paused", "up-paused-allows-down", "down-paused", "down-paused-allows-up", "both"],
    )
    def test_pause(self, desired: int, paused: set[str], expected: int) -> None:
        assert run(desired, 10, paused=frozenset(Direction(d) for d in paused)).desired == expected

    def test_pause_does_not_break_bounds(self) -> None:
        assert run(15, 1, paused=frozenset({Direction.UP}), pool_min=3).desired == 3

    @pytest.mark.parametrize(
        ("until", "expected"),
        [(NOW + timedelta(minutes=5), 7), (NOW, 15), (NOW - timedelta(minutes=5), 15)],
        ids=["active", "ends-at-until", "expired"],
    )
    def test_override(self, until: datetime, expected: int) -> None:
        out = run(15, 10, override=(7, until), settings=COOL, memory=GovernorMemory(last_up_at=ago(500)))
        assert out.desired == expected

    def test_override_ignores_cooldown_and_floor_but_not_max(self) -> None:
        until = NOW + timedelta(hours=1)
        out = run(
            15, 10, override=(3, until), floor=8, memory=GovernorMemory(last_down_at=ago(1)), settings=COOL
        )
        assert out.desired == 3
        assert out.steps[0].startswith(
            "override: the operator holds the pool at 3 units until 2026-01-05 13:00"
        )
        assert run(15, 10, override=(300, until), pool_max=40).desired == 40


class TestWarmUp:
    """Booting units count as capacity; the verdict says so."""

    def test_note(self) -> None:
        out = run(12, 12, pending=2)
        assert out.desired == 12
        assert out.steps == ("warm-up: 2 booting units count as capacity (current 12)",)


class TestStaleDataIsNotRemembered:
    """A low desire computed from bad data is neither counted nor kept in the window."""

    def test_window_and_streak(self) -> None:
        settings = GovernorSettings(up=DirectionRules(stabilisation=120), down=DirectionRules(hysteresis=2))
        out = run(2, 10, settings=settings, problems=("load: read failed (timeout)",))
        assert out.memory.desires == ((NOW, 10),)
        assert out.memory.down_streak == 0

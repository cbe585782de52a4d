"""Under-provisioned episodes (``sim.episodes``) on hand-made timelines, and their invariants."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from fleetscale.sim.episodes import Episode, around, day_window, find_episodes, worst_day, worst_episodes


class TestFind:
    """An episode is a maximal run of intervals with ready < demanded."""

    @pytest.mark.parametrize(("demanded", "ready"), [
        ([3, 3, 3], [3, 3, 3]),
        ([1, 2, 3], [5, 5, 5]),
        ([0, 0], [0, 0]),
        ([], []),
    ], ids=["exact", "over", "zero-demand", "empty"])
    def test_none_when_never_short(self, demanded: list[int], ready: list[int]) -> None:
        assert find_episodes(demanded, ready, 60.0) == ()
        assert worst_episodes(demanded, ready, 60.0) == ()

    def test_one_episode_length_and_units_short(self) -> None:
        demanded = [4, 4, 6, 8, 8, 5, 4]
        ready = [4, 4, 4, 5, 7, 5, 4]
        (e,) = find_episodes(demanded, ready, 60.0)
        assert (e.start, e.end, e.steps) == (2, 5, 3)
        assert e.start_s == 120.0
        assert e.duration_s == 180.0
        assert e.peak_short == 3  # 8 demanded, 5 ready
        assert e.unit_hours == pytest.approx((2 + 3 + 1) * 60 / 3600)

    def test_boundaries_first_and_last_interval(self) -> None:
        demanded = [5, 2, 2, 5]
        ready = [3, 2, 2, 1]
        first, last = find_episodes(demanded, ready, 300.0)
        assert (first.start, first.end, first.peak_short) == (0, 1, 2)
        assert (last.start, last.end, last.peak_short) == (3, 4, 4)
        assert last.start_s == 900.0 and last.duration_s == 300.0

    def test_a_covered_interval_splits_episodes(self) -> None:
        episodes = find_episodes([3, 3, 3, 3, 3], [2, 2, 3, 2, 2], 60.0)
        assert [(e.start, e.end) for e in episodes] == [(0, 2), (3, 5)]

    def test_whole_run_short(self) -> None:
        (e,) = find_episodes([2, 2, 2], [0, 1, 0], 15.0)
        assert (e.start, e.end, e.peak_short) == (0, 3, 2)
        assert e.unit_hours == pytest.approx(5 * 15 / 3600)

    def test_mismatched_lengths_are_refused(self) -> None:
        with pytest.raises(ValueError, match="one length"):
            find_episodes([1, 2, 3], [1, 2], 60.0)


class TestWorst:
    """The worst are the largest by unit-hours short, then the deepest, then the earliest."""

    def test_ranked_by_unit_hours_then_depth_then_time(self) -> None:
        #            long, shallow (4)   deep, short (4)   tie of the first (4)   small (1)
        demanded = [3, 3, 3, 3, 0, 5, 0, 3, 3, 3, 3, 0, 1]
        ready = [2, 2, 2, 2, 0, 1, 0, 2, 2, 2, 2, 0, 0]
        worst = worst_episodes(demanded, ready, 3600.0, count=3)
        assert [(e.start, e.unit_hours, e.peak_short) for e in worst] == [
            (5, 4.0, 4), (0, 4.0, 1), (7, 4.0, 1)]
        assert len(worst_episodes(demanded, ready, 3600.0, count=10)) == 4
        assert worst_episodes(demanded, ready, 3600.0, count=0) == ()


class TestWindows:
    """The day and the close-up a reader is shown."""

    def test_short_run_is_its_own_day(self) -> None:
        assert day_window(100, 60.0, 50) == (0, 100)

    def test_day_of_an_index(self) -> None:
        per_day = 1440
        assert day_window(3 * per_day, 60.0, per_day + 5) == (per_day, 2 * per_day)
        assert day_window(3 * per_day, 60.0, 0) == (0, per_day)

    def test_partial_last_day_shows_the_last_24_hours(self) -> None:
        n = 2 * 1440 + 100
        assert day_window(n, 60.0, n - 1) == (n - 1440, n)

    def test_worst_day_is_the_day_of_the_worst_episode(self) -> None:
        n = 3 * 288  # three days of 5 minutes
        demanded = np.full(n, 4)
        ready = np.full(n, 4)
        ready[10] = 3  # small, day 1
        ready[300:310] = 1  # large, day 2
        assert worst_day(demanded, ready, 300.0) == (288, 576)

    def test_worst_day_without_episodes_is_the_day_of_peak_demand(self) -> None:
        demanded = np.full(3 * 288, 4)
        demanded[700] = 9
        assert worst_day(demanded, demanded, 300.0) == (576, 864)

    def test_close_up_is_widened_and_kept_inside_the_run(self) -> None:
        e = Episode(start=5, end=6, start_s=300.0, duration_s=60.0, peak_short=1, unit_hours=1 / 60)
        assert around(e, 1000, 60.0, context_s=600.0, least_s=3600.0) == (0, 60)  # shifted right
        assert around(e, 20, 60.0, context_s=600.0, least_s=3600.0) == (0, 20)  # the whole run
        e = Episode(start=500, end=520, start_s=30000.0, duration_s=1200.0, peak_short=1, unit_hours=1.0)
        assert around(e, 1000, 60.0, context_s=600.0, least_s=600.0) == (490, 530)
        assert around(e, 525, 60.0, context_s=600.0, least_s=600.0) == (485, 525)  # shifted left


@given(st.lists(st.tuples(st.integers(0, 6), st.integers(0, 6)), max_size=60),
       st.sampled_from([15.0, 60.0, 300.0]))
def test_episodes_cover_exactly_the_short_intervals(pairs: list[tuple[int, int]], interval: float) -> None:
    """Episodes are ordered, disjoint, maximal, and add up to the whole shortfall."""
    demanded = [d for d, _ in pairs]
    ready = [r for _, r in pairs]
    episodes = find_episodes(demanded, ready, interval)
    covered = [False] * len(pairs)
    previous_end = -1
    for e in episodes:
        assert e.start > previous_end  # ordered and separated by at least one covered interval
        previous_end = e.end
        for k in range(e.start, e.end):
            covered[k] = True
    assert covered == [d > r for d, r in pairs]
    short = sum(max(d - r, 0) for d, r in pairs)
    assert sum(e.unit_hours for e in episodes) == pytest.approx(short * interval / 3600)
    assert all(e.peak_short == max(demanded[k] - ready[k] for k in range(e.start, e.end)) for e in episodes)

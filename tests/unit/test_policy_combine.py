"""combine(): the safest proposal wins; abstainers never win; floors and ceilings gather."""

from __future__ import annotations

import pytest

from fleetscale.model import Proposal
from fleetscale.policy.combine import combine


def p(name: str, desired: int | None, floor: int | None = None, ceiling: int | None = None) -> Proposal:
    return Proposal(name, desired, f"{name} says {desired}", floor, ceiling)


class TestCombine:
    """Up beats hold beats down: the highest desired capacity wins."""

    @pytest.mark.parametrize(
        ("proposals", "desired", "winner"),
        [
            ((p("a", 3), p("b", 7), p("c", 5)), 7, "b"),
            ((p("a", 3), p("b", None)), 3, "a"),
            ((p("a", None), p("b", 0)), 0, "b"),
            ((p("a", 4), p("b", 4)), 4, "a"),
        ],
        ids=["highest-wins", "abstainer-never-wins", "zero-is-a-proposal", "tie-first-listed"],
    )
    def test_winner(self, proposals: tuple[Proposal, ...], desired: int, winner: str) -> None:
        c = combine(proposals)
        assert c.desired == desired
        assert c.reason.startswith(f"{winner}: {winner} says {desired}")

    def test_reason_names_the_runner_up(self) -> None:
        c = combine((p("target", 3), p("cycles", 7), p("step", 5)))
        assert c.reason == "cycles: cycles says 7 [over step -> 5]"

    def test_reason_lists_the_abstainers(self) -> None:
        c = combine((p("target", 3), p("schedule", None), p("cycles", None)))
        assert c.reason == "target: target says 3 [no proposal from schedule, cycles]"

    def test_all_abstain(self) -> None:
        c = combine((p("target", None), p("cycles", None)))
        assert c.desired is None
        assert c.reason == "no policy proposed a capacity (target, cycles)"

    def test_bounds_gather_safest(self) -> None:
        c = combine((p("s1", None, floor=3, ceiling=20), p("s2", 5, floor=6, ceiling=30), p("t", 9)))
        assert (c.desired, c.floor, c.ceiling) == (9, 6, 20)
        assert c.floor_reason == "floor 6 from s2"
        assert c.ceiling_reason == "ceiling 20 from s1"

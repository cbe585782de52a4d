"""The reconciler: finishes drains, removes instances that never booted, handles unknowns."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from fleetscale.model import Instance, InstanceState
from fleetscale.reconciler import Rules, reconcile

NOW = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
S = InstanceState


def inst(iid: str, state: InstanceState, age: float = 1000, address: str | None = "a") -> Instance:
    return Instance(iid, "t", state, launched_at=NOW - timedelta(seconds=age), address=address)


class TestDrains:
    """A drain ends only at zero sessions, or at the deadline when the policy says terminate."""

    @pytest.mark.parametrize(
        ("sessions", "deadline", "policy", "terminated"),
        [
            (0, None, "wait", True),
            (3, None, "wait", False),
            (None, None, "wait", False),
            (3, 60.0, "wait", False),
            (None, 60.0, "wait", False),
            (3, 60.0, "terminate", True),
            (None, 60.0, "terminate", True),
            (3, 600.0, "terminate", False),
        ],
        ids=["zero", "busy", "unknown", "deadline-wait", "unknown-wait", "deadline-terminate",
             "unknown-deadline-terminate", "before-deadline"],
    )
    def test_drain_end(self, sessions: int | None, deadline: float | None, policy: str,
                       terminated: bool) -> None:
        rules = Rules(drain_deadline=deadline, on_deadline=policy)  # type: ignore[arg-type]
        repair = reconcile(NOW, (inst("d", S.DRAINING),), {"d": NOW - timedelta(seconds=120)},
                           {"d": sessions}, {"d"}, rules)
        assert ([i for i, _ in repair.terminate] == ["d"]) is terminated

    def test_waiting_past_deadline_is_noted(self) -> None:
        repair = reconcile(NOW, (inst("d", S.DRAINING),), {"d": NOW - timedelta(seconds=120)},
                           {"d": 2}, {"d"}, Rules(drain_deadline=60))
        assert repair.terminate == ()
        assert "waiting for 2 sessions" in repair.notes[0]

    def test_vanished_drain_is_forgotten(self) -> None:
        repair = reconcile(NOW, (), {"gone": NOW}, {}, set(), Rules())
        assert repair.forget_drains == ("gone",)


class TestBootTimeout:
    """A pending instance past boot_timeout is terminated; a young one is left alone."""

    def test_timeout(self) -> None:
        old = inst("old", S.PENDING, age=700, address=None)
        young = inst("young", S.PENDING, age=100, address=None)
        repair = reconcile(NOW, (old, young), {}, {}, {"old", "young"}, Rules(boot_timeout=600))
        assert [i for i, _ in repair.terminate] == ["old"]
        assert "no address" in repair.terminate[0][1]

    def test_unregistered_with_address(self) -> None:
        unreg = inst("u", S.PENDING, age=700, address="10.0.0.1")
        repair = reconcile(NOW, (unreg,), {}, {}, {"u"}, Rules(boot_timeout=600))
        assert "not registered" in repair.terminate[0][1]

    def test_first_seen_when_no_launch_time(self) -> None:
        i = Instance("x", "t", S.PENDING)
        repair = reconcile(NOW, (i,), {}, {}, {"x"}, Rules(boot_timeout=60),
                           first_seen={"x": NOW - timedelta(seconds=61)})
        assert [t for t, _ in repair.terminate] == ["x"]


class TestUnknown:
    """Unknown instances are adopted, or drained then terminated; never cut while busy."""

    def test_adopt(self) -> None:
        repair = reconcile(NOW, (inst("new", S.READY),), {}, {}, set(), Rules())
        assert repair.adopt == ("new",)
        assert repair.terminate == ()

    def test_terminate_policy_drains_ready_first(self) -> None:
        rules = Rules(unknown_instances="terminate")
        repair = reconcile(NOW, (inst("r", S.READY), inst("p", S.PENDING, age=5, address=None)),
                           {}, {}, set(), rules)
        assert [i for i, _ in repair.drain] == ["r"]
        assert [i for i, _ in repair.terminate] == ["p"]

    def test_known_ready_untouched(self) -> None:
        repair = reconcile(NOW, (inst("k", S.READY),), {}, {}, {"k"}, Rules())
        assert repair.empty


class TestAdoptMarkedToStop:
    """An unknown instance an earlier controller had marked to_stop resumes its drain when adopted."""

    def test_marked_ready_instance_is_adopted_and_drained(self) -> None:
        gw = inst("gw1", S.READY)
        repair = reconcile(NOW, (gw,), {}, {}, set(), Rules(), marked_to_stop={"gw1"})
        assert repair.adopt == ("gw1",)
        assert [i for i, _ in repair.drain] == ["gw1"]
        assert repair.terminate == ()

    def test_unmarked_instance_is_only_adopted(self) -> None:
        repair = reconcile(NOW, (inst("gw2", S.READY),), {}, {}, set(), Rules(), marked_to_stop={"gw1"})
        assert repair.adopt == ("gw2",)
        assert repair.drain == ()

    def test_known_marked_instance_is_left_to_the_drain_table(self) -> None:
        repair = reconcile(NOW, (inst("gw1", S.READY),), {}, {}, {"gw1"}, Rules(), marked_to_stop={"gw1"})
        assert repair.adopt == () and repair.drain == ()

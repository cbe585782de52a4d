"""Reconciling gateway entries against the provider's instances (pure)."""

from __future__ import annotations

from fleetscale.media.gateway import Gateway
from fleetscale.media.reconcile import ReconcileOptions, Registration, Removal, describe, plan_reconcile
from fleetscale.model import Instance, InstanceState

S = InstanceState
OPTS = ReconcileOptions(rooms_per_unit=10, unknown_grace=60)


def inst(id: str, state: InstanceState = S.READY, address: str | None = None, weight: int = 1) -> Instance:
    return Instance(id, "t", state, weight=weight, address=address)


def gw(id: str, state: str = "ready", rooms: int = 0, address: str | None = None,
       instance_id: str | None = None, unknown_since: float | None = None) -> Gateway:
    return Gateway(id, state, None, address, instance_id, rooms, 0, 0, unknown_since)


class TestRegistration:
    """Ready and draining instances without an entry get one; pending ones wait."""

    def test_ready_instance_is_registered_with_weighted_capacity(self) -> None:
        actions = plan_reconcile([inst("i-1", address="127.0.0.1", weight=2)], [], 0.0, OPTS)
        assert actions.register == (Registration("i-1", "i-1", "127.0.0.1", 20, "ready"),)

    def test_draining_instance_is_registered_draining(self) -> None:
        actions = plan_reconcile([inst("i-1", S.DRAINING)], [], 0.0, OPTS)
        assert actions.register[0].state == "draining"

    def test_pending_instance_is_not_registered(self) -> None:
        assert plan_reconcile([inst("i-1", S.PENDING)], [], 0.0, OPTS).empty

    def test_register_off_leaves_it_to_the_gateways(self) -> None:
        opts = ReconcileOptions(register=False)
        assert plan_reconcile([inst("i-1")], [], 0.0, opts).register == ()

    def test_registered_instance_is_left_alone(self) -> None:
        assert plan_reconcile([inst("i-1")], [gw("i-1", instance_id="i-1")], 0.0, OPTS).empty


class TestAdoption:
    """A self-registered entry (under its address) is linked to its instance, whatever its state."""

    def test_adopted_by_address(self) -> None:
        entries = [gw("127.0.0.3", "pending")]
        actions = plan_reconcile([inst("i-1", S.PENDING, "127.0.0.3")], entries, 0.0, OPTS)
        assert actions.adopt == (("127.0.0.3", "i-1", "127.0.0.3"),)
        assert actions.register == ()

    def test_adopted_by_address_field(self) -> None:
        entries = [gw("media-a", address="127.0.0.3")]
        actions = plan_reconcile([inst("i-1", address="127.0.0.3")], entries, 0.0, OPTS)
        assert actions.adopt == (("media-a", "i-1", "127.0.0.3"),) and actions.register == ()

    def test_duplicate_empty_entry_is_removed(self) -> None:
        entries = [gw("i-1", instance_id="i-1", rooms=2), gw("127.0.0.3", rooms=0)]
        actions = plan_reconcile([inst("i-1", address="127.0.0.3")], entries, 0.0, OPTS)
        assert actions.remove == (Removal("127.0.0.3", "duplicate entry of i-1 (kept i-1)"),)


class TestSafety:
    """Repairs only move toward safety: drain what drains, remove what is gone, never undrain."""

    def test_draining_instance_with_ready_entry_is_drained(self) -> None:
        actions = plan_reconcile([inst("i-1", S.DRAINING)], [gw("i-1", "ready", 3)], 0.0, OPTS)
        assert actions.drain == ("i-1",)

    def test_ready_instance_with_draining_entry_stays_draining(self) -> None:
        assert plan_reconcile([inst("i-1")], [gw("i-1", "draining", 3, instance_id="i-1")], 0.0, OPTS).empty

    def test_entries_of_dead_instances_are_removed(self) -> None:
        instances = [inst("i-1", S.TERMINATING), inst("i-2", S.FAILED), inst("i-3", S.GONE)]
        entries = [gw("i-1", "draining"), gw("i-2", rooms=4), gw("i-3")]
        actions = plan_reconcile(instances, entries, 0.0, OPTS)
        assert [r.gateway_id for r in actions.remove] == ["i-2", "i-1", "i-3"]
        assert actions.register == ()

    def test_unknown_entry_is_watched_then_removed_after_grace(self) -> None:
        first = plan_reconcile([], [gw("g9", rooms=1)], 1000.0, OPTS)
        assert first.mark_unknown == ("g9",) and first.remove == ()
        early = plan_reconcile([], [gw("g9", rooms=1, unknown_since=1000.0)], 1059.0, OPTS)
        assert early.empty
        late = plan_reconcile([], [gw("g9", rooms=1, unknown_since=1000.0)], 1060.0, OPTS)
        assert late.remove == (Removal("g9", "no instance has matched it for 60 s"),)

    def test_unknown_entries_kept_when_configured(self) -> None:
        opts = ReconcileOptions(unknown="keep", unknown_grace=0)
        assert plan_reconcile([], [gw("g9", unknown_since=0.0)], 9999.0, opts).empty

    def test_drained_unknown_entry_is_removed_at_once(self) -> None:
        actions = plan_reconcile([], [gw("i-4", "draining", rooms=0)], 0.0, OPTS)
        assert actions.remove == (Removal("i-4", "no instance matches it and it is drained"),)

    def test_matched_again_clears_the_watch(self) -> None:
        actions = plan_reconcile([inst("i-1")], [gw("i-1", instance_id="i-1", unknown_since=5.0)], 9.0, OPTS)
        assert actions.clear_unknown == ("i-1",)

    def test_describe_reads_like_a_journal(self) -> None:
        actions = plan_reconcile([inst("i-1", S.GONE), inst("i-2")], [gw("i-1")], 0.0, OPTS)
        assert describe(actions) == ("media: registered gateway i-2 (ready, 10 rooms)",
                                     "media: removed gateway i-1: instance i-1 is gone")

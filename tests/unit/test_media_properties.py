"""Invariants of the reconcile plan over generated fleets (hypothesis), and the public API."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

import fleetscale.media
from fleetscale.media.gateway import Gateway
from fleetscale.media.reconcile import ReconcileOptions, plan_reconcile
from fleetscale.model import Instance, InstanceState

IDS = [f"i-{n}" for n in range(5)]
ADDRESSES = [f"127.0.0.{n}" for n in range(5)]
ALIVE = (InstanceState.PENDING, InstanceState.READY, InstanceState.DRAINING)

instances = st.lists(
    st.builds(lambda i, state, with_address: Instance(IDS[i], "t", state,
                                                      address=ADDRESSES[i] if with_address else None),
              st.integers(0, 4), st.sampled_from(list(InstanceState)), st.booleans()),
    max_size=5, unique_by=lambda x: x.id)
gateways = st.lists(
    st.builds(lambda gid, state, rooms, link, since:
              Gateway(gid, state, None, None, link, rooms, 0, 0, since),
              st.sampled_from(IDS + ADDRESSES + ["other-1", "other-2"]),
              st.sampled_from(["pending", "ready", "draining"]), st.integers(0, 3),
              st.sampled_from([None, *IDS]), st.sampled_from([None, 0.0, 500.0])),
    max_size=6, unique_by=lambda g: g.id)
options = st.builds(ReconcileOptions, st.booleans(), st.sampled_from(["remove", "keep"]),
                    st.sampled_from([0.0, 60.0, 1000.0]), st.integers(1, 50))


def _owner(g: Gateway, insts: list[Instance]) -> Instance | None:
    """The instance an entry belongs to, by the documented precedence."""
    by_id = {i.id: i for i in insts}
    by_address = {i.address: i for i in insts if i.address}
    for key, table in ((g.instance_id, by_id), (g.id, by_id), (g.address, by_address), (g.id, by_address)):
        if key and key in table:
            return table[key]
    return None


class TestReconcileInvariants:
    """Whatever the fleet and the entries, repairs only move toward safety."""

    @settings(max_examples=300, deadline=None)
    @given(instances, gateways, options)
    def test_safety(self, insts: list[Instance], gws: list[Gateway], opts: ReconcileOptions) -> None:
        actions = plan_reconcile(insts, gws, 1000.0, opts)
        by_id = {g.id: g for g in gws}
        removed = {r.gateway_id for r in actions.remove}
        for gid in removed:
            # an entry of a live instance is removed only as an empty duplicate
            owner = _owner(by_id[gid], insts)
            assert owner is None or owner.state not in ALIVE or by_id[gid].rooms == 0
        # nothing is ever un-drained, and only ready/pending entries are drained
        assert all(by_id[g].state in ("ready", "pending") for g in actions.drain)
        # registration only for ready/draining instances, only when enabled, never twice
        registered = [r.instance_id for r in actions.register]
        assert len(set(registered)) == len(registered)
        assert opts.register or not registered
        states = {i.id: i.state for i in insts}
        assert all(states[i] in (InstanceState.READY, InstanceState.DRAINING) for i in registered)
        # under "keep", an entry is removed only when its instance is dead, drained, or a duplicate
        if opts.unknown == "keep":
            for r in actions.remove:
                assert "no instance has matched" not in r.reason

    @settings(max_examples=100, deadline=None)
    @given(instances, options)
    def test_registration_converges(self, insts: list[Instance], opts: ReconcileOptions) -> None:
        """Applying the registrations leaves nothing to register next time."""
        first = plan_reconcile(insts, [], 0.0, opts)
        entries = [Gateway(r.gateway_id, r.state, r.capacity, r.address, r.instance_id, 0, 0)
                   for r in first.register]
        again = plan_reconcile(insts, entries, 0.0, opts)
        assert again.register == () and again.adopt == () and again.remove == ()


def test_public_api() -> None:
    assert sorted(fleetscale.media.__all__) == ["DEFAULT_PREFIX", "KeySchema", "MediaRegistry", "Placement",
                                                "Release", "RoomAllocator"]

"""The state value never holds an illegal transition, and a persisted state reloaded gives
the same next cycle as the one that never left memory."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from fleetscale.cycle import CycleSpec, Inputs, step
from fleetscale.decide import DecisionSpec
from fleetscale.journal.state_codec import state_from_json, state_to_json
from fleetscale.model import Instance, InstanceState, InstanceType, Observation, check_transition
from fleetscale.policy.recommended import recommended_governor, recommended_policies
from fleetscale.reconciler import Rules
from fleetscale.state import FleetState

NOW = datetime(2026, 1, 5, tzinfo=UTC)
IDS = [f"i-{n}" for n in range(5)]
PROVIDER_STATES = [InstanceState.PENDING, InstanceState.READY, InstanceState.FAILED,
                   InstanceState.TERMINATING]

listing = st.lists(st.tuples(st.sampled_from(IDS), st.sampled_from(PROVIDER_STATES)), max_size=5,
                   unique_by=lambda x: x[0])
op = st.one_of(
    st.tuples(st.just("list"), listing, st.frozensets(st.sampled_from(IDS)), st.booleans()),
    st.tuples(st.just("drain"), st.sampled_from(IDS)),
    st.tuples(st.just("cancel"), st.sampled_from(IDS)),
    st.tuples(st.just("launch"), st.sampled_from(IDS)),
    st.tuples(st.just("gone"), st.sampled_from(IDS)),
    st.tuples(st.just("forget"), st.sampled_from(IDS)),
)


def _apply(state: FleetState, o: tuple[Any, ...], at: datetime) -> FleetState:
    kind = o[0]
    by_id = state.by_id()
    if kind == "list":
        listed = tuple(Instance(i, "t", s, address=f"{i}.x" if s is InstanceState.READY else None)
                       for i, s in o[1])
        return state.seen(listed, o[2], o[3], at)
    iid = o[1]
    inst = by_id.get(iid)
    if kind == "drain" and inst is not None and inst.state is InstanceState.READY:
        return state.begin_drain(iid, at)
    if kind == "cancel" and inst is not None and inst.state is InstanceState.DRAINING:
        return state.cancel_drain(iid)
    if kind == "launch" and inst is None:
        return state.launched([Instance(iid, "t", InstanceState.PENDING)], at)
    if kind == "gone" and inst is not None:
        return state.gone([iid])
    if kind == "forget":
        return state.forget_drains([iid])
    return state


class TestTransitions:
    """Whatever the provider reports and the controller does, each instance of the value only
    ever moves along ``model.ALLOWED_TRANSITIONS``."""

    @settings(max_examples=300, deadline=None)
    @given(st.lists(op, max_size=30))
    def test_never_an_illegal_transition(self, ops: list[tuple[Any, ...]]) -> None:
        state = FleetState("p")
        at = NOW
        for o in ops:
            at += timedelta(seconds=60)
            before = state.by_id()
            state = _apply(state, o, at)
            for inst in state.instances:
                if inst.id in before:
                    check_transition(before[inst.id].state, inst.state)  # raises if illegal
            assert state.version >= 0
            # a drain is recorded for every draining instance of the view
            assert all(i.id in state.drains for i in state.instances if i.state is InstanceState.DRAINING)

    def test_booted_instance_with_a_recorded_drain_goes_through_ready(self) -> None:
        pending = FleetState("p").launched([Instance("a", "t", InstanceState.PENDING)], NOW)
        state = pending.drain_recorded("a", NOW).seen(
            (Instance("a", "t", InstanceState.READY, address="x"),), frozenset(), False, NOW)
        assert state.instances[0].state is InstanceState.DRAINING

    def test_ready_is_never_taken_back_to_pending(self) -> None:
        ready = FleetState("p").seen((Instance("a", "t", InstanceState.READY, address="x"),),
                                     frozenset({"a"}), True, NOW)
        again = ready.seen((Instance("a", "t", InstanceState.PENDING),), frozenset(), True, NOW)
        assert again.instances[0].state is InstanceState.READY


def _spec() -> CycleSpec:
    decision = DecisionSpec(pool="p", min=1, max=50, unit_capacity=10.0,
                            policies=recommended_policies(horizon=180.0), governor=recommended_governor())
    return CycleSpec(decision, (InstanceType("default"),), Rules())


@settings(max_examples=20, deadline=None)
@given(st.lists(st.floats(min_value=0, max_value=400), min_size=10, max_size=80))
def test_reloaded_state_gives_the_same_next_cycle(loads: list[float]) -> None:
    """Persist the state after each cycle, reload it, run the next cycle from both: the same
    decision, plan, actions and next state (the provider's listing is not persisted; the
    reloaded value rebuilds its view from the next listing)."""
    spec = _spec()
    fleet = tuple(Instance(f"i-{n}", "default", InstanceState.READY, address=f"{n}.x") for n in range(4))
    state = FleetState("p")
    at = NOW
    for k, load in enumerate(loads):
        inputs = Inputs(at, f"c{k}", (Observation("t", "load", load, at),), fleet, {})
        live = step(state, inputs, spec)
        reloaded = step(state_from_json(state_to_json(state)), inputs, spec)
        assert live.plan == reloaded.plan and live.actions == reloaded.actions
        assert live.verdict is not None and reloaded.verdict is not None
        assert live.verdict.decision == reloaded.verdict.decision
        assert live.verdict.proposals == reloaded.verdict.proposals
        assert live.state.instances == reloaded.state.instances
        assert live.state.drains == reloaded.state.drains and live.state.known == reloaded.state.known
        state = live.state  # acting is not simulated: the fleet stays as listed
        at += timedelta(seconds=60)

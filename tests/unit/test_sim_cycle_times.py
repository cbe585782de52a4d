"""``simulate(..., at=...)``: cycles run at given times within their steps (a replay runs them
when the recorded ones ran) and still see only the load of the step that ended."""

from __future__ import annotations

import numpy as np
import pytest

from fleetscale.decide import DecisionSpec
from fleetscale.governor.settings import DirectionRules, GovernorSettings
from fleetscale.model import InstanceType
from fleetscale.policy.target import TargetPolicy
from fleetscale.sim.run import FleetSettings, simulate

ONE = (InstanceType("gw"),)
LOAD = np.array([8, 8, 8, 8, 2, 2, 2, 2, 2, 2, 2, 2], dtype=np.float64)
FLEET = FleetSettings(boot_delay=1.0)


def _spec() -> DecisionSpec:
    return DecisionSpec(pool="p", min=1, max=20, unit_capacity=2.0,
                        policies=(TargetPolicy(metric="load", utilisation=1.0),),
                        governor=GovernorSettings(down=DirectionRules(stabilisation=6.0)))


def _loads(records: tuple[object, ...]) -> list[float | None]:
    return [next(o.value for o in r.observations if o.metric == "load")  # type: ignore[attr-defined]
            for r in records]


def test_on_the_ticks_it_is_the_plain_run() -> None:
    plain = simulate(LOAD, _spec(), ONE, 2.0, FLEET, record=True)
    ticks = simulate(LOAD, _spec(), ONE, 2.0, FLEET, record=True, at=[2.0 * k for k in range(len(LOAD))])
    assert plain.provisioned.tolist() == ticks.provisioned.tolist()
    assert _loads(plain.records) == _loads(ticks.records)


def test_late_cycles_see_the_step_that_ended_and_decide_window_ties() -> None:
    plain = simulate(LOAD, _spec(), ONE, 2.0, FLEET, record=True)
    late = simulate(LOAD, _spec(), ONE, 2.0, FLEET, record=True,
                    at=[2.0 * k + (0.001 if k % 2 else 0.0) for k in range(len(LOAD))])
    assert _loads(late.records) == _loads(plain.records) == [None, *LOAD[:-1].tolist()]
    # the load falls in step 4 (seen from cycle 5 on); at cycle 7 the desire of cycle 4 (still
    # high) is exactly one 6 s window old on the ticks (in the window: hold, down at cycle 8),
    # and 6.001 s old when cycle 7 runs 1 ms late (out of the window: down at cycle 7)
    first_down = [int(np.argmax(t.ready < 4)) for t in (plain, late)]
    assert first_down == [8, 7]


def test_times_must_match_the_steps() -> None:
    with pytest.raises(ValueError):
        simulate(LOAD, _spec(), ONE, 2.0, FLEET, at=[0.0, 2.0])

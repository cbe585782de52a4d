"""The predictive policy forecasts a daily cycle ahead of a reactive policy and still
reacts at once to a surprise."""

from __future__ import annotations

import json
import math
import warnings
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fleetscale.decide import DecisionSpec
from fleetscale.journal.state_codec import decode, encode
from fleetscale.model import InstanceType, Observation, Snapshot
from fleetscale.policy.context import PolicyContext, Reading
from fleetscale.policy.predictive import PredictivePolicy, PredictiveState
from fleetscale.policy.target import TargetPolicy
from fleetscale.sim.run import FleetSettings, simulate

START = datetime(2026, 1, 5, tzinfo=UTC)
STEP = 60.0
DAY = 86400


def sine(t: np.ndarray) -> np.ndarray:
    return 50.0 + 40.0 * np.sin(2 * math.pi * t / DAY)


def _ctx(at: datetime, value: float) -> PolicyContext:
    return PolicyContext(at, 10, 1.0, 0, 1000, {"load": Reading("load", value, value, at)})


def _feed(policy: PredictivePolicy, loads: np.ndarray) -> list[int]:
    state = None
    out = []
    for k, value in enumerate(loads.tolist()):
        at = START + timedelta(seconds=k * STEP)
        snap = Snapshot("p", at, (), (Observation("t", "load", value, at),))
        proposal, state = policy.propose(snap, _ctx(at, value), state, "predictive")
        assert isinstance(state, PredictiveState)
        out.append(proposal.desired)
    return out


class TestForecast:
    """After a few days of a clean sine the policy provisions for the load one horizon ahead."""

    def test_covers_the_load_ahead_on_day_four(self) -> None:
        policy = PredictivePolicy(utilisation=1.0, horizon=600.0)
        t = np.arange(4 * DAY // int(STEP)) * STEP
        load = sine(t)
        desired = _feed(policy, load)
        day4 = range(3 * DAY // int(STEP), len(t) - 10)
        ahead = [max(load[k:k + 11]) for k in day4]  # the highest load over the next 10 minutes
        covered = [desired[k] >= math.ceil(a - 1e-9) for k, a in zip(day4, ahead, strict=True)]
        reactive = [math.ceil(load[k] - 1e-9) >= math.ceil(a - 1e-9)
                    for k, a in zip(day4, ahead, strict=True)]
        assert sum(covered) / len(covered) > 0.99
        assert sum(reactive) / len(reactive) < 0.7  # the rising half of the day is not covered

    def test_no_history_is_purely_reactive(self) -> None:
        policy = PredictivePolicy(utilisation=0.5)
        desired = _feed(policy, np.array([10.0, 20.0, 5.0]))
        assert desired == [20, 40, 10]


def test_reacts_to_a_surprise_spike() -> None:
    policy = PredictivePolicy(utilisation=1.0, horizon=180.0)
    t = np.arange(4 * DAY // int(STEP)) * STEP
    load = sine(t)
    spike_at = 3 * DAY // int(STEP) + 300
    load[spike_at] = 400.0
    desired = _feed(policy, load)
    assert desired[spike_at] == 400


def test_level_follows_growth() -> None:
    """A cycle that doubles after the history is learnt is scaled up, not under-forecast."""
    policy = PredictivePolicy(utilisation=1.0, horizon=600.0, level_window=3600.0)
    t = np.arange(5 * DAY // int(STEP)) * STEP
    load = sine(t)
    load[4 * DAY // int(STEP):] *= 2.0
    desired = _feed(policy, load)
    k = 4 * DAY // int(STEP) + 6 * 60  # 06:00 on day 5 (a peak), six hours after the jump
    assert desired[k] >= 0.95 * max(load[k:k + 10])


def test_through_the_harness_beats_reactive_on_a_daily_cycle() -> None:
    """Same engine, same trace: the predictive set is under-provisioned less than target alone."""
    t = np.arange(5 * DAY // int(STEP)) * STEP
    load = sine(t)
    reactive_only = (TargetPolicy(utilisation=1.0),)
    with_forecast = (TargetPolicy(utilisation=1.0), PredictivePolicy(utilisation=1.0, horizon=180.0))
    base = DecisionSpec(pool="p", min=1, max=500, policies=reactive_only, unit_capacity=1.0)
    both = DecisionSpec(pool="p", min=1, max=500, policies=with_forecast, unit_capacity=1.0)
    fleet = FleetSettings(boot_delay=120.0)
    types = (InstanceType("default"),)
    reactive = simulate(load, base, types, STEP, fleet).scores()
    predictive = simulate(load, both, types, STEP, fleet).scores()
    assert predictive.tau_under < reactive.tau_under / 3
    assert predictive.instance_hours == pytest.approx(reactive.instance_hours, rel=0.05)


@pytest.mark.parametrize(("kw", "word"), [
    ({"bucket": 7.0}, "bucket"),
    ({"days": 0}, "days"),
    ({"horizon": -1.0}, "horizon"),
    ({"target": 1.0, "utilisation": 0.5}, "either"),
], ids=["bucket", "days", "horizon", "both-targets"])
def test_bad_settings_are_refused(kw: dict[str, float], word: str) -> None:
    with pytest.raises(ValueError, match=word):
        PredictivePolicy(**kw)  # type: ignore[arg-type]


class TestVolatility:
    """Noise headroom grows with the reading's volatility and vanishes on a flat load."""

    def test_flat_load_gets_no_headroom(self) -> None:
        policy = PredictivePolicy(utilisation=1.0, volatility=3.0)
        assert _feed(policy, np.full(120, 20.0))[-1] == 20

    def test_noisy_load_gets_headroom(self) -> None:
        rng = np.random.default_rng(7)
        noisy = 20.0 + rng.normal(0.0, 2.0, 600)
        plain = _feed(PredictivePolicy(utilisation=1.0), noisy)
        padded = _feed(PredictivePolicy(utilisation=1.0, volatility=2.0, horizon=180.0), noisy)
        extra = np.array(padded[300:]) - np.array(plain[300:])
        # changes have std 2*sqrt(2) per 60 s step; over 180 s: sqrt(3) times that; z = 2
        expected = 2.0 * 2.0 * math.sqrt(2.0) * math.sqrt(3.0)
        assert extra.mean() == pytest.approx(expected, rel=0.25)


def _learner(**kw: Any) -> PredictivePolicy:
    settings = {"utilisation": 1.0, "horizon": 180.0, "error_quantile": 0.9, "error_window": 200,
                "error_min": 10, **kw}
    return PredictivePolicy(**settings)


def _states(policy: PredictivePolicy, loads: list[float]) -> list[tuple[int, PredictiveState]]:
    state: object = None
    out = []
    for k, value in enumerate(loads):
        at = START + timedelta(seconds=k * STEP)
        snap = Snapshot("p", at, (), (Observation("t", "load", value, at),))
        proposal, state = policy.propose(snap, _ctx(at, value), state, "predictive")
        assert isinstance(state, PredictiveState) and proposal.desired is not None
        out.append((proposal.desired, state))
    return out


class TestLearntHeadroom:
    """The headroom is a quantile of the policy's own forecast errors over the lead time."""

    def test_flat_load_learns_no_headroom(self) -> None:
        out = _states(_learner(), [20.0] * 100)
        desired, state = out[-1]
        assert desired == 20
        assert len(state.errors) and set(state.errors.tolist()) == {0.0}

    def test_error_is_the_highest_reading_over_the_horizon_minus_the_forecast(self) -> None:
        """Each cycle's forecast (here the current reading: no history yet) is scored three
        cycles (180 s) later against the highest of the three readings that came in since."""
        loads = [20.0] * 5 + [30.0] + [20.0] * 5
        out = _states(_learner(), loads)
        expected = [max(loads[k + 1:k + 4]) - loads[k] for k in range(len(loads) - 3)]
        assert list(out[-1][1].errors) == expected  # [0, 0, 10, 10, 10, -10, 0, 0]
        assert len(out[6][1].errors) == 4  # scored no earlier than 180 s after
        assert len(out[-1][1].pending) == 3

    def test_noisy_load_learns_its_quantile(self) -> None:
        """On noise (less than a day: no seasonal forecast yet, so each forecast is the reading)
        the headroom is the 90th percentile of the last 1000 (max of the next three readings -
        the reading), and the desire covers the load three steps ahead about 90 % of the time."""
        rng = np.random.default_rng(3)
        n = 1300
        loads = (100.0 + rng.normal(0.0, 5.0, n)).tolist()
        policy = _learner(error_window=1000, error_min=100)
        out = _states(policy, loads)
        arr = np.asarray(loads)
        errors = sorted(max(arr[k + 1:k + 4]) - arr[k] for k in range(n - 1003, n - 3))
        assert policy.compile(1.0).learnt(out[-1][1]) == pytest.approx(errors[900])
        covered = [out[k][0] >= math.ceil(max(arr[k + 1:k + 4]) - 1e-9) for k in range(200, n - 3)]
        assert 0.85 < sum(covered) / len(covered) < 0.97

    def test_window_forgets_old_bursts(self) -> None:
        """Bursty first, calm after: once the window holds only calm errors, no headroom."""
        loads = [20.0 + (40.0 if k % 7 == 0 else 0.0) for k in range(100)] + [20.0] * 300
        policy = _learner(error_window=100)
        out = _states(policy, loads)
        compiled = policy.compile(1.0)
        assert compiled.learnt(out[99][1]) > 10.0
        assert compiled.learnt(out[-1][1]) == 0.0
        assert out[-1][0] == 20

    def test_volatility_is_the_prior_until_enough_errors(self) -> None:
        rng = np.random.default_rng(5)
        loads = (50.0 + rng.normal(0.0, 4.0, 40)).tolist()
        policy = _learner(volatility=1.0, error_min=30)
        compiled = policy.compile(1.0)
        for k, (desired, state) in enumerate(_states(policy, loads)):
            pad, text = compiled.headroom(state)
            if len(state.errors) < 30:
                assert pad == compiled.margin(state) and "learnt" not in text
            else:
                assert pad == compiled.learnt(state) and "learnt headroom" in text
            assert desired >= math.ceil(loads[k] - 1e-9)

    def test_band_learns_from_the_errors_made_at_a_similar_load(self) -> None:
        """Busy noisy hours and quiet flat hours in turn: with ``error_band`` the headroom at a
        quiet reading is the quantile of the errors made at quiet readings (a level within 4
        quarter-octaves of the current one, below one unit's share counted as level 0), at a busy
        reading that of the busy ones."""
        rng = np.random.default_rng(11)
        loads = ((100.0 + rng.normal(0.0, 10.0, 300)).tolist() + [5.0] * 150
                 + (100.0 + rng.normal(0.0, 10.0, 300)).tolist() + [5.0] * 150)
        policy = _learner(error_window=1000, error_min=50, error_band=2.0)
        compiled = policy.compile(1.0)
        out = _states(policy, loads)
        plain = _learner(error_window=1000, error_min=50).compile(1.0)

        def level(x: float) -> int:  # one unit's share is 1.0 here
            return round(4 * math.log2(max(x, 1.0)))

        def expected(end: int) -> float:
            now = level(loads[end])
            made = [k for k in range(max(0, end - 1002), end - 2) if abs(level(loads[k]) - now) <= 4]
            errors = sorted(max(loads[k + 1:k + 4]) - loads[k] for k in made)
            return max(0.0, errors[int(0.9 * len(errors))])

        quiet, noisy = len(loads) - 1, 749
        state = out[quiet][1]
        assert len(state.error_levels) == len(state.errors) and state.error_levels.dtype == np.int8
        assert expected(quiet) == 0.0 and compiled.learnt(state) == 0.0
        assert plain.learnt(state) > 10.0  # all errors: the busy hours' noise
        assert expected(noisy) > 10.0 and compiled.learnt(out[noisy][1]) == pytest.approx(expected(noisy))
        assert out[quiet][0] == 5
        assert "at a similar load" in compiled.headroom(state)[1]

    def test_band_falls_back_to_all_errors_at_a_new_load(self) -> None:
        """A reading far from every earlier one: fewer than ``error_min`` similar errors, so the
        quantile is over all of them."""
        loads = [20.0 + (6.0 if k % 5 == 0 else 0.0) for k in range(120)] + [300.0]
        policy = _learner(error_band=2.0)
        compiled = policy.compile(1.0)
        state = _states(policy, loads)[-1][1]
        assert compiled.learnt(state) == _learner().compile(1.0).learnt(state) > 0.0
        assert "similar" not in compiled.headroom(state)[1]

    def test_band_reads_a_state_saved_before_the_levels_were_kept(self) -> None:
        """A state with 3-tuple pending forecasts and no ``error_levels`` (saved by the version
        before ``error_band``, main's format): its errors count with an unknown level (-1), in
        the fallback only."""
        loads = [20.0 + (6.0 if k % 5 == 0 else 0.0) for k in range(60)]
        policy = _learner(error_band=2.0)
        old = _states(_learner(), loads)[-1][1]
        old = old._replace(pending=tuple(p[:3] for p in old.pending))
        saved = encode(old)
        saved["v"] = saved["v"][:12]  # main's PredictiveState: twelve fields, no levels
        old = decode(json.loads(json.dumps(saved)))
        assert isinstance(old, PredictiveState) and not len(old.error_levels)
        state: object = old
        for k in range(60, 70):
            at = START + timedelta(seconds=k * STEP)
            snap = Snapshot("p", at, (), (Observation("t", "load", 20.0, at),))
            _, state = policy.propose(snap, _ctx(at, 20.0), state, "predictive")
        assert isinstance(state, PredictiveState)
        levels = state.error_levels
        assert len(levels) == len(state.errors) and levels.dtype == np.int8
        known = levels[levels >= 0]
        # ten cycles score the three old pending forecasts (level unknown) and seven new ones
        assert len(known) == 7 and set(known.tolist()) == {round(4 * math.log2(20.0))}
        assert int((levels == -1).sum()) == len(state.errors) - 7
        assert policy.compile(1.0).learnt(state) == _learner().compile(1.0).learnt(state)

    def test_levels_are_quarter_octaves_over_one_units_share(self) -> None:
        """A reading's level: round(4 log2(reading / share)), 0 at or below one unit's share,
        at most 127; ``error_band`` 2 reaches 4 levels either way, 1.5 reaches 2."""
        compiled = _learner(error_band=2.0, utilisation=0.5).compile(4.0)  # share 2.0
        assert [compiled.load_level(x) for x in (0.0, 1.0, 2.0, 4.0, 2.0 * 2 ** 0.25, 2.0 * 2 ** 0.37)] \
            == [0, 0, 0, 4, 1, 1]
        assert compiled.load_level(math.nan) == 0 and compiled.load_level(1e300) == 127
        assert compiled.band_levels == 4
        assert _learner(error_band=1.5).compile(1.0).band_levels == 2
        assert _learner().compile(1.0).band_levels == 0

    def test_similar_is_within_the_band_of_levels(self) -> None:
        """Levels 0..12 and -1 (unknown) at the current reading's level 8 (a reading of 4 shares):
        those within 4 levels are similar, the unknown one never."""
        compiled = _learner(error_band=2.0).compile(1.0)
        levels = np.array([-1, *range(13)], dtype=np.int8)
        state = PredictiveState(0, 0.0, np.empty(0), (), last_value=4.0, errors=np.zeros(len(levels)),
                                error_levels=levels)
        assert levels[compiled.similar(state)].tolist() == list(range(4, 13))
        top = state._replace(last_value=1e300, error_levels=np.array([-1, 0, 122, 123, 127], dtype=np.int8),
                             errors=np.zeros(5))
        assert compiled.similar(top).tolist() == [False, False, False, True, True]

    def test_band_ignores_a_window_of_float_loads(self) -> None:
        """A state whose last field holds float readings (the unreleased first form of the band,
        never on main) is read as levels unknown: the fallback over all errors, then levels."""
        loads = [20.0 + (6.0 if k % 5 == 0 else 0.0) for k in range(120)]
        policy = _learner(error_band=2.0)
        state = _states(policy, loads)[-1][1]
        floats = np.full(len(state.errors), 20.0)
        floats.flags.writeable = False
        odd = state._replace(error_levels=floats)  # type: ignore[arg-type]
        compiled = policy.compile(1.0)
        assert compiled.learnt(odd) == _learner().compile(1.0).learnt(odd)
        assert "similar" not in compiled.headroom(odd)[1]
        at = START + timedelta(seconds=120 * STEP)
        snap = Snapshot("p", at, (), (Observation("t", "load", 20.0, at),))
        _, after = policy.propose(snap, _ctx(at, 20.0), odd, "predictive")
        assert isinstance(after, PredictiveState) and after.error_levels.dtype == np.int8
        assert len(after.error_levels) == len(after.errors) and int(after.error_levels[-1]) == 17

    @pytest.mark.parametrize(("kw", "word"), [
        ({"error_quantile": 1.0}, "error_quantile"),
        ({"error_quantile": -0.1}, "error_quantile"),
        ({"error_min": 0}, "error_min"),
        ({"error_min": 300, "error_window": 200}, "error_min"),
        ({"error_band": 1.0}, "error_band"),
        ({"error_band": -2.0}, "error_band"),
    ], ids=["q-one", "q-negative", "min-zero", "min-over-window", "band-one", "band-negative"])
    def test_bad_settings_are_refused(self, kw: dict[str, float], word: str) -> None:
        with pytest.raises(ValueError, match=word):
            _learner(**kw)


class TestStorage:
    """History and errors are stored as float32; a state saved with float64 arrays (before the
    change) loads as float32 and the pool keeps deciding as if it had never been saved."""

    def test_arrays_are_float32_and_read_only(self) -> None:
        state = _states(_learner(), (sine(np.arange(400) * STEP)).tolist())[-1][1]
        assert state.history.dtype == np.float32 and state.errors.dtype == np.float32
        assert len(state.errors) == 200 and not state.history.flags.writeable
        assert not state.errors.flags.writeable

    def test_a_float64_state_saved_before_loads_as_float32_and_keeps_deciding(self) -> None:
        """Two days and a bit of a daily cycle with noise (a seasonal forecast and a full error
        window), then the state as the float64 version saved it: its ring holds the bucket peaks
        in float64, its errors are float64. Decoded, both are float32 (the nearest float32 of
        each value), read-only, and the next cycles decide exactly as the state never saved."""
        rng = np.random.default_rng(7)
        n = 2 * 1440 + 62  # 1-minute steps: five to a 5-minute bucket, the last one filling
        loads = (sine(np.arange(n) * STEP) + rng.normal(0.0, 3.0, n)).tolist()
        policy = _learner(error_band=2.0, volatility=0.5)
        state = _states(policy, loads)[-1][1]
        slots = len(state.history)
        history64 = np.full(slots, np.nan)
        first = int(START.timestamp()) // 300
        for j in range(n // 5):
            history64[(first + j) % slots] = max(loads[5 * j:5 * j + 5])
        assert np.array_equal(history64.astype(np.float32), state.history, equal_nan=True)
        assert not np.array_equal(history64, state.history, equal_nan=True)  # not float32-exact
        old = state._replace(history=history64, errors=state.errors.astype(np.float64))
        saved = json.loads(json.dumps(encode(old)))
        assert [saved["v"][i]["dtype"] for i in (2, 11)] == ["float64", "float64"]
        back = decode(saved)
        assert isinstance(back, PredictiveState)
        for array in (back.history, back.errors):
            assert array.dtype == np.float32 and not array.flags.writeable
        assert np.array_equal(back.history, state.history, equal_nan=True)
        assert np.array_equal(back.errors, state.errors)
        later = (sine(np.arange(n, n + 40) * STEP) + rng.normal(0.0, 3.0, 40)).tolist()
        runs = []
        for start in (state, back, old):  # never saved; saved and loaded; float64 in memory
            current: object = start
            decided = []
            for k, value in enumerate(later, start=n):
                at = START + timedelta(seconds=k * STEP)
                snap = Snapshot("p", at, (), (Observation("t", "load", value, at),))
                proposal, current = policy.propose(snap, _ctx(at, value), current, "predictive")
                decided.append((proposal.desired, proposal.reason))
            assert isinstance(current, PredictiveState)
            assert current.history.dtype == np.float32 and current.errors.dtype == np.float32
            runs.append((decided, repr(current)))
        assert runs[0] == runs[1] == runs[2]
        assert len(back.errors) == 200 and all("learnt headroom" in why for _, why in runs[0][0])
        assert any(why.startswith("forecast") for _, why in runs[0][0])

    def test_a_reading_beyond_float32_is_learnt_as_the_bound_without_a_warning(self) -> None:
        """1e39 is past float32's range and past what the pool's max (1000 units of 1.0) could
        carry: it is provisioned for at once, learnt as the bound (1000 / min_level 0.2 = 5000:
        no inf in the ring, no error beyond it), numpy's overflow warning is not raised (under
        pytest's -W error it would fail the cycle) and the pool comes back down after it."""
        loads = [20.0] * 300 + [1e39] + [20.0] * 300
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            out = _states(_learner(), loads)
        assert out[300][0] > 1000 and out[299][0] == 20 and out[-1][0] == 20
        state = out[-1][1]
        assert np.isfinite(state.history[~np.isnan(state.history)]).all()
        assert float(np.nanmax(state.history)) == 5000.0
        assert np.isfinite(state.errors).all() and float(state.errors.max()) <= 5000.0


def test_an_absurd_reading_is_learnt_as_the_bound_and_forgotten_within_hours() -> None:
    """One reading of 1e30 (a broken exporter, a unit mix-up) asks for more than the max at
    once, then teaches exactly what a reading at the bound (the max's load over min_level)
    would, and the recommended settings' desires are those of the same pool without it again
    within twelve hours. Before the bound the level stayed at max_level (5x the fleet) for about
    two and a half days."""
    policy = PredictivePolicy(utilisation=0.9, horizon=180.0, volatility=0.5, error_quantile=0.99,
                              error_window=2880, error_min=100, error_band=2.0)
    bound = policy.compile(1.0).learnable(1000)
    assert bound == 1000 * 0.9 / 0.2
    t = np.arange(5 * DAY // int(STEP)) * STEP
    clean = sine(t)
    at = 3 * DAY // int(STEP) + 300
    absurd, at_bound = clean.copy(), clean.copy()
    absurd[at], at_bound[at] = 1e30, bound
    a, b, c = _feed(policy, clean), _feed(policy, absurd), _feed(policy, at_bound)
    assert a[:at] == b[:at] == c[:at]
    assert b[at] > 1000  # the reading itself asks for more than the max (the governor caps it)
    assert b[at + 1:] == c[at + 1:]
    later = at + 12 * 60
    assert b[later:] == a[later:]


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(min_value=0, max_value=1000, allow_nan=False), min_size=1, max_size=120),
       st.floats(min_value=0.5, max_value=0.995), st.integers(min_value=1, max_value=40),
       st.sampled_from([0.0, 2.0]))
def test_learnt_headroom_invariants(loads: list[float], quantile: float, window: int, band: float) -> None:
    """Whatever the load: the headroom is never negative, the desire never below what the current
    reading needs, the error window never longer than asked (the last errors, read-only), the
    learnt headroom its quantile, and the state survives the journal's codec unchanged."""
    policy = _learner(error_quantile=quantile, error_window=window, error_min=1, utilisation=0.9,
                      error_band=band)
    compiled = policy.compile(1.0)
    for k, (desired, state) in enumerate(_states(policy, loads)):
        pad, _ = compiled.headroom(state)
        assert pad >= 0.0
        assert desired >= math.ceil(loads[k] - 1e-9)
        errors = state.errors
        assert len(errors) <= window and not errors.flags.writeable and errors.dtype == np.float32
        if band:
            levels = state.error_levels
            assert len(levels) == len(errors) and not levels.flags.writeable and levels.dtype == np.int8
            assert bool(((levels >= 0) & (levels <= 127)).all())
            similar = errors[compiled.similar(state)]
            errors = similar if len(similar) else errors  # error_min 1: else all of them
        if len(errors):
            ranked = sorted(errors.tolist())
            at = min(len(ranked) - 1, int(quantile * len(ranked)))
            assert compiled.learnt(state) == max(0.0, ranked[at])
        assert len(state.pending) <= 4
        back = decode(json.loads(json.dumps(encode(state))))
        assert isinstance(back, PredictiveState)
        assert repr(back) == repr(state)

"""The compact body of a journaled cycle and the timing of spans: both give back exactly what
was written."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fleetscale.journal import compact, spans
from fleetscale.journal.record import CycleRecord
from fleetscale.model import Decision, Instance, InstanceState, Launch, Observation, Plan, Proposal
from tests.unit.test_journal_sql import record

T0 = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
texts = st.text(alphabet="@ab:-.0123456789T+", max_size=12)
times = st.one_of(st.just(T0), st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2030, 1, 1),
                                            timezones=st.just(UTC)))


def _decoded(rec: CycleRecord) -> dict[str, object]:
    return compact.decode(compact.encode(rec), pool=rec.pool, cycle_id=rec.cycle_id,
                          started_at=rec.started_at, finished_at=rec.finished_at, dry_run=rec.dry_run)


@st.composite
def records(draw: st.DrawFn) -> CycleRecord:
    cid = draw(st.sampled_from(["web:20260105T120000:ab12cd.7", "@i", "@s", "web:1"]))
    obs = draw(st.lists(st.builds(Observation, source=texts, metric=texts,
                                  value=st.one_of(st.none(), st.floats(allow_nan=False)), at=times,
                                  instance_id=st.one_of(st.none(), texts),
                                  error=st.one_of(st.none(), texts)), max_size=4))
    insts = draw(st.lists(st.builds(Instance, id=texts, type=texts, state=st.sampled_from(InstanceState),
                                    weight=st.integers(1, 3), launched_at=st.one_of(st.none(), times),
                                    address=st.one_of(st.none(), texts),
                                    tags=st.dictionaries(texts, texts, max_size=2)), max_size=4))
    props = draw(st.lists(st.builds(Proposal, policy=texts, desired=st.one_of(st.none(), st.integers(0, 9)),
                                    reason=texts, floor=st.one_of(st.none(), st.integers(0, 3))), max_size=2))
    decision = draw(st.one_of(st.none(), st.builds(Decision, pool=st.just("web"), at=times,
                                                   current=st.integers(0, 9), desired=st.integers(0, 9),
                                                   reason=texts)))
    plan = draw(st.one_of(st.none(), st.builds(
        Plan, pool=st.just("web"), request_id=st.sampled_from([cid, "other", "@x"]),
        launch=st.lists(st.builds(Launch, type=texts, count=st.integers(1, 3)), max_size=2).map(tuple),
        begin_drain=st.lists(texts, max_size=2).map(tuple), reason=texts)))
    return CycleRecord(pool="web", cycle_id=cid, started_at=T0, finished_at=T0 + timedelta(microseconds=7),
                       dry_run=draw(st.booleans()), observations=tuple(obs), instances=tuple(insts),
                       proposals=tuple(props), steps=tuple(draw(st.lists(texts, max_size=2))),
                       decision=decision, plan=plan, outcome=tuple(draw(st.lists(texts, max_size=2))),
                       errors=tuple(draw(st.lists(texts, max_size=2))))


class TestBody:
    """The body drops what the row's columns hold and every default, and gives it all back."""

    @given(records())
    @settings(max_examples=80, deadline=None)
    def test_decode_gives_back_to_dict(self, rec: CycleRecord) -> None:
        assert _decoded(rec) == json.loads(json.dumps(rec.to_dict()))

    def test_the_journal_test_record(self) -> None:
        rec = record()
        assert _decoded(rec) == rec.to_dict()

    def test_smaller_and_time_free(self) -> None:
        rec = record()
        body = compact.encode(rec)
        assert len(body) < len(json.dumps(rec.to_dict())) * 0.6
        for absent in ('"error"', '"instance_id":null', rec.started_at.isoformat(), rec.cycle_id, '"weight"',
                       '"cancel_drain"', '"direction"', '": '):
            assert absent not in body
        later = CycleRecord(**{**{f: getattr(rec, f) for f in rec.__slots__},
                               "cycle_id": "web:2", "started_at": rec.started_at + timedelta(seconds=15),
                               "observations": tuple(Observation(o.source, o.metric, o.value,
                                                                 o.at + timedelta(seconds=15), o.instance_id)
                                                     for o in rec.observations),
                               "decision": Decision("web", rec.started_at + timedelta(seconds=15), 2, 10,
                                                    rec.decision.reason),  # type: ignore[union-attr]
                               "plan": Plan("web", "web:2", launch=(Launch("small", 8),))})
        assert compact.encode(later) == body  # the same cycle 15 s later: the same body

    def test_old_rows_are_read_as_they_are(self) -> None:
        whole = record().to_dict()
        assert compact.decode(json.dumps(whole), pool="x", cycle_id="y", started_at=T0, finished_at=T0,
                              dry_run=True) == whole


@st.composite
def next_cycles(draw: st.DrawFn) -> tuple[CycleRecord, CycleRecord]:
    """A record and the pool's next cycle: mostly the same thing seen again at a later start
    (the times and ids that the body marks moved on with it), sometimes something changed."""
    before = draw(records())
    start = draw(st.sampled_from([T0 + timedelta(seconds=15), T0]) | times)
    cid = draw(st.sampled_from(["web:20260105T120015:ab12cd.8", before.cycle_id, "@s", "web:1"]))

    def moved(at: datetime) -> datetime:
        return start if at == before.started_at and draw(st.sampled_from([True, True, True, False])) else at

    obs = tuple(replace(o, at=moved(o.at)) for o in before.observations)
    decision = before.decision and replace(before.decision, at=moved(before.decision.at))
    plan = before.plan and (replace(before.plan, request_id=cid)
                            if before.plan.request_id == before.cycle_id else before.plan)
    insts = before.instances
    if insts and draw(st.booleans()):  # an instance launched at the new start
        insts = (replace(insts[0], launched_at=start), *insts[1:])
    after = replace(before, cycle_id=cid, started_at=start, finished_at=start + timedelta(microseconds=3),
                    observations=obs, decision=decision, plan=plan, instances=insts)
    if draw(st.booleans()):  # something else changed too
        after = replace(after, **draw(st.sampled_from([
            {"steps": ("hysteresis: down 1/3",)}, {"errors": ("source failed",)},
            {"decision": decision and replace(decision, desired=decision.desired + 1)},
            {"observations": tuple(replace(o, value=(o.value or 0) + 1) for o in obs)}])))
    return before, after


class TestQuietBody:
    """A quiet cycle reuses the body of the cycle before (``compact.same_body``) only when
    encoding it would give that very body."""

    @given(next_cycles())
    @settings(max_examples=300, deadline=None)
    def test_reused_only_when_equal(self, pair: tuple[CycleRecord, CycleRecord]) -> None:
        before, after = pair
        body = compact.encode(before)
        if compact.same_body(before, body, after):
            assert compact.encode(after) == body

    def test_a_quiet_cycle_reuses_the_body(self) -> None:
        before = replace(record(), outcome=())
        start = before.started_at + timedelta(seconds=15)
        after = replace(before, cycle_id=before.cycle_id + "9", started_at=start,
                        finished_at=start + timedelta(microseconds=5),
                        observations=tuple(replace(o, at=start) for o in before.observations),
                        decision=before.decision and replace(before.decision, at=start),
                        plan=before.plan and replace(before.plan, request_id=before.cycle_id + "9"))
        assert before.observations and before.observations[0].at == before.started_at
        body = compact.encode(before)
        assert compact.same_body(before, body, after)
        assert compact.encode(after) == body
        assert not compact.same_body(before, body, replace(after, steps=("changed",)))


class TestTiming:
    """Each repeat's start and length come back to the microsecond; runs cost a few bytes."""

    @given(st.lists(st.tuples(st.integers(1, 10**9), st.sampled_from([0, 0, 1, 2104, 10**6])), max_size=40))
    def test_append_then_expand(self, steps: list[tuple[int, int]]) -> None:
        text: str | None = None
        want = []
        at = T0
        for gap, length in steps:
            text = spans.append(text, timedelta(microseconds=gap), timedelta(microseconds=length))
            at += timedelta(microseconds=gap)
            want.append((at, at + timedelta(microseconds=length)))
        assert list(spans.expand(T0, text)) == want

    def test_a_regular_clock_is_one_token(self) -> None:
        text = None
        for _ in range(239):
            text = spans.append(text, timedelta(seconds=15), timedelta(0))
        assert text == "15000000*239"

    @pytest.mark.parametrize(("first", "k", "at", "want"), [
        ("gw:20260105T000000:6c440c.1", 3, datetime(2026, 1, 5, 0, 0, 45, tzinfo=UTC),
         "gw:20260105T000045:6c440c.4"),
        ("web:9", 2, T0, "web:11"),
        ("no-number", 1, T0, None),
    ], ids=["controller", "plain", "no-sequence"])
    def test_cycle_ids(self, first: str, k: int, at: datetime, want: str | None) -> None:
        assert spans.cycle_id(first, k, at) == want

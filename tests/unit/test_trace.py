"""The trace source: a validated CSV replayed against a clock."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from fleetscale.errors import TraceError
from fleetscale.sim.clock import SimClock
from fleetscale.sources.trace import Settings, TraceSource, build, parse_trace, read_trace

DATA = Path(__file__).resolve().parents[2] / "src" / "fleetscale" / "data"


class TestReadTrace:
    """read_trace validates the file and names the line of the first bad row."""

    def test_valid(self, tmp_path: Path) -> None:
        p = tmp_path / "t.csv"
        p.write_text("t_seconds,load\n0,1.5\n60,2\n120,0\n")
        trace = read_trace(p)
        assert trace.interval == 60
        assert trace.loads == (1.5, 2.0, 0.0)
        assert trace.duration == 180

    @pytest.mark.parametrize(
        ("text", "needle"),
        [
            ("time,load\n0,1\n60,2\n", "line 1: expected the header"),
            ("t_seconds,load\n0,1\n60,-2\n", "line 3: load is negative (got -2)"),
            ("t_seconds,load\n0,1\n60,2\n130,2\n", "line 4: non-uniform interval 70 s, expected 60 s"),
            ("t_seconds,load\n0,1\n60,abc\n", "line 3: load is not a number (got 'abc')"),
            ("t_seconds,load\n0,1\n60\n", "line 3: expected 2 fields"),
            ("t_seconds,load\n5,1\n65,1\n", "line 2: the first t_seconds must be 0"),
            ("t_seconds,load\n0,1\n60,1\n60,1\n", "line 4: t_seconds must increase"),
            ("t_seconds,load\n0,1\n60,nan\n", "line 3: load is not finite"),
            ("t_seconds,load\n", "no data rows"),
            ("t_seconds,load\n0,1\n", "at least 2 rows"),
        ],
        ids=["header", "negative", "non-uniform", "not-number", "fields", "start", "repeat", "nan",
             "empty", "one-row"],
    )
    def test_malformed(self, tmp_path: Path, text: str, needle: str) -> None:
        p = tmp_path / "bad.csv"
        p.write_text(text)
        with pytest.raises(TraceError) as err:
            read_trace(p)
        assert needle in str(err.value)
        assert str(p) in str(err.value)

    def test_missing_file(self, tmp_path: Path) -> None:
        with pytest.raises(TraceError, match="cannot read trace"):
            read_trace(tmp_path / "nope.csv")

    def test_bundled_trace_is_valid(self) -> None:
        trace = read_trace(DATA / "nasa_http_jul1995_days5-6_1min.csv")
        assert trace.interval == 60
        assert len(trace.loads) == 2880
        assert (DATA / "README.md").read_text().count("freely redistributed") == 1


class TestTraceSource:
    """Honest timing: a rate shows the mean of the last completed window, a level the row in
    force; nothing stamped after ``now`` is ever shown."""

    def test_rate_shows_the_last_completed_interval(self) -> None:
        clock = SimClock()
        src = TraceSource(parse_trace(["t_seconds,load", "0,1", "60,2", "120,3"]), clock.now(), scale=10)
        seen = []
        for _ in range(4):
            (obs,) = src.read("p", clock.now())
            seen.append(obs.value)
            clock.advance(60)
        assert seen == [None, 10.0, 20.0, 30.0]

    def test_rate_window_longer_and_shorter_than_a_row(self) -> None:
        clock = SimClock()
        trace = parse_trace(["t_seconds,load", "0,1", "60,2", "120,3"])
        wide = TraceSource(trace, clock.now(), window=120)
        assert wide.read("p", clock.now() + timedelta(seconds=180))[0].value == pytest.approx(2.5)
        assert wide.read("p", clock.now() + timedelta(seconds=60))[0].value == pytest.approx(1.0)  # partial
        narrow = TraceSource(trace, clock.now(), window=15)
        assert narrow.read("p", clock.now() + timedelta(seconds=75))[0].value == pytest.approx(2.0)

    def test_level_shows_the_row_in_force(self) -> None:
        clock = SimClock()
        src = TraceSource(parse_trace(["t_seconds,load", "0,1", "60,2"]), clock.now(), value="level")
        assert src.read("p", clock.now())[0].value == 1.0
        assert src.read("p", clock.now() + timedelta(seconds=60))[0].value == 2.0

    def test_offset_and_loop(self) -> None:
        clock = SimClock()
        trace = parse_trace(["t_seconds,load", "0,1", "60,2", "120,3"])
        src = TraceSource(trace, clock.now(), offset=120, loop=True)
        assert src.read("p", clock.now())[0].value == 2.0  # the row before the offset
        assert src.read("p", clock.now() + timedelta(seconds=60))[0].value == 3.0
        assert src.read("p", clock.now() + timedelta(seconds=120))[0].value == 1.0  # looped

    def test_past_the_end_is_an_error_observation(self) -> None:
        clock = SimClock()
        src = TraceSource(parse_trace(["t_seconds,load", "0,1", "60,2"]), clock.now())
        assert src.read("p", clock.now() + timedelta(seconds=120))[0].value == 2.0  # the last row ended
        (obs,) = src.read("p", clock.now() + timedelta(seconds=500))
        assert not obs.ok
        assert "no completed data at 500 s" in (obs.error or "")

    def test_build_from_settings(self, tmp_path: Path) -> None:
        p = tmp_path / "t.csv"
        p.write_text("t_seconds,load\n0,4\n60,8\n")
        clock = SimClock()

        class Ctx:
            pass

        ctx = Ctx()
        ctx.clock = clock  # type: ignore[attr-defined]
        ctx.pool = None  # type: ignore[attr-defined]
        src = build(Settings(path=str(p), scale=0.5), ctx)
        assert src.read("p", clock.now() + timedelta(seconds=60))[0].value == 2.0

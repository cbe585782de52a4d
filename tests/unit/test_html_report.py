"""The HTML report (``sim.report_data`` + ``sim.html``): self-contained, its data complete and
parseable, scores explained, episodes listed with the decisions around them, text escaped."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import fields, replace
from datetime import timedelta
from html import escape
from importlib import resources
from pathlib import Path

import numpy as np
import pytest

from fleetscale.model import Decision
from fleetscale.sim import html, report_data
from fleetscale.sim.episodes import worst_episodes
from fleetscale.sim.metrics import Scores, demanded
from fleetscale.sim.run import START, Timeline

BLOB = re.compile(r'<script type="application/json" id="report-data">(.*?)</script>', re.S)


def _timeline(load: Sequence[float], ready: Sequence[int], *, interval: float = 60.0, capacity: float = 10.0,
              reasons: dict[int, str] | None = None) -> Timeline:
    arr = np.asarray(load, dtype=np.float64)
    rd = np.asarray(ready, dtype=np.int64)
    decisions = tuple(
        Decision("web", START + timedelta(seconds=k * interval), int(rd[k - 1]) if k else int(rd[0]),
                 int(rd[k]), (reasons or {}).get(k, f"step {k}"))
        for k in range(len(load)))
    return Timeline(t=np.arange(len(load), dtype=np.float64) * interval, load=arr,
                    demanded=demanded(arr, capacity, 1), ready=rd, provisioned=rd + 1, interval=interval,
                    capacity=capacity, scale_actions=3, decisions=decisions)


def _oracle(run: Timeline, interval: float | None = None) -> Timeline:
    step = interval or run.interval
    k = max(1, round(step / run.interval))
    d = run.demanded[::k]
    return Timeline(t=np.arange(len(d), dtype=np.float64) * step, load=run.load[::k], demanded=d, ready=d,
                    provisioned=d, interval=step, capacity=run.capacity)


def _blob(text: str) -> dict[str, object]:
    found = BLOB.search(text)
    assert found is not None, "no report-data blob"
    body: dict[str, object] = json.loads(found.group(1))
    return body


LOAD = [10, 10, 35, 48, 48, 20, 10, 10, 61, 10, 10, 10]
#        demanded: 1  1  4  5  5  2  1  1  7  1  1  1
READY = [1, 1, 1, 2, 3, 5, 2, 1, 1, 7, 7, 1]  # short at 2-4 (8 unit-minutes) and at 8 (6)


class TestSelfContained:
    """One file that needs nothing from the network."""

    def test_no_external_src_or_href_and_uplot_inlined(self, tmp_path: Path) -> None:
        run = _timeline(LOAD, READY)
        path = tmp_path / "r.html"
        html.write_html(path, report_data.build(run, _oracle(run), title="t", policy="p"))
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", text, re.I)
        assert not re.search(r"<link\b", text, re.I)
        assert not re.search(r"<script[^>]*\bsrc=", text, re.I)
        assert "@import" not in text
        vendor = resources.files("fleetscale.web").joinpath("vendor")
        vendored = vendor.joinpath("uPlot.iife.min.js").read_text("utf-8")
        css = vendor.joinpath("uPlot.min.css").read_text("utf-8")
        assert vendored.strip() in text
        assert css.strip() in text

    def test_data_blob_parses_and_matches_the_timeline(self) -> None:
        run = _timeline(LOAD, READY)
        text = html.render_html(report_data.build(run, _oracle(run), title="t", policy="p"))
        body = _blob(text)
        series = body["series"]
        assert isinstance(series, dict)
        for key in ("t", "load_units", "demanded", "ready", "provisioned", "oracle_provisioned"):
            assert len(series[key]) == len(run.t), key
        assert series["demanded"] == run.demanded.tolist()
        assert series["ready"] == READY
        assert series["load_units"] == pytest.approx([v / 10 for v in LOAD])
        assert body["start_epoch"] == START.timestamp()
        assert body["capacity"] == 10.0

    def test_a_blob_cannot_close_its_script(self) -> None:
        run = _timeline(LOAD, READY)
        data = report_data.build(run, _oracle(run), title="</script><script>alert(1)</script>", policy="p",
                                 settings={"trace": "</script>"})
        text = html.render_html(data)
        assert "<script>alert(1)" not in text
        assert "&lt;/script&gt;&lt;script&gt;alert(1)" in text
        _blob(text)  # still one intact blob


class TestScores:
    """Every score the JSON report writes has a one-line explanation, next to the oracle's."""

    def test_every_report_key_is_explained(self) -> None:
        keys = {f.name for f in fields(Scores)} | {"cost_vs_oracle"}
        assert set(report_data.MEANING) == keys
        assert all(meaning and "\n" not in meaning for _, meaning in report_data.MEANING.values())

    def test_scores_rendered_with_oracle(self) -> None:
        run = _timeline(LOAD, READY)
        data = report_data.build(run, _oracle(run), title="t", policy="p")
        by = {s.key: s for s in data.scores}
        assert by["cost_vs_oracle"].value == pytest.approx(run.scores().instance_hours
                                                           / _oracle(run).scores().instance_hours)
        assert by["tau_under"].oracle == 0.0
        assert by["unserved_fraction"].value == pytest.approx(100 * run.scores().unserved_fraction)
        text = html.render_html(data)
        for key, (_, meaning) in report_data.MEANING.items():
            assert f'<td class="key">{key}</td>' in text
            assert escape(meaning) in text


class TestEpisodes:
    """The worst episodes are listed with the decisions around them and their reasons."""

    def test_listed_with_decisions_and_reasons(self) -> None:
        run = _timeline(LOAD, READY, reasons={2: "hold at 1: <load> 35 / 10", 8: "hold at 1: cooldown"})
        data = report_data.build(run, _oracle(run), title="t", policy="p")
        assert data.episode_count == 2
        first, second = data.episodes  # the worst first
        assert (first.episode.start, first.episode.end, first.episode.peak_short) == (2, 5, 3)
        assert first.episode.unit_hours == pytest.approx(8 / 60)
        assert (second.episode.start, second.episode.end, second.episode.peak_short) == (8, 9, 6)
        # the holds at 0 and 1 changed nothing before it; 2 began it, 3-4 grew the fleet, 5 ended it
        assert [(line.step, line.during) for line in first.decisions] == [
            (2, True), (3, True), (4, True), (5, False)]
        assert [line.step for line in second.decisions] == [3, 4, 5, 6, 7, 8, 9]
        line = first.decisions[1]
        assert (line.current, line.desired, line.demanded, line.ready) == (1, 2, 5, 2)
        text = html.render_html(data)
        assert "hold at 1: &lt;load&gt; 35 / 10" in text
        assert "hold at 1: cooldown" in text
        assert "#1: Mon 2026-01-05 00:02, 3 min, up to 3 units short, 0.13 unit-hours short" in text
        assert "#2: Mon 2026-01-05 00:08, 1 min, up to 6 units short" in text

    def test_none_when_never_short(self) -> None:
        run = _timeline(LOAD, [9] * len(LOAD))
        data = report_data.build(run, _oracle(run), title="t", policy="p")
        assert data.episodes == () and data.episode_count == 0
        assert "None: the units in service covered the demand" in html.render_html(data)

    def test_without_recorded_decisions(self) -> None:
        run = replace(_timeline(LOAD, READY), decisions=())
        data = report_data.build(run, _oracle(run), title="t", policy="p")
        assert not data.decisions_recorded
        assert "No decisions were recorded" in html.render_html(data)

    def test_decisions_placed_by_time_when_some_cycles_have_none(self) -> None:
        run = _timeline(LOAD, READY)
        some = replace(run, decisions=tuple(d for k, d in enumerate(run.decisions) if k != 3))
        steps = report_data.by_step(some)
        assert sorted(steps) == [k for k in range(len(LOAD)) if k != 3]
        assert steps[4] is run.decisions[4]
        worst = worst_episodes(some.demanded, some.ready, some.interval, count=1)[0]
        lines, _ = report_data.decisions_near(worst, some)
        assert [line.step for line in lines] == [2, 4, 5]

    def test_long_decision_lists_are_cut_in_the_middle(self) -> None:
        load = [10.0] * 5 + [90.0] * 50 + [10.0] * 5
        ready = list(range(1, 6)) + [max(1, k % 9) for k in range(50)] + [1] * 5
        run = _timeline(load, ready)
        episode = worst_episodes(run.demanded, run.ready, run.interval, count=1)[0]
        lines, omitted = report_data.decisions_near(episode, run, limit=6)
        assert len(lines) == 6 and omitted > 0
        assert lines[0].step < lines[-1].step
        assert lines[-1].step >= episode.end - 1  # the latest kept, as well as the earliest


class TestOracleGrid:
    """An oracle on a coarser grid is held over its steps on the run's grid."""

    def test_held_over_its_steps(self) -> None:
        run = _timeline(LOAD, READY, interval=15.0)
        coarse = _oracle(run, 60.0)
        mapped = report_data.oracle_on_grid(run.t, coarse)
        assert len(mapped) == len(run.t)
        assert mapped.tolist() == np.repeat(coarse.provisioned, 4)[:len(run.t)].tolist()

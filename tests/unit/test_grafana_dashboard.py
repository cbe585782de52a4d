"""The Grafana dashboard (docs/grafana/fleetscale.json) queries only series that
journal/metrics.py exports: each PromQL expression is parsed for its metric names, which are
checked against the sink's registry after one recorded cycle."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from fleetscale.journal.metrics import MetricsSink
from fleetscale.journal.record import CycleRecord
from fleetscale.model import Decision, Instance, InstanceState, Launch, Observation, Plan

DASHBOARD = Path(__file__).resolve().parents[2] / "docs" / "grafana" / "fleetscale.json"
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
_KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or",
             "unless", "offset", "inf", "nan"}
_IDENT = re.compile(r"(?<![A-Za-z0-9_:.])[A-Za-z_:][A-Za-z0-9_:]*")  # not the unit of 5m


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression selects: identifiers that are not functions,
    keywords, label names (inside ``{...}`` or ``by (...)``) or range selectors."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)  # strings
    text = re.sub(r"\{[^}]*\}", " ", text)  # label matchers
    text = re.sub(r"\[[^\]]*\]", " ", text)  # ranges
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)
    names = set()
    for m in _IDENT.finditer(text):
        rest = text[m.end():].lstrip()
        word = m.group(0)
        if rest.startswith("(") or word.lower() in _KEYWORDS or text[max(0, m.start() - 1)] == "$":
            continue  # a function, a keyword, a Grafana variable
        names.add(word)
    return names


def expressions(node: Any) -> Iterator[str]:
    """Every PromQL expression of the dashboard: panel targets and template variable queries."""
    if isinstance(node, dict):
        if isinstance(node.get("expr"), str):
            yield node["expr"]
        query = node.get("query")
        if isinstance(query, dict) and isinstance(query.get("query"), str):
            m = re.fullmatch(r"label_values\((.*),\s*\w+\)", query["query"])
            yield m.group(1) if m else query["query"]
        for v in node.values():
            yield from expressions(v)
    elif isinstance(node, list):
        for v in node:
            yield from expressions(v)


def one_cycle() -> CycleRecord:
    return CycleRecord(
        pool="web", cycle_id="web:1", started_at=T0, finished_at=T0 + timedelta(seconds=0.2), dry_run=False,
        observations=(Observation("sqs", "load", 12.0, T0), Observation("sqs", "backlog", 40.0, T0),
                      Observation("kam", "calls", None, T0, error="timeout")),
        instances=(Instance("i-1", "small", InstanceState.READY),),
        proposals=(), steps=(), decision=Decision("web", T0, 1, 3, "up"),
        plan=Plan("web", "web:1", launch=(Launch("small", 2),)), errors=("source kam calls: timeout",))


@pytest.fixture(scope="module")
def exported() -> set[str]:
    sink = MetricsSink()
    sink.record(one_cycle())
    return {s.name for family in sink.registry.collect() for s in family.samples}


class TestDashboard:
    """Every series the dashboard queries exists; the panels the issue asks for are there."""

    def test_every_queried_metric_is_exported(self, exported: set[str]) -> None:
        doc = json.loads(DASHBOARD.read_text())
        queried = set().union(*(metric_names(e) for e in expressions(doc)))
        assert {"fleetscale_desired_units", "fleetscale_cycle_duration_seconds_bucket",
                "fleetscale_scale_actions_total", "fleetscale_cycle_errors_total"} <= queried
        assert queried - exported == set()

    def test_panels(self) -> None:
        titles = {p["title"] for p in json.loads(DASHBOARD.read_text())["panels"]}
        wanted = {"Desired vs ready capacity (units)", "Scale actions", "Cycle errors", "Cycle duration"}
        assert wanted <= titles

    @pytest.mark.parametrize(("expr", "names"), [
        ('sum by (pool, le) (rate(a_bucket{pool=~"$pool"}[$__rate_interval]))', {"a_bucket"}),
        ("time() - b_seconds{x=\"y\"}", {"b_seconds"}),
        ("x_total / on (pool) group_left y_units", {"x_total", "y_units"}),
        ('c{metric!="load"} offset 5m', {"c"}),
    ], ids=["by-rate", "time", "on-group-left", "offset"])
    def test_the_parser(self, expr: str, names: set[str]) -> None:
        assert metric_names(expr) == names

    def test_a_missing_metric_is_caught(self, exported: set[str]) -> None:
        assert metric_names("rate(fleetscale_no_such_total[5m])") - exported == {"fleetscale_no_such_total"}


def test_cycle_duration_and_actions_recorded(exported: set[str]) -> None:
    sink = MetricsSink()
    sink.record(one_cycle())
    r = sink.registry
    assert r.get_sample_value("fleetscale_cycle_duration_seconds_count", {"pool": "web"}) == 1
    assert r.get_sample_value("fleetscale_cycle_duration_seconds_sum", {"pool": "web"}) == pytest.approx(0.2)
    assert r.get_sample_value("fleetscale_scale_actions_total", {"pool": "web", "action": "launch"}) == 2
    assert r.get_sample_value("fleetscale_scale_actions_total", {"pool": "web", "action": "terminate"}) == 0

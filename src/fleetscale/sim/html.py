"""A self-contained HTML report of one run (``write_html(path, report_data)``).

One file, nothing fetched: the vendored uPlot (``fleetscale/web/vendor``) and the page's own
script (``fleetscale/web/templates/report.js``) are inlined into ``report.html`` (a
``string.Template``), the series travel as one JSON blob in
``<script type="application/json" id="report-data">``, and the tables (scores, worst
episodes, settings) are rendered here, escaped, so they read without JavaScript.
"""

from __future__ import annotations

import json
import math
from datetime import datetime, timedelta
from html import escape
from importlib import resources
from pathlib import Path
from string import Template
from typing import Any

from fleetscale.sim.report_data import DecisionLine, EpisodeView, ReportData, Score

_WEB = "fleetscale.web"


def _asset(folder: str, name: str) -> str:
    return resources.files(_WEB).joinpath(folder, name).read_text(encoding="utf-8")


def _script(text: str, name: str) -> str:
    """Text safe inside a ``<script>`` element (it may not close it early)."""
    if "</script" in text.lower():
        raise ValueError(f"{name} contains '</script' and cannot be inlined")
    return text


def when(start: datetime, seconds: float) -> str:
    at = start + timedelta(seconds=seconds)
    return at.strftime("%a %Y-%m-%d %H:%M")


def span(seconds: float) -> str:
    minutes = round(seconds / 60)
    if seconds < 60:
        return f"{seconds:g} s"
    if minutes < 60:
        return f"{minutes} min"
    if seconds >= 2 * 86400:
        return f"{seconds / 86400:.3g} days"
    hours, rest = divmod(minutes, 60)
    return f"{hours} h {rest:02d} min" if rest else f"{hours} h"


def _number(value: float | None, unit: str) -> str:
    if value is None:
        return "\u2013"
    if not math.isfinite(value):
        return "\u221e" if value > 0 else str(value)
    small = value != 0 and abs(value) < 0.01
    if unit == "x":
        return f"{value:.2f}\u00d7"
    if unit in ("%", "/h"):
        return f"{value:.2g} {unit}" if small else f"{value:.2f} {unit}"
    if unit == "h":
        return f"{value:,.1f} h"
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"


def _score_row(score: Score) -> str:
    return (f'<tr><td class="key">{escape(score.key)}</td>'
            f'<td class="num">{escape(_number(score.value, score.unit))}</td>'
            f'<td class="num">{escape(_number(score.oracle, score.unit))}</td>'
            f"<td>{escape(score.meaning)}</td></tr>")


def _decision_row(start: datetime, line: DecisionLine) -> str:
    cls = ' class="during"' if line.during else ""
    return (f"<tr{cls}><td class=\"when\">{escape(when(start, line.t_s))}</td>"
            f'<td class="num">{line.current} &rarr; {line.desired}</td>'
            f'<td class="num">{line.demanded}</td><td class="num">{line.ready}</td>'
            f'<td class="reason">{escape(line.reason)}</td></tr>')


def _episode(data: ReportData, rank: int, view: EpisodeView) -> str:
    e = view.episode
    head = (f'<h3>#{rank}: {escape(when(data.start, e.start_s))}, {escape(span(e.duration_s))}, '
            f"up to {e.peak_short} unit{'s' if e.peak_short != 1 else ''} short, "
            f"{e.unit_hours:.2f} unit-hours short"
            f'<button class="zoom" data-start="{e.start_s:g}" data-end="{e.start_s + e.duration_s:g}">'
            f"show on the timeline</button></h3>")
    if not data.decisions_recorded:
        note = '<p class="muted">No decisions were recorded for this run.</p>'
        return f'<div class="episode">{head}{note}</div>'
    rows = "\n".join(_decision_row(data.start, line) for line in view.decisions)
    more = (f'<p class="muted">{view.omitted} more decisions in this span are left out '
            "(the earliest and the latest are shown).</p>" if view.omitted else "")
    return (f'<div class="episode">{head}<table><thead><tr><th>decided at</th>'
            '<th class="num">units now &rarr; wanted</th><th class="num">demanded</th>'
            '<th class="num">ready</th><th>reason</th></tr></thead><tbody>'
            f"{rows}</tbody></table>{more}</div>")


def _episodes(data: ReportData) -> str:
    if not data.episodes:
        return '<p>None: the units in service covered the demand in every interval.</p>'
    intro = (f"<p>{data.episode_count} episode{'s' if data.episode_count != 1 else ''} in all; the "
             f"{len(data.episodes)} largest by unit-hours short. Each lists the decisions from 15 minutes "
             "before it to its end that changed the fleet, plus the one taken as it began and the last one "
             "inside it (highlighted: taken while short). Demanded and ready are those of the interval the "
             "decision opened (ready after its plan); the reason shows what the decision itself could see "
             "then.</p>")
    return intro + "\n".join(_episode(data, k, v) for k, v in enumerate(data.episodes, 1))


#: headline cells: key, label, and the quality benchmark's target (docs/simulator.md), shown red when missed
HEADLINE: tuple[tuple[str, str, float | None], ...] = (
    ("cost_vs_oracle", "cost vs the oracle", 1.2),
    ("tau_under", "time under-provisioned", 1.0),
    ("unserved_fraction", "load unserved", 0.1),
    ("instance_hours", "instance-hours", None),
)


def _headline(data: ReportData) -> str:
    by = {s.key: s for s in data.scores}
    cells = []
    for key, label, target in HEADLINE:
        if key in by:
            s = by[key]
            missed = target is not None and s.value > target
            note = f" (target \u2264 {_number(target, s.unit)})" if target is not None else ""
            cls = ' class="bad"' if missed else ""
            value = escape(_number(s.value, s.unit))
            cells.append(f'<div{cls} title="{escape(s.meaning + note)}"><b>{value}</b>'
                         f"<span>{escape(label + note)}</span></div>")
    cells.append(f"<div><b>{data.episode_count}</b><span>under-provisioned episodes</span></div>")
    return "".join(cells)


def payload(data: ReportData) -> dict[str, Any]:
    """The JSON the page's script reads: the series and where the worst episodes are."""
    s = data.series
    return {
        "start_epoch": data.start.timestamp(),
        "interval": data.interval,
        "capacity": data.capacity,
        "series": {
            "t": list(s.t),
            "load_units": [round(v, 4) for v in s.load_units],
            "demanded": list(s.demanded),
            "ready": list(s.ready),
            "provisioned": list(s.provisioned),
            "oracle_provisioned": list(s.oracle_provisioned),
        },
        "episodes": [{"start_s": v.episode.start_s, "end_s": v.episode.start_s + v.episode.duration_s}
                     for v in data.episodes],
    }


def render_html(data: ReportData) -> str:
    blob = json.dumps(payload(data), separators=(",", ":"), allow_nan=False).replace("</", "<\\/")
    n = len(data.series.t)
    subtitle = (f"policy {data.policy}; {n:,} decision intervals of {span(data.interval)} "
                f"({span(n * data.interval)}); simulated clock from {when(data.start, 0)} UTC "
                "(t = 0 of the trace)")
    settings = "\n".join(f'<tr><td class="key">{escape(k)}</td><td>{escape(v)}</td></tr>'
                         for k, v in data.settings)
    return Template(_asset("templates", "report.html")).substitute(
        title=escape(data.title),
        subtitle=escape(subtitle),
        headline=_headline(data),
        capacity=escape(f"{data.capacity:g}"),
        scores="\n".join(_score_row(s) for s in data.scores),
        episodes=_episodes(data),
        settings=settings or '<tr><td class="muted">none given</td></tr>',
        data=blob,
        uplot_css=_asset("vendor", "uPlot.min.css"),
        uplot_js=_script(_asset("vendor", "uPlot.iife.min.js"), "uPlot.iife.min.js"),
        app_js=_script(_asset("templates", "report.js"), "report.js"),
    )


def write_html(path: str | Path, report_data: ReportData) -> None:
    """Write the report of ``report_data`` to ``path`` as one self-contained HTML file."""
    Path(path).write_text(render_html(report_data), encoding="utf-8")

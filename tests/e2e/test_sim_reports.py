"""``fleetscale simulate --html --plot`` as a process on a month-long trace: the report stays
one self-contained file of a sane size with every interval in it, and the plot has its zooms.

The trace is the shared NASA July 1995 trace (27 days of minutes, read in place from
``/work/shared/traces``); on a machine without it, the bundled two-day NASA slice repeated to
28 days stands in, so the test always runs a month."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from importlib import resources
from pathlib import Path

from matplotlib import image

SHARED = Path("/work/shared/traces/nasa_http_jul1995_1min.csv")
BLOB = re.compile(r'<script type="application/json" id="report-data">(.*?)</script>', re.S)
MAX_HTML_BYTES = 3_000_000


def _month_trace(tmp_path: Path) -> Path:
    if SHARED.exists():
        return SHARED
    bundled = resources.files("fleetscale").joinpath("data", "nasa_http_jul1995_days5-6_1min.csv")
    rows = bundled.read_text(encoding="utf-8").splitlines()[1:]
    loads = [row.split(",")[1] for row in rows]
    path = tmp_path / "nasa_month.csv"
    month = loads * (28 * 1440 // len(loads))
    path.write_text("t_seconds,load\n" + "".join(f"{60 * k},{v}\n" for k, v in enumerate(month)))
    return path


def test_month_long_html_and_plot(tmp_path: Path) -> None:
    trace = _month_trace(tmp_path)
    rows = sum(1 for _ in trace.open(encoding="utf-8")) - 1
    assert rows >= 27 * 1440
    out_html, out_png, out_json = tmp_path / "month.html", tmp_path / "month.png", tmp_path / "month.json"
    cmd = [sys.executable, "-m", "fleetscale", "simulate", "--trace", str(trace), "--capacity", "0.1",
           "--max", "200", "--policy", "aws-target-tracking", "--html", str(out_html), "--plot", str(out_png),
           "--report", str(out_json)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr

    text = out_html.read_text(encoding="utf-8")
    assert len(text.encode("utf-8")) < MAX_HTML_BYTES
    assert not re.search(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", text, re.I)
    found = BLOB.search(text)
    assert found is not None
    series = json.loads(found.group(1))["series"]
    assert {len(v) for v in series.values()} == {rows}
    report = json.loads(out_json.read_text(encoding="utf-8"))
    assert report["tau_under"] > 0  # this policy is short at times: the episodes section has content
    assert text.count('<div class="episode">') == 5
    assert "show on the timeline" in text

    assert out_png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert image.imread(str(out_png)).shape[0] == 1000  # overview + worst day + worst episode
    assert out_png.stat().st_size < 1_000_000

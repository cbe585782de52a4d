"""``fleetscale simulate``: outputs, named policies, a configured pool, and bad traces."""

from __future__ import annotations

import argparse
import csv
import json
import re
from pathlib import Path

import pytest

from fleetscale.errors import ConfigError
from fleetscale.sim import cli as sim_cli
from fleetscale.sim.baselines import NAMES

KEYS = ("theta_under", "theta_over", "tau_under", "tau_over", "jitter", "instability", "unserved_fraction",
        "instance_hours", "demand_instance_hours", "cost_ratio", "cost_vs_oracle", "scale_actions")


def _parse(*argv: str) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="fleetscale")
    sub = ap.add_subparsers(dest="command", required=True)
    sim_cli.add_parser(sub)
    return ap.parse_args(["simulate", *argv])


def _trace(tmp_path: Path, rows: list[str] | None = None) -> Path:
    path = tmp_path / "trace.csv"
    if rows is None:
        loads = [10, 12, 30, 35, 34, 60, 62, 20, 18, 5, 5, 70, 72, 71, 40] * 4
        rows = [f"{300 * k},{v}" for k, v in enumerate(loads)]
    path.write_text("t_seconds,load\n" + "\n".join(rows) + "\n")
    return path


class TestOutputs:
    """Timeline, report and plot are written with the promised shape."""

    def test_default_pool_writes_all_three(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        trace = _trace(tmp_path)
        args = _parse("--trace", str(trace), "--capacity", "10", "--boot-delay", "120", "--interval", "60",
                      "--min", "1", "--max", "20", "--timeline", str(tmp_path / "t.csv"),
                      "--report", str(tmp_path / "r.json"), "--plot", str(tmp_path / "p.png"))
        assert args.handler(args) == 0
        with open(tmp_path / "t.csv") as f:
            rows = list(csv.reader(f))
        assert rows[0] == ["t_seconds", "load", "demanded", "ready", "provisioned"]
        assert len(rows) - 1 == 60 * 5  # one row per 60 s decision over 60 x 300 s
        assert rows[1][:3] == ["0", "10", "1"]
        assert all(int(r[4]) >= int(r[3]) for r in rows[1:])
        report = json.loads((tmp_path / "r.json").read_text())
        for key in KEYS:
            assert isinstance(report[key], int | float), key
        assert report["cost_vs_oracle"] >= 1.0
        assert report["oracle"]["tau_under"] == 0.0
        assert (tmp_path / "p.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert "scale actions" in capsys.readouterr().out

    def test_html_report(self, tmp_path: Path) -> None:
        trace = _trace(tmp_path)
        out = tmp_path / "r.html"
        args = _parse("--trace", str(trace), "--capacity", "10", "--max", "20", "--policy", "dynoscaler",
                      "--html", str(out))
        assert args.handler(args) == 0
        text = out.read_text(encoding="utf-8")
        blob = re.search(r'<script type="application/json" id="report-data">(.*?)</script>', text, re.S)
        assert blob is not None
        series = json.loads(blob.group(1))["series"]
        assert len(series["t"]) == len(series["ready"]) == len(series["oracle_provisioned"]) == 60 * 5
        assert "dynoscaler" in text and "Worst under-provisioned episodes" in text
        assert "decided at" in text  # decisions were recorded for the episodes

    @pytest.mark.parametrize("name", NAMES)
    def test_every_named_policy_runs(self, tmp_path: Path, name: str) -> None:
        trace = _trace(tmp_path)
        args = _parse("--trace", str(trace), "--capacity", "10", "--max", "20", "--policy", name,
                      "--report", str(tmp_path / "r.json"))
        assert args.handler(args) == 0
        report = json.loads((tmp_path / "r.json").read_text())
        assert report["policy"] == name
        if name in ("oracle", "static-peak"):
            assert report["tau_under"] == 0.0
        if name == "hpa":
            assert report["settings"]["interval"] == 15.0

    def test_configured_pool(self, tmp_path: Path) -> None:
        trace = _trace(tmp_path)
        cfg = tmp_path / "pools.yaml"
        cfg.write_text(
            "pools:\n"
            "  - name: web\n    interval: 60\n    min: 2\n    max: 30\n    unit_capacity: 10\n"
            "    policies: [{kind: target, utilisation: 0.5}]\n"
            "    provider: {kind: simulated, boot_delay: 60, drain_time: 0}\n")
        args = _parse("--trace", str(trace), "--config", str(cfg), "--pool", "web",
                      "--timeline", str(tmp_path / "t.csv"))
        assert args.handler(args) == 0
        with open(tmp_path / "t.csv") as f:
            rows = list(csv.reader(f))[1:]
        # utilisation 0.5: 72 load needs 15 instances, demand only 8
        assert max(int(r[3]) for r in rows) == 15
        assert min(int(r[2]) for r in rows) == 2  # demanded honours min


class TestBadInput:
    """A malformed trace is refused with its line number; bad options are named."""

    @pytest.mark.parametrize(("rows", "where"), [
        (["0,1", "60,2", "120,abc"], "line 4"),
        (["0,1", "60,-2"], "line 3"),
        (["0,1", "60,2", "100,3"], "line 4"),
        (["0,1,2"], "line 2"),
    ], ids=["not-a-number", "negative", "uneven", "three-fields"])
    def test_bad_trace_names_the_line(self, tmp_path: Path, rows: list[str], where: str) -> None:
        args = _parse("--trace", str(_trace(tmp_path, rows)))
        with pytest.raises(ConfigError, match=rf"--trace: .* {where}"):
            args.handler(args)

    def test_bad_header(self, tmp_path: Path) -> None:
        path = tmp_path / "t.csv"
        path.write_text("time,value\n0,1\n60,2\n")
        with pytest.raises(ConfigError, match=r"--trace: .* line 1"):
            sim_cli.cmd_simulate(_parse("--trace", str(path)))

    def test_config_without_pool(self, tmp_path: Path) -> None:
        with pytest.raises(ConfigError, match="--pool"):
            sim_cli.cmd_simulate(_parse("--trace", str(_trace(tmp_path)), "--config", "x.yaml"))

    def test_min_above_max(self, tmp_path: Path) -> None:
        with pytest.raises(ConfigError, match="--min"):
            sim_cli.cmd_simulate(_parse("--trace", str(_trace(tmp_path)), "--min", "5", "--max", "2"))

    def test_unknown_policy(self) -> None:
        with pytest.raises(SystemExit):
            _parse("--trace", "x.csv", "--policy", "magic")


def test_session_model_options(tmp_path: Path) -> None:
    """``--session-mean``: drained instances wait for their sessions, so the run pays more."""
    trace = _trace(tmp_path)
    common = ("--trace", str(trace), "--capacity", "10", "--boot-delay", "120", "--interval", "60",
              "--min", "1", "--max", "20")
    plain = _parse(*common, "--report", str(tmp_path / "plain.json"))
    held = _parse(*common, "--session-mean", "900", "--session-distribution", "fixed",
                  "--report", str(tmp_path / "held.json"), "--html", str(tmp_path / "held.html"))
    assert plain.handler(plain) == 0 and held.handler(held) == 0
    a = json.loads((tmp_path / "plain.json").read_text())
    b = json.loads((tmp_path / "held.json").read_text())
    assert a["settings"]["sessions"] is None
    assert b["settings"]["sessions"] == {"mean_holding": 900.0, "distribution": "fixed", "cv": 1.0,
                                         "per_load": 1.0, "dispatch": "round-robin", "drain_timeout": None}
    assert b["instance_hours"] > a["instance_hours"]
    assert "mean_holding 900.0, distribution fixed" in (tmp_path / "held.html").read_text()
    with pytest.raises(ConfigError, match="--session-cv"):
        bad = _parse(*common, "--session-mean", "60", "--session-cv", "1000")
        bad.handler(bad)
    with pytest.raises(ConfigError, match="at most 1,000,000 sessions"):
        big = _parse(*common, "--session-mean", "60", "--sessions-per-load", "20000")
        big.handler(big)

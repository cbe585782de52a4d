"""The demo runs the real controller against the simulated world and ends by itself."""

from __future__ import annotations

import io
import time

from fleetscale.cli import parser
from fleetscale.demo import run_demo


def test_demo_short_run() -> None:
    args = parser().parse_args(["demo", "--duration", "30m", "--speed", "6000", "--start", "8h"])
    out = io.StringIO()
    began = time.monotonic()
    assert run_demo(args, out) == 0
    assert time.monotonic() - began < 20
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("fleetscale demo: NASA web trace from 1995-07-06 08:00 EDT, 30 min at 6000x")
    cycles = [line for line in lines if line[:2].isdigit() and "load" in line]
    assert 25 <= len(cycles) <= 31  # one line per 60 s cycle
    assert cycles[0].startswith("08:00  load")
    assert any(w in " ".join(cycles) for w in ("UP", "DOWN", "HOLD"))
    summary = lines[-1]
    assert summary.startswith(f"summary: {len(cycles)} cycles over 30 min simulated; instance-hours ")
    assert "under-provisioned" in summary and "errors 0" in summary


def test_demo_refuses_bad_arguments(capsys) -> None:  # type: ignore[no-untyped-def]
    from fleetscale.cli import main

    assert main(["demo", "--speed", "0", "--duration", "47h"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err[0] == "--speed: must be a finite number from 0.001 to 1e+06 (got 0)"
    assert err[1].startswith("--duration: the bundled trace covers 48 h")

"""``fleetscale run`` stops cleanly on SIGTERM/SIGINT/SIGHUP after the cycle in flight (subprocess)."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]

CONFIG = """\
pools:
  - name: slow
    interval: 0.2
    max: 5
    sources: [{kind: fixed, value: 2, delay: 1.0}]
    provider: {kind: simulated, boot_delay: 0}
  - name: quick
    interval: 0.2
    max: 5
    sources: [{kind: fixed, value: 1}]
    provider: {kind: simulated, boot_delay: 0}
journal:
  sql: sqlite:///JOURNAL
"""


def _events(proc: subprocess.Popen[str], out: queue.Queue[dict[str, object]]) -> None:
    assert proc.stderr is not None
    for line in proc.stderr:
        try:
            out.put(json.loads(line))
        except ValueError:
            out.put({"event": "text", "line": line})


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP],
                         ids=["SIGTERM", "SIGINT", "SIGHUP"])
def test_stops_after_cycle_in_flight(tmp_path: Path, signum: int) -> None:
    cfg = tmp_path / "fleet.yaml"
    cfg.write_text(CONFIG.replace("JOURNAL", str(tmp_path / "j.db")))
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    cmd = [sys.executable, "-m", "fleetscale", "run", "--log-level", "debug", str(cfg)]
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=env,
                            cwd=tmp_path)
    events: queue.Queue[dict[str, object]] = queue.Queue()
    threading.Thread(target=_events, args=(proc, events), daemon=True).start()
    seen: list[dict[str, object]] = []
    in_flight = None
    try:
        deadline = time.monotonic() + 20
        quick_decided = False  # the slow pool's cycle does not hold the quick one up
        while not (in_flight is not None and quick_decided) and time.monotonic() < deadline:
            try:
                ev = events.get(timeout=0.5)
            except queue.Empty:
                continue
            seen.append(ev)
            if ev.get("event") == "decision" and ev.get("pool") == "quick":
                quick_decided = True
            elif ev.get("event") == "cycle start" and ev.get("pool") == "slow":
                in_flight = ev["cycle_id"]
        assert in_flight is not None, f"no slow cycle started: {seen[-5:]}"
        assert quick_decided, f"the quick pool never decided: {seen[-5:]}"
        proc.send_signal(signum)
        assert proc.wait(timeout=15) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=5)
    end = time.monotonic() + 5
    while time.monotonic() < end:
        try:
            seen.append(events.get(timeout=0.2))
        except queue.Empty:
            if proc.poll() is not None and events.empty():
                break
    started = {e["cycle_id"] for e in seen if e.get("event") == "cycle start"}
    decided = {e["cycle_id"] for e in seen if e.get("event") == "decision"}
    assert in_flight in decided, "the cycle in flight did not finish"
    assert started == decided, "a cycle started but never journaled"
    assert any(e.get("event") == "controller stopped" for e in seen)
    assert {e["pool"] for e in seen if e.get("event") == "decision"} == {"slow", "quick"}

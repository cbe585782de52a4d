"""Provider ``local`` under SIGKILL: a process running ``launch(20)`` is killed part-way, a new
provider on the same state directory starts, and nothing is left untracked or started twice.

Before the write-ahead records, a kill left every process of the launch out of the state file
(the file was written once, at the end): 8 processes alive at the kill, 0 recorded, and the
restart launched 20 more for the same request (28 running for a desired 20).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from fleetscale.providers.local import LocalProvider, Settings
from fleetscale.providers.local_state import MARK_ID, MARK_STATE, marked_processes
from fleetscale.sim.clock import WallClock

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
COUNT = 20
REQUEST = "plan-1/default"

#: the child: launch COUNT instances, SIGKILLing itself at a crash point when one is named
#: (``spawn:N`` right after the N-th process started, before its pid is recorded; ``save:K``
#: right after the K-th state-file write) -- or run to the end for an external kill
CHILD = r"""
import os, signal, subprocess, sys
from pathlib import Path
from fleetscale.providers import local_state
from fleetscale.providers.local import LocalProvider, Settings
from fleetscale.sim.clock import WallClock

state_dir, point, count, request = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
kind, _, n = point.partition(":")
seen = {"spawn": 0, "save": 0}

def tick(what):
    seen[what] += 1
    if kind == what and seen[what] == int(n):
        os.kill(os.getpid(), signal.SIGKILL)

real_popen, real_save = subprocess.Popen, local_state.StateFile.save

class Popen(real_popen):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        tick("spawn")

def save(self, pool, records):
    real_save(self, pool, records)
    tick("save")

subprocess.Popen = Popen
local_state.StateFile.save = save
settings = Settings(command=["sleep", "{lifetime}"], lifetime=120, stop_grace=1, state_dir=Path(state_dir))
LocalProvider(settings, "web", WallClock()).launch("default", count, request)
if kind == "external":
    print("done", flush=True)
"""


def settings(state_dir: Path) -> Settings:
    return Settings(command=["sleep", "{lifetime}"], lifetime=120, stop_grace=1, state_dir=state_dir)


def leaders(state_dir: Path) -> dict[str, int]:
    """Running processes the provider started for ``web`` (their group leader), by instance id."""
    return {m.instance_id: m.pid for m in marked_processes(str(state_dir.resolve() / "web.json"))
            if m.leader}


def settled_leaders(state_dir: Path) -> dict[str, int]:
    """``leaders`` once no process is still between its fork and its exec: a process forked just
    before the kill carries its marks only from its exec on, so one read may miss it."""
    seen = leaders(state_dir)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        time.sleep(0.2)
        now = leaders(state_dir)
        if now == seen:
            return now
        seen = now
    return seen


def run_child(state_dir: Path, point: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    return subprocess.run([sys.executable, "-c", CHILD, str(state_dir), point, str(COUNT), REQUEST],
                          env=env, capture_output=True, text=True, timeout=60)


def cleanup(state_dir: Path) -> None:
    p = LocalProvider(settings(state_dir), "web", WallClock())
    p.terminate([i.id for i in p.list()], "teardown")
    for pid in leaders(state_dir).values():  # whatever the test failed to account for
        os.killpg(pid, signal.SIGKILL)


class TestKilledDuringLaunch:
    """A SIGKILL at any point of a launch: the restart adopts every process it finds and launches
    only what is missing for the same request."""

    @pytest.mark.parametrize("point", ["spawn:1", "spawn:8", "save:15", "save:16", "spawn:20", "save:40"],
                             ids=["after-first-spawn", "after-8th-spawn", "after-8th-intent",
                                  "after-8th-pid", "after-last-spawn", "after-last-pid"])
    def test_restart_adopts_and_completes_without_duplicates(self, tmp_path: Path, point: str) -> None:
        state_dir = tmp_path / "local"
        try:
            done = run_child(state_dir, point)
            assert done.returncode == -signal.SIGKILL, done.stderr
            live_at_kill = leaders(state_dir)
            assert live_at_kill, "the crash point is after at least one spawn"

            provider = LocalProvider(settings(state_dir), "web", WallClock())
            listed = {i.id for i in provider.list()}
            assert listed == set(live_at_kill), "every process the crash left is adopted, none killed"

            made = provider.launch("default", COUNT, REQUEST)
            assert len(made) == COUNT and len({i.id for i in made}) == COUNT
            running = leaders(state_dir)
            assert set(running) == {i.id for i in made} == {i.id for i in provider.list()}
            assert set(live_at_kill) <= set(running)
            by_request = Counter(r.request_id for r in provider.state.load())
            assert by_request == {REQUEST: COUNT}
        finally:
            cleanup(state_dir)
        assert leaders(state_dir) == {}

    def test_external_sigkill_mid_launch(self, tmp_path: Path) -> None:
        """Killed from outside once processes appear: whatever the moment, no orphan, no duplicate."""
        state_dir = tmp_path / "local"
        env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
        child = subprocess.Popen([sys.executable, "-c", CHILD, str(state_dir), "external:0", str(COUNT),
                                  REQUEST], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and child.poll() is None and len(leaders(state_dir)) < 8:
                time.sleep(0.001)
            child.send_signal(signal.SIGKILL)
            child.wait(timeout=10)
            live_at_kill = settled_leaders(state_dir)
            provider = LocalProvider(settings(state_dir), "web", WallClock())
            assert {i.id for i in provider.list()} == set(live_at_kill)
            made = provider.launch("default", COUNT, REQUEST)
            assert len(made) == COUNT
            assert set(leaders(state_dir)) == {i.id for i in made}
        finally:
            if child.poll() is None:
                child.kill()
                child.wait(timeout=10)
            cleanup(state_dir)


class TestUntrackedProcess:
    """A process carrying this state file's marks that no record names is killed on first use."""

    def test_unrecorded_marked_process_is_killed(self, tmp_path: Path) -> None:
        state_dir = (tmp_path / "local").resolve()
        state_dir.mkdir()
        env = {**os.environ, MARK_STATE: str(state_dir / "web.json"), MARK_ID: "gw-stray"}
        stray = subprocess.Popen(["sleep", "60"], env=env, start_new_session=True)
        other = subprocess.Popen(["sleep", "60"], env={**env, MARK_STATE: str(tmp_path / "x.json")},
                                 start_new_session=True)
        try:
            assert "gw-stray" in leaders(state_dir)
            assert LocalProvider(settings(state_dir), "web", WallClock()).list() == []
            assert stray.wait(timeout=10) == -signal.SIGKILL
            assert other.poll() is None, "a process of another state file is left alone"
        finally:
            for proc in (stray, other):
                if proc.poll() is None:
                    proc.kill()
                proc.wait(timeout=10)

"""Crash safety: a controller (ec2 provider, moto in its own process) is SIGKILLed at each step
of launch, drain and terminate, then restarted. After the restart: the instance count is
within bounds, nothing is launched twice, no instance leaks or is forgotten, no drain is lost,
and no instance is terminated before it was drained.

The controller kills itself at the step named by ``FLEETSCALE_CRASH_AT`` (see
``journal/write_ahead.py``); ``unknown_instances: terminate`` makes any instance the restarted
controller failed to recognise visible as a termination.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import yaml

from fleetscale.journal.intents import IntentLog
from fleetscale.journal.state_store import SqlStateStore
from fleetscale.state import FleetState
from tests.contract import aws
from tests.contract.crash_controller import open_drains, read_state, write_state

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(60)]

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class World:
    ec2_url: str
    tmp: Path
    image: str

    @property
    def journal(self) -> str:
        return f"sqlite:///{self.tmp / 'journal.db'}"

    @property
    def drain_file(self) -> Path:
        return self.tmp / "drains.json"

    def config(self, units: int, unknown: str = "terminate") -> Path:
        doc = {
            "pools": [{
                "name": "web", "interval": 1, "min": 0, "max": 4,
                "instance_types": [{"name": "t3.small", "weight": 1, "price": 0.02}],
                "policies": [{"kind": "fixed", "units": units}],
                "governor": {"down": {"stabilisation": 0}},
                "unknown_instances": unknown,
                "provider": {"kind": "ec2", "image_id": self.image, "endpoint_url": self.ec2_url,
                             "access_key_id": "testing", "secret_access_key": "testing",
                             "max_attempts": 1, "throttle_retries": 0},
                "drainer": {"kind": "crashfile", "path": str(self.drain_file)},
            }],
            "journal": {"sql": self.journal, "log": False},
        }
        path = self.tmp / f"fleet-{units}.yaml"
        path.write_text(yaml.safe_dump(doc))
        return path

    def run(self, units: int, cycles: int, crash_at: str | None = None,
            unknown: str = "terminate") -> list[dict[str, Any]]:
        env = {**os.environ, "PYTHONPATH": f"{ROOT / 'src'}:{ROOT}"}
        env.pop("FLEETSCALE_CRASH_AT", None)
        if crash_at:
            env["FLEETSCALE_CRASH_AT"] = crash_at
        proc = subprocess.run([sys.executable, "-m", "tests.contract.crash_controller",
                               str(self.config(units, unknown)), str(cycles)],
                              cwd=ROOT, env=env, capture_output=True, timeout=45, check=False)
        if crash_at:
            assert proc.returncode == -signal.SIGKILL, (crash_at, proc.returncode, proc.stderr[-2000:])
        else:
            assert proc.returncode == 0, proc.stderr[-2000:]
        return [json.loads(line) for line in proc.stdout.decode().splitlines() if line.startswith("{")]

    def instances(self) -> dict[str, str]:
        """Every instance of the pool that moto knows, id -> EC2 state (terminated ones too)."""
        out = aws.client(self.ec2_url).describe_instances(
            Filters=[{"Name": "tag:fleetscale:pool", "Values": ["web"]}])
        return {i["InstanceId"]: i["State"]["Name"] for r in out["Reservations"] for i in r["Instances"]}

    def live(self) -> set[str]:
        return {i for i, s in self.instances().items() if s in ("pending", "running")}

    def terminated(self) -> set[str]:
        return {i for i, s in self.instances().items() if s in ("shutting-down", "terminated")}

    def set_sessions(self, sessions: dict[str, int]) -> None:
        state = read_state(self.drain_file)
        state["sessions"] = sessions
        write_state(self.drain_file, state)

    def state(self) -> FleetState:
        """The pool's saved state, as the next controller would load it."""
        engine = sa.create_engine(self.journal)
        try:
            state = SqlStateStore(engine).load("web")
        finally:
            engine.dispose()
        return state or FleetState("web")

    def check_consistent(self) -> None:
        """Journal and cloud agree; nothing pending; only drained instances were terminated."""
        intents = IntentLog(self.journal)
        try:
            assert intents.pending("web") == [], "every intent closed once its effect was saved"
        finally:
            intents.close()
        state = self.state()
        assert set(state.known) >= self.live(), "a live instance the journal forgot"
        assert set(state.drains) <= self.live()
        state = read_state(self.drain_file)
        begun = set(state["begun"])
        assert self.terminated() <= begun, "an instance was terminated without a drain"
        # every drain the drainer began is cancelled, terminated, or still tracked as a drain
        still_open = open_drains(state)
        forgotten = still_open - self.terminated() - set(self.state().drains)
        assert not forgotten, f"drains forgotten (instances left locked): {forgotten}"


@pytest.fixture
def world(ec2_url: str, tmp_path: Path) -> World:
    return World(ec2_url, tmp_path, aws.ami(ec2_url))


LAUNCH_STEPS = ["after-launch-intent", "after-launch-request", "after-launch-done"]
DRAIN_STEPS = ["after-drain-intent", "after-drain-begin"]
TERMINATE_STEPS = ["after-terminate-intent", "after-terminate-request", "after-terminate-done"]


@pytest.mark.parametrize("step", LAUNCH_STEPS)
def test_killed_during_launch(world: World, step: str) -> None:
    world.run(units=2, cycles=1, crash_at=step)
    world.run(units=2, cycles=2)
    assert len(world.live()) == 2, world.instances()
    assert world.terminated() == set(), "a duplicate or an unrecognised instance was cleaned up"
    world.check_consistent()


@pytest.mark.parametrize("step", DRAIN_STEPS)
def test_killed_during_drain(world: World, step: str) -> None:
    world.run(units=2, cycles=1)
    first = world.live()
    assert len(first) == 2
    world.set_sessions({i: 3 for i in first})  # live calls everywhere: drains take time
    world.run(units=1, cycles=1, crash_at=step)
    records = world.run(units=1, cycles=2)
    state = read_state(world.drain_file)
    (victim,) = set(state["begun"])  # one instance drained, possibly begun twice (re-begin)
    assert world.live() == first and world.terminated() == set()
    assert any("recovered drain" in line or "drain begun" in line
               for r in records for line in r["outcome"]) or step == "after-drain-begin"
    world.check_consistent()
    assert set(world.state().drains) == {victim}, "the drain was forgotten"
    world.set_sessions({victim: 0})  # the last call hangs up
    world.run(units=1, cycles=2)
    assert world.live() == first - {victim} and world.terminated() == {victim}
    world.check_consistent()


@pytest.mark.parametrize("step", DRAIN_STEPS)
def test_killed_during_drain_then_scaled_up(world: World, step: str) -> None:
    world.run(units=2, cycles=1)
    first = world.live()
    world.set_sessions({i: 3 for i in first})
    world.run(units=1, cycles=1, crash_at=step)
    world.run(units=2, cycles=2)  # load came back: the drained instance must be put back
    state = read_state(world.drain_file)
    assert world.live() == first and world.terminated() == set()
    assert open_drains(state) == set(), state
    world.check_consistent()


def test_killed_while_cancelling_a_drain(world: World) -> None:
    world.run(units=2, cycles=1)
    first = world.live()
    world.set_sessions({i: 3 for i in first})
    world.run(units=1, cycles=1)  # a drain begins (and waits for 3 sessions)
    world.run(units=2, cycles=1, crash_at="after-cancel-intent")  # load is back: cancel it
    world.run(units=2, cycles=2)
    state = read_state(world.drain_file)
    assert world.live() == first and world.terminated() == set()
    assert open_drains(state) == set() and state["cancelled"], state
    world.check_consistent()


@pytest.mark.parametrize("policy", ["adopt", "terminate"])
def test_tagged_strangers_follow_the_unknown_instances_policy(world: World, policy: str) -> None:
    stranger = aws.provider(world.ec2_url).launch("t3.small", 1, "launched-by-hand")[0].id
    world.run(units=2, cycles=3, unknown=policy)
    known = set(world.state().known)
    if policy == "adopt":  # it counts toward the 2 units: one more is launched
        assert stranger in world.live() and stranger in known and len(world.live()) == 2
    else:  # never counted as ours: drained (0 sessions), then terminated; 2 of our own remain
        assert world.terminated() == {stranger} and stranger in read_state(world.drain_file)["begun"]
        assert len(world.live()) == 2 and stranger not in known
    world.check_consistent()


@pytest.mark.parametrize("step", TERMINATE_STEPS)
def test_killed_during_terminate(world: World, step: str) -> None:
    world.run(units=2, cycles=1)
    first = world.live()
    world.run(units=1, cycles=3, crash_at=step)  # drain, then terminate the drained victim
    world.run(units=1, cycles=2)
    (victim,) = set(read_state(world.drain_file)["begun"])
    assert world.terminated() == {victim}
    assert world.live() == first - {victim}
    world.check_consistent()
    state = world.state()
    assert dict(state.drains) == {} and victim not in state.known

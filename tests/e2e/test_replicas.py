"""Three controller replicas on one configuration, sharing the pools by lease (issue 13).

Real processes (``tests/e2e/replica_process.py``, built as ``fleetscale run`` builds them), real
lease backends (MariaDB's lease table; etcd), the journal and state on MariaDB, and a provider
whose state every replica shares (the ``local`` provider's state directory; each instance is a
``sleep`` process), so launches, drains and terminations can be counted from outside. Every
provider and drainer call is audited with the replica and its lease token.

- spread: the pools are spread over the live replicas, never two acting on one pool at once;
  a replica stopped (SIGTERM): the others take its released pools at once; started again:
  the pools it wins move back with at most ``max_moves`` pools in flight at any instant;
- SIGKILL the owner of a pool that is mid-drain: another replica takes the pool over, keeps
  the drain, and terminates the instance once it is drained; nothing launched twice, leaked
  or terminated undrained;
- SIGSTOP an owner past its TTL: another replica takes over and acts; SIGCONT: the woken
  replica makes no provider or drainer call under its old token, and records the loss.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import yaml

from fleetscale.coordination.lease import LeaseBackend
from fleetscale.coordination.ownership import assign
from fleetscale.providers.local_state import marked_processes, stat_fields

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(90)]

ROOT = Path(__file__).resolve().parents[2]
TTL = 2.0
MAX_MOVES = 2


def wait_for(what: str, check: Callable[[], Any], timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = check()
        if got:
            return got
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout:g} s waiting for: {what}")


class Replica:
    """A replica process; what it said: its name, then (time, {pool: token} it may act on)."""

    def __init__(self, config: Path, audit: Path, log: Path) -> None:
        self._log = log.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.e2e.replica_process", str(config), str(audit)], cwd=ROOT,
            stdout=subprocess.PIPE, stderr=self._log, text=True,
            env={**os.environ, "PYTHONPATH": f"{ROOT / 'src'}:{ROOT}"})
        assert self.proc.stdout is not None
        self.name: str = json.loads(self.proc.stdout.readline())["replica"]
        self.samples: list[tuple[float, dict[str, int]]] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            got = json.loads(line)
            self.samples.append((got["t"], got["acting"]))

    def acting(self) -> dict[str, int]:
        return self.samples[-1][1] if self.samples else {}

    def end(self, sig: int = signal.SIGTERM) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        self.proc.wait(timeout=30)
        self.reader.join(timeout=5)
        self._log.close()


@dataclass
class Cluster:
    tmp: Path
    journal: str
    coordination: dict[str, Any]
    backend: LeaseBackend
    replicas: list[Replica] = field(default_factory=list)

    @property
    def audit(self) -> Path:
        return self.tmp / "audit.jsonl"

    @property
    def state_dir(self) -> Path:
        return (self.tmp / "instances").resolve()

    def configure(self, units: dict[str, int]) -> Path:
        pools = [{
            "name": name, "interval": 1, "min": 0, "max": 4,
            "instance_types": [{"name": "small", "weight": 1, "price": 0.01}],
            "policies": [{"kind": "fixed", "units": n}],
            "governor": {"down": {"stabilisation": 0}},
            "provider": {"kind": "local", "command": ["sleep", "3600"], "state_dir": str(self.state_dir),
                         "stop_grace": 2},
            "drainer": {"kind": "sharedfile", "path": str(self.tmp / f"drains-{name}.json")},
        } for name, n in units.items()]
        doc = {"pools": pools, "journal": {"sql": self.journal, "log": False},
               "coordination": self.coordination}
        path = self.tmp / "fleet.yaml"
        path.write_text(yaml.safe_dump(doc))
        return path

    def start(self) -> Replica:
        r = Replica(self.tmp / "fleet.yaml", self.audit, self.tmp / "replicas.log")
        self.replicas.append(r)
        return r

    def holders(self) -> dict[str, str]:
        return {p: h.replica for p, h in self.backend.holders().items()}

    def calls(self) -> list[dict[str, Any]]:
        if not self.audit.exists():
            return []
        return [json.loads(line) for line in self.audit.read_text().splitlines() if line]

    def sessions(self, pool: str, counts: dict[str, int]) -> None:
        (self.tmp / f"drains-{pool}.json.sessions").write_text(json.dumps(counts))

    def live(self, pool: str) -> set[str]:
        """Instances of ``pool`` whose process runs (the provider's records, checked in /proc)."""
        path = self.state_dir / f"{pool}.json"
        if not path.exists():
            return set()
        out = set()
        for rec in json.loads(path.read_text())["instances"]:
            fields = stat_fields(rec["pid"]) if rec.get("pid") else None
            if fields is not None and fields[0] not in ("Z", "X"):
                out.add(rec["id"])
        return out

    def marked(self, pool: str) -> set[str]:
        """Every running process made for ``pool`` (recorded or not: a leak shows here)."""
        return {m.instance_id for m in marked_processes(str(self.state_dir / f"{pool}.json"))}

    def hold(self, pool: str, units: int) -> None:
        proc = subprocess.run([sys.executable, "-m", "fleetscale", "hold", pool, str(units), "--until", "+1h",
                               "--journal", self.journal], cwd=ROOT, capture_output=True, text=True,
                              timeout=30, env={**os.environ, "PYTHONPATH": str(ROOT / "src")})
        assert proc.returncode == 0, proc.stderr

    def ownership(self) -> list[tuple[str, str, str, int]]:
        engine = sa.create_engine(self.journal)
        try:
            with engine.connect() as c:
                rows = c.execute(sa.text(
                    "SELECT pool, replica, `change`, token FROM fs_ownership ORDER BY id"))
                return [(r.pool, r.replica, r.change, int(r.token)) for r in rows]
        finally:
            engine.dispose()

    def status(self, pools: list[str]) -> list[Any]:
        """What ``fleetscale status`` shows: each pool's owner, token and last change."""
        from fleetscale.config import CoordinationConfig
        from fleetscale.status import owners

        engine = sa.create_engine(self.journal)
        try:
            return owners(engine, pools, CoordinationConfig.model_validate(self.coordination),
                          self.journal, True)
        finally:
            engine.dispose()

    def stop_all(self) -> None:
        for r in self.replicas:
            if r.proc.poll() is None:
                os.kill(r.proc.pid, signal.SIGCONT)
                r.end(signal.SIGTERM)
        for path in self.state_dir.glob("*.json"):  # no sleep process outlives the test
            for m in marked_processes(str(path)):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(m.pid, signal.SIGKILL)


@pytest.fixture(params=["sql", "etcd"])
def cluster(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Cluster]:
    server = request.getfixturevalue("mysql_server")
    journal = server.url(request.getfixturevalue("mysql_db"))
    backend: LeaseBackend
    if request.param == "sql":
        from fleetscale.coordination.sql import SqlLeases

        coordination: dict[str, Any] = {"backend": "sql"}
        backend = SqlLeases.from_url(journal)
    else:
        from fleetscale.coordination.etcd import EtcdLeases

        etcd = request.getfixturevalue("etcd_server")
        prefix = request.getfixturevalue("etcd_prefix")
        coordination = {"backend": "etcd", "endpoints": [etcd.endpoint], "prefix": prefix}
        backend = EtcdLeases([etcd.endpoint], prefix=prefix)
    coordination.update(ttl=TTL, max_moves=MAX_MOVES)
    c = Cluster(tmp_path, journal, coordination, backend)
    try:
        yield c
    finally:
        c.stop_all()
        backend.close()


def never_two_at_once(replicas: list[Replica]) -> None:
    """For every pool, the stretches in which replicas may act on it never overlap."""
    spans: dict[str, list[tuple[float, float, str, int]]] = {}
    for r in replicas:
        seen: dict[tuple[str, int], list[float]] = {}
        for t, acting in r.samples:
            for pool, token in acting.items():
                seen.setdefault((pool, token), []).append(t)
        for (pool, token), times in seen.items():
            spans.setdefault(pool, []).append((min(times), max(times), r.name, token))
    for pool, stretches in spans.items():
        stretches.sort()
        for (_, end, who, token), (start, _, other, token2) in itertools.pairwise(stretches):
            assert end < start, (pool, who, token, other, token2)


class TestReplicas:
    def test_spread_then_restart_rebalances_in_bounded_moves(self, cluster: Cluster) -> None:
        pools = [f"p{i}" for i in range(10)]
        cluster.configure({p: 0 for p in pools})
        replicas = [cluster.start() for _ in range(3)]
        names = [r.name for r in replicas]
        wait_for("the pools spread over the three replicas",
                 lambda: cluster.holders() == assign(pools, names), 30)
        wait_for("every replica acts on its pools",
                 lambda: all(set(r.acting()) == {p for p, o in assign(pools, names).items() if o == r.name}
                             for r in replicas), 15)
        shown = cluster.status(pools)
        assert {r.pool: r.owner for r in shown} == assign(pools, names)
        assert all(r.token is not None and r.last is not None and r.last.change == "acquired" for r in shown)
        if cluster.coordination["backend"] == "sql":  # the command line, from the journal alone
            out = subprocess.run([sys.executable, "-m", "fleetscale", "status", "--journal", cluster.journal],
                                 cwd=ROOT, capture_output=True, text=True, timeout=30,
                                 env={**os.environ, "PYTHONPATH": str(ROOT / "src")})
            assert out.returncode == 0, out.stderr
            for pool, owner in assign(pools, names).items():
                assert any(line.split()[:2] == [pool, owner] for line in out.stdout.splitlines()), out.stdout
        replicas[0].end(signal.SIGTERM)  # a clean stop releases at once: a failover, not a move
        survivors = assign(pools, names[1:])
        wait_for("the two others take the released pools", lambda: cluster.holders() == survivors, 10)
        again = cluster.start()  # joins: only the pools it now wins move, at most MAX_MOVES at once
        rebalanced = assign(pools, [again.name, *names[1:]])
        most_free, deadline = 0, time.monotonic() + 30
        while (held := cluster.holders()) != rebalanced:
            most_free = max(most_free, len(pools) - len(held))
            assert time.monotonic() < deadline, "no convergence after the restart"
            time.sleep(0.02)
        assert most_free <= MAX_MOVES
        cluster.stop_all()
        never_two_at_once(cluster.replicas)
        changes = cluster.ownership()
        assert {(p, names[0], "released") for p, o in assign(pools, names).items() if o == names[0]} <= \
            {(p, r, ch) for p, r, ch, _ in changes}

    def test_sigkill_mid_drain_another_replica_finishes_it(self, cluster: Cluster) -> None:
        cluster.configure({"web": 2, "a": 0, "b": 0})
        cluster.sessions("web", {"*": 3})  # drains stay open until the test says otherwise
        replicas = [cluster.start() for _ in range(3)]
        wait_for("two instances of web", lambda: len(cluster.live("web")) == 2, 30)
        cluster.hold("web", 1)  # one instance is drained
        drain = wait_for("a drain begun on web", lambda: [
            c for c in cluster.calls() if c["pool"] == "web" and c["op"] == "drain"], 20)[0]
        owner = next(r for r in replicas if r.name == drain["who"])
        owner.end(signal.SIGKILL)
        draining = drain["ids"][0]
        successor = wait_for("another replica acts on web", lambda: next(
            (r for r in replicas if r is not owner and "web" in r.acting()), None), TTL + 15)
        time.sleep(1.5)  # a few cycles of the new owner: the drain holds (sessions remain)
        assert draining in cluster.live("web"), "terminated before it was drained"
        cluster.sessions("web", {"*": 0})
        wait_for("the drained instance terminated", lambda: draining not in cluster.live("web"), 20)
        calls = [c for c in cluster.calls() if c["pool"] == "web"]
        launched = [i for c in calls if c["op"] == "launch" for i in c["ids"]]
        assert len(launched) == len(set(launched)) == 2, calls  # nothing launched twice
        terminated = [c for c in calls if c["op"] == "terminate"]
        assert [c["ids"] for c in terminated] == [[draining]] and terminated[0]["who"] == successor.name
        assert cluster.marked("web") == cluster.live("web") == set(launched) - {draining}  # no leak
        assert successor.acting()["web"] > drain["token"]

    def test_sigstop_past_ttl_woken_replica_acts_on_nothing(self, cluster: Cluster) -> None:
        cluster.configure({"web": 1, "a": 0, "b": 0})
        replicas = [cluster.start() for _ in range(3)]
        wait_for("one instance of web", lambda: len(cluster.live("web")) == 1, 30)
        owner = wait_for("an owner acting on web", lambda: next(
            (r for r in replicas if "web" in r.acting()), None), 10)
        old_token = owner.acting()["web"]
        os.kill(owner.proc.pid, signal.SIGSTOP)
        stopped_at = time.monotonic()
        others = [r for r in replicas if r is not owner]
        wait_for("another replica takes web over", lambda: any("web" in r.acting() for r in others), TTL + 15)
        cluster.hold("web", 2)  # the new owner acts: one more instance
        wait_for("the new owner launched", lambda: len(cluster.live("web")) == 2, 20)
        os.kill(owner.proc.pid, signal.SIGCONT)
        woke_at = time.monotonic()
        wait_for("the woken replica reports again",
                 lambda: owner.samples and owner.samples[-1][0] > woke_at, 10)
        time.sleep(3)  # several of its cycles and coordinator rounds
        late = [c for c in cluster.calls() if c["who"] == owner.name and c["t"] > stopped_at
                and c["pool"] == "web" and c["token"] == old_token]
        assert late == [], late
        assert not any(t > woke_at and acting.get("web") == old_token for t, acting in owner.samples)
        assert len(cluster.live("web")) == 2 and cluster.marked("web") == cluster.live("web")
        assert ("web", owner.name, "lost", old_token) in cluster.ownership()  # it noticed
        cluster.stop_all()
        never_two_at_once(cluster.replicas)

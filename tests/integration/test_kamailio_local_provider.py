"""Provider ``local``: real processes, bounded in time, stopped by their own pid, adopted after a
restart from the state file."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from fleetscale.errors import ProviderError
from fleetscale.model import InstanceState
from fleetscale.providers.local import POOL_TAG, LocalProvider, Settings
from fleetscale.sim.clock import WallClock

pytestmark = pytest.mark.integration



def provider(tmp_path: Path, **extra: object) -> LocalProvider:
    settings = Settings(command=["sh", "-c", "sleep 30", "{id}"],
                        commands={"short": ["sh", "-c", "sleep 0.2", "{id}"]},
                        lifetime=60, stop_grace=2, state_dir=tmp_path, **extra)
    return LocalProvider(settings, "pool-a", WallClock(), {"default": 2})


def pids(p: LocalProvider) -> dict[str, int]:
    return {r.id: r.pid for r in p._load()}


class TestLocalProvider:
    """launch / list / terminate over real processes."""

    def test_launch_is_idempotent_per_request_and_lists_instances(self, tmp_path: Path) -> None:
        p = provider(tmp_path)
        try:
            first = p.launch("default", 2, "r1")
            assert len(first) == 2 and p.launch("default", 2, "r1") == first
            listed = {i.id: i for i in p.list()}
            assert set(listed) == {i.id for i in first}
            one = listed[first[0].id]
            assert one.state is InstanceState.READY and one.weight == 2
            assert one.address is not None and one.address.startswith("127.0.0.1:")
            assert one.tags[POOL_TAG] == "pool-a" and one.id.startswith("gw-")
            assert len({i.address for i in first}) == 2
        finally:
            p.terminate([i.id for i in p.list()], "cleanup")
        assert p.list() == []

    def test_terminate_stops_only_the_named_process(self, tmp_path: Path) -> None:
        p = provider(tmp_path)
        a, b = p.launch("default", 2, "r2")
        pid_a = pids(p)[a.id]
        p.terminate([a.id, "unknown-id"], "t1")
        assert [i.id for i in p.list()] == [b.id]
        assert not _running(pid_a)
        p.terminate([b.id], "t2")
        p.terminate([b.id], "t2")  # again: nothing left, no error
        assert p.list() == []

    def test_a_process_that_exits_is_no_longer_listed(self, tmp_path: Path) -> None:
        p = provider(tmp_path)
        (short,) = p.launch("short", 1, "r3")
        deadline = time.monotonic() + 5
        while p.list() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert p.list() == [], f"{short.id} exited after 0.2 s"

    def test_a_restarted_provider_adopts_and_stops_the_processes(self, tmp_path: Path) -> None:
        first = provider(tmp_path)
        (inst,) = first.launch("default", 1, "r4")
        pid = pids(first)[inst.id]
        first.close()
        second = provider(tmp_path)
        assert [i.id for i in second.list()] == [inst.id]
        second.terminate([inst.id], "t4")
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and _running(pid):
            time.sleep(0.05)
        assert not _running(pid)
        assert second.list() == []

    def test_a_reused_pid_is_never_taken_for_an_instance(self, tmp_path: Path) -> None:
        """A state file naming a pid that now belongs to another process (here: this test's own
        pid, with another start time) lists nothing and stops nothing."""
        import json

        record = {"id": "gw-old", "type": "default", "pid": os.getpid(), "port": 5999, "request_id": "r",
                  "launched_at": "2026-01-01T00:00:00+00:00", "start_ticks": 1}
        (tmp_path / "pool-a.json").write_text(json.dumps({"pool": "pool-a", "instances": [record]}))
        p = provider(tmp_path)
        assert p.list() == []
        p.terminate(["gw-old"], "t")  # must not signal this process
        assert _running(os.getpid())

    def test_bad_placeholder(self, tmp_path: Path) -> None:
        settings = Settings(command=["sh", "-c", "sleep 1", "{nope}"], state_dir=tmp_path)
        p = LocalProvider(settings, "pool-a", WallClock())
        with pytest.raises(ProviderError, match="nope"):
            p.launch("default", 1, "r5")
        assert p.list() == []


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (ProcessLookupError, FileNotFoundError):
        return False
    return stat.rsplit(")", 1)[-1].split()[0] not in ("Z", "X")


class TestStateFile:
    """A damaged state file is a ProviderError naming the file, never a raw TypeError."""

    @pytest.mark.parametrize(
        "text", ['{"instances": [{"bogus": 1}]}', '{"instances": 3}', "[1, 2]", "{not json"],
        ids=["unknown-field", "not-a-list", "not-a-mapping", "not-json"],
    )
    def test_damaged_state_file(self, tmp_path: Path, text: str) -> None:
        p = provider(tmp_path)
        (tmp_path / "pool-a.json").write_text(text, encoding="utf-8")
        with pytest.raises(ProviderError, match="unreadable state file"):
            p.list()

    def test_missing_state_file_is_an_empty_pool(self, tmp_path: Path) -> None:
        assert provider(tmp_path).list() == []

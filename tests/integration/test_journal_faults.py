"""Journal faults: a journal that cannot be written makes the pool hold and the process say
so (a non-zero exit for ``run --once``, ``Controller.journal_errors()`` for ``run``); a damaged
file is refused at start; nothing is acted on that the journal cannot explain."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from fleetscale import config
from fleetscale.app import build_controller
from fleetscale.errors import JournalError
from fleetscale.policy.fixed import FixedPolicy
from fleetscale.sim.clock import SimClock

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


def _doc(journal: str, units: int = 3) -> dict[str, object]:
    return {"pools": [{"name": "web", "interval": 60, "min": 1, "max": 10,
                       "policies": [{"kind": "fixed", "units": units}],
                       "provider": {"kind": "simulated", "boot_delay": 0, "initial": 1}}],
            "journal": {"sql": journal, "log": False}}


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    return subprocess.run([sys.executable, "-m", "fleetscale", *args], capture_output=True, text=True,
                          env=env, cwd=cwd, timeout=60, check=False)


def test_deleted_database_file_holds_the_pool(tmp_path: Path) -> None:
    path = tmp_path / "j.db"
    clock = SimClock()
    controller = build_controller(config.parse(_doc(f"sqlite:///{path}")), clock, log=False)
    try:
        (first,) = controller.cycle()
        assert not first.errors and first.plan is not None and first.plan.launch
        path.unlink()  # an operator's mistake, a cleanup job...
        clock.advance(60)
        (second,) = controller.cycle()
        assert any("deleted or replaced" in e for e in second.errors), second.errors
        assert controller.journal_errors(), "the process knows its journal is gone"
        runner = controller.runners[0]
        more = replace(runner.spec.decision, policies=(FixedPolicy(units=6),))
        runner.spec = replace(runner.spec, decision=more)  # the load grows: the pool wants 6
        clock.advance(60)
        (third,) = controller.cycle()
        acted = [o for o in third.outcome if o.startswith(("launched", "drain begun", "terminated"))]
        assert acted == [], "nothing acted while the journal cannot record it"
        assert len(runner.provider.list()) == 3  # type: ignore[arg-type]
        assert any("deleted or replaced" in e for e in third.errors)
    finally:
        controller.close()


def test_damaged_file_is_refused_at_start(tmp_path: Path) -> None:
    path = tmp_path / "j.db"
    cfg = tmp_path / "fleet.yaml"
    import yaml

    cfg.write_text(yaml.safe_dump(_doc(f"sqlite:///{path}")))
    assert _cli("run", "--once", str(cfg), cwd=tmp_path).returncode == 0
    with sqlite3.connect(path) as c:  # enough pages that damage lands inside the tables
        c.execute("CREATE TABLE pad (x TEXT)")
        c.executemany("INSERT INTO pad VALUES (?)", [("x" * 500,)] * 200)
    data = bytearray(path.read_bytes())
    for page in range(1, len(data) // 4096):  # the b-tree page headers
        data[page * 4096: page * 4096 + 12] = b"\xff" * 12
    path.write_bytes(bytes(data))
    done = _cli("run", "--once", str(cfg), cwd=tmp_path)
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    assert "damaged" in done.stderr, done.stderr


def test_read_only_journal_fails_run_once(tmp_path: Path) -> None:
    path = tmp_path / "j.db"
    import yaml

    writable = tmp_path / "rw.yaml"
    writable.write_text(yaml.safe_dump(_doc(f"sqlite:///{path}")))
    assert _cli("run", "--once", str(writable), cwd=tmp_path).returncode == 0
    readonly = tmp_path / "ro.yaml"  # root ignores file modes: open the file read-only instead
    readonly.write_text(yaml.safe_dump(_doc(f"sqlite:///file:{path}?mode=ro&uri=true", units=4)))
    done = _cli("run", "--once", str(readonly), cwd=tmp_path)
    assert done.returncode == 1, (done.stdout, done.stderr)
    assert "journal cannot be written" in done.stderr and "Traceback" not in done.stderr


def test_journal_error_names_the_file(tmp_path: Path) -> None:
    from fleetscale.journal.sql import SqlJournal

    path = tmp_path / "j.db"
    journal = SqlJournal(f"sqlite:///{path}")
    path.unlink()
    with pytest.raises(JournalError, match="deleted or replaced"):
        journal.pools()
    journal.close()

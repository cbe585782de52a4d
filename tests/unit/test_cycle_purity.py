"""The cycle and the state value are pure like the decision code they wrap: no driver, no
adapter, no logging, no clock, no module-level mutable state. They may use the reconciler's
pure rules and the journal's record value (``journal/record.py``), nothing else of the
shell."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.unit.test_purity import SRC, _loaded, _problems, _state_problems

PKG = SRC / "fleetscale"
FILES = [PKG / "cycle.py", PKG / "state.py", PKG / "reconciler.py"]
ALLOWED = ("from fleetscale.reconciler import ...", "from fleetscale.journal.record import ...")


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_cycle_code_is_pure(path: Path) -> None:
    problems = [p for p in _problems(path) if p not in ALLOWED]
    assert problems == [], f"{path.name} must stay pure"
    assert _state_problems(path) == [], f"{path.name} keeps module-level mutable state"


def test_importing_the_cycle_loads_no_driver() -> None:
    new = _loaded(["fleetscale.cycle", "fleetscale.state"]) - _loaded([])
    drivers = {"sqlalchemy", "redis", "boto3", "httpx", "structlog", "logging", "pymysql", "apscheduler"}
    assert "fleetscale.cycle" in new
    assert sorted(m for m in new if m.split(".")[0] in drivers) == []

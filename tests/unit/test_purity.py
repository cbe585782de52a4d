"""The decision code is pure: no adapter, no driver, no logging, no wall clock.

Checked twice: statically with ``ast`` over the source files (imports and clock calls), and
at import time in a fresh interpreter (which modules importing the decision code loads).
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src"
PKG = SRC / "fleetscale"

DECISION_FILES = sorted(
    [
        *(PKG / "policy").glob("*.py"),
        *(PKG / "governor").glob("*.py"),
        *(PKG / name for name in ("planner.py", "decide.py", "core.py", "model.py")),
        PKG / "coordination" / "ownership.py",
    ]
)
DECISION_MODULES = sorted(
    {".".join(p.relative_to(SRC).with_suffix("").parts).removesuffix(".__init__") for p in DECISION_FILES}
)

DRIVERS = {
    "pymysql", "mysql", "redis", "boto3", "botocore", "httpx", "requests", "urllib3", "sqlalchemy",
    "libcloud", "elasticsearch", "socket", "ssl", "http", "urllib", "asyncio", "subprocess",
    "structlog", "logging", "prometheus_client", "apscheduler", "threading", "multiprocessing",
    "pydantic", "yaml", "random", "secrets", "uuid", "os", "io", "tempfile", "shutil", "sqlite3",
}  # fmt: skip
ADAPTER_PACKAGES = {
    "fleetscale.sources", "fleetscale.providers", "fleetscale.drainers", "fleetscale.journal",
    "fleetscale.sim", "fleetscale.compat", "fleetscale.config", "fleetscale.registry",
    "fleetscale.ports", "fleetscale.controller", "fleetscale.reconciler", "fleetscale.app",
    "fleetscale.cli",
}  # fmt: skip
#: attribute calls that read the wall clock (or a process clock)
CLOCK_CALLS = {
    ("datetime", "now"), ("datetime", "utcnow"), ("datetime", "today"), ("date", "today"),
    ("time", "time"), ("time", "time_ns"), ("time", "monotonic"), ("time", "monotonic_ns"),
    ("time", "perf_counter"), ("time", "localtime"), ("time", "gmtime"), ("time", "sleep"),
}  # fmt: skip
CLOCK_NAMES = {"time", "time_ns", "monotonic", "monotonic_ns", "perf_counter", "localtime", "sleep"}


def _forbidden(module: str) -> bool:
    root = module.split(".")[0]
    return root in DRIVERS or any(module == p or module.startswith(p + ".") for p in ADAPTER_PACKAGES)


def _problems(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [f"import {a.name}" for a in node.names if _forbidden(a.name)]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if _forbidden(node.module):
                found.append(f"from {node.module} import ...")
            if node.module == "time":
                found += [f"from time import {a.name}" for a in node.names if a.name in CLOCK_NAMES]
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            owner = node.func.value
            name = (
                owner.id
                if isinstance(owner, ast.Name)
                else owner.attr
                if isinstance(owner, ast.Attribute)
                else ""
            )
            if (name, node.func.attr) in CLOCK_CALLS:
                found.append(f"{name}.{node.func.attr}() at line {node.lineno}")
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in ("print", "open")
        ):
            found.append(f"{node.func.id}() at line {node.lineno}")
    return found


@pytest.mark.parametrize("path", DECISION_FILES, ids=[str(p.relative_to(PKG)) for p in DECISION_FILES])
def test_source_is_pure(path: Path) -> None:
    assert _problems(path) == [], f"{path.relative_to(SRC)} is decision code and must stay pure"


class TestTheCheckItself:
    """The checker catches what it should."""

    @pytest.mark.parametrize(
        "source",
        [
            "import redis",
            "from sqlalchemy import text",
            "import structlog",
            "import logging",
            "from fleetscale.sources import sqs",
            "from fleetscale.config import PoolConfig",
            "from datetime import datetime\nx = datetime.now()",
            "import datetime\nx = datetime.datetime.utcnow()",
            "import time\nx = time.monotonic()",
            "from time import time",
        ],
        ids=[
            "redis",
            "sqlalchemy",
            "structlog",
            "logging",
            "adapter",
            "config",
            "now",
            "utcnow",
            "monotonic",
            "time",
        ],
    )
    def test_catches(self, tmp_path: Path, source: str) -> None:
        bad = tmp_path / "bad.py"
        bad.write_text(source + "\n", encoding="utf-8")
        assert _problems(bad)

    def test_accepts_arithmetic_on_given_time(self, tmp_path: Path) -> None:
        ok = tmp_path / "ok.py"
        ok.write_text("from datetime import timedelta\ndef f(now):\n    return now - timedelta(seconds=5)\n")
        assert _problems(ok) == []


def _loaded(imports: list[str]) -> set[str]:
    code = f"import sys, json\nfor m in {imports!r}:\n    __import__(m)\n"
    code += "print(json.dumps(sorted(sys.modules)))\n"
    out = subprocess.run(
        [sys.executable, "-c", code],
        env={"PYTHONPATH": str(SRC), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return set(json.loads(out.stdout))


def test_import_loads_no_driver() -> None:
    """Importing every decision module in a fresh interpreter loads no driver, no logging and
    no adapter beyond what a bare interpreter already has."""
    baseline = _loaded([])
    new = _loaded(DECISION_MODULES) - baseline
    assert "fleetscale.decide" in new
    assert sorted(m for m in new if _forbidden(m)) == []

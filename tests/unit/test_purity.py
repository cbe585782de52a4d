"""The decision code is pure: no adapter, no driver, no logging, no wall clock, no hidden
state.

Checked twice: statically with ``ast`` over the source files (imports, clock calls, and
module- or class-level mutable state: caches, memos, ``global`` writes, ``id()`` keys,
constructor-skipping ``tuple.__new__``), and at import time in a fresh interpreter (which
modules importing the decision code loads).
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


#: calls that build a mutable container (a module- or class-level one is shared hidden state)
MUTABLE_CALLS = {
    "dict", "list", "set", "bytearray", "defaultdict", "OrderedDict", "Counter", "deque",
    "WeakValueDictionary", "WeakKeyDictionary", "WeakSet", "ChainMap", "SimpleNamespace",
}  # fmt: skip
MUTABLE_NODES = (ast.Dict, ast.List, ast.Set, ast.DictComp, ast.ListComp, ast.SetComp)
#: decorators that keep results between calls
CACHING_DECORATORS = {"lru_cache", "cache", "cached_property", "memoize"}


def _name(node: ast.expr) -> str:
    """``f`` of ``f``, ``f(...)``, ``mod.f`` or ``mod.f(...)``."""
    if isinstance(node, ast.Call):
        node = node.func
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return ""


def _mutable(value: ast.expr | None) -> bool:
    return isinstance(value, MUTABLE_NODES) or (
        isinstance(value, ast.Call) and _name(value) in MUTABLE_CALLS
    )


def _state_problems(path: Path) -> list[str]:
    """Module-level and class-level mutable containers, caching decorators, ``global``
    statements, ``id()`` calls and ``tuple.__new__``: the ways decision code could keep
    hidden state between calls or skip a value's constructor."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: list[str] = []
    shared: list[ast.stmt] = list(tree.body)
    shared += [s for c in ast.walk(tree) if isinstance(c, ast.ClassDef) for s in c.body]
    for stmt in shared:
        if isinstance(stmt, ast.Assign | ast.AnnAssign | ast.AugAssign) and _mutable(stmt.value):
            found.append(f"mutable container at module/class level, line {stmt.lineno}")
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            found += [
                f"@{_name(d)} on {node.name}() at line {node.lineno}"
                for d in node.decorator_list
                if _name(d) in CACHING_DECORATORS
            ]
        elif isinstance(node, ast.Global | ast.Nonlocal):
            found.append(f"{type(node).__name__.lower()} {', '.join(node.names)} at line {node.lineno}")
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "id":
            found.append(f"id() at line {node.lineno}")
        elif (
            isinstance(node, ast.Attribute)
            and node.attr == "__new__"
            and isinstance(node.value, ast.Name)
            and node.value.id == "tuple"
        ):
            found.append(f"tuple.__new__ at line {node.lineno}")
    return found


@pytest.mark.parametrize("path", DECISION_FILES, ids=[str(p.relative_to(PKG)) for p in DECISION_FILES])
def test_source_is_pure(path: Path) -> None:
    assert _problems(path) == [], f"{path.relative_to(SRC)} is decision code and must stay pure"


@pytest.mark.parametrize("path", DECISION_FILES, ids=[str(p.relative_to(PKG)) for p in DECISION_FILES])
def test_source_keeps_no_hidden_state(path: Path) -> None:
    """No cache, memo or other state outside the values passed in and out: precomputation
    lives in the compiled spec (``decide.compile_spec``), which the caller holds."""
    assert _state_problems(path) == [], f"{path.relative_to(SRC)} is decision code: no hidden state"


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


class TestTheStateCheck:
    """The hidden-state checker catches caches and memos, and lets frozen constants pass."""

    @pytest.mark.parametrize(
        "source",
        [
            "_CACHE: dict[int, object] = {}",
            "_LAST = [((), 0, 0)]",
            "_SEEN = set()",
            "from collections import defaultdict\n_BY = defaultdict(list)",
            "_M = dict()",
            "_K = {k: 1 for k in 'ab'}",
            "from functools import lru_cache\n@lru_cache(maxsize=None)\ndef f(x):\n    return x",
            "import functools\n@functools.cache\ndef f(x):\n    return x",
            "class P:\n    @property\n    @functools.cached_property\n    def c(self):\n        return 1",
            "_N = 0\ndef f():\n    global _N\n    _N += 1",
            "def f(spec):\n    return id(spec)",
            "_new = tuple.__new__",
            "class Policy:\n    memo = {}",
        ],
        ids=["dict-literal", "list-literal", "set-call", "defaultdict", "dict-call", "dict-comp",
             "lru_cache", "functools.cache", "cached_property", "global", "id", "tuple-new",
             "class-dict"],
    )
    def test_catches(self, tmp_path: Path, source: str) -> None:
        bad = tmp_path / "bad.py"
        bad.write_text(source + "\n", encoding="utf-8")
        assert _state_problems(bad)

    def test_accepts_frozen_constants_and_local_containers(self, tmp_path: Path) -> None:
        ok = tmp_path / "ok.py"
        ok.write_text(
            "from types import MappingProxyType\n"
            "from dataclasses import dataclass, field\n"
            "TABLE = MappingProxyType({'a': 1})\n"
            "STATES = frozenset({1, 2})\n"
            "ORDER: tuple[str, ...] = ('a', 'b')\n"
            "@dataclass(frozen=True)\n"
            "class V:\n"
            "    items: tuple[int, ...] = field(default_factory=tuple)\n"
            "def f(xs):\n"
            "    seen = {}\n"
            "    out = [x for x in xs]\n"
            "    return seen, out\n",
            encoding="utf-8",
        )
        assert _state_problems(ok) == []


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

"""Fuzz (hypothesis) the configuration model and the trace reader through the real CLI entry
point, in-process: ``fleetscale.cli.main([...])``.

For any input: the exit code is 0 or 2, never 1 (an internal error); no traceback is printed;
an error names the field as the user wrote it (its path, an ancestor of it, or the file); and
a refused input starts nothing: no journal database is created and no process is left.
Bounded for CI: a few hundred examples, no deadline, well under a minute.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fleetscale.cli import main

BASE: dict[str, Any] = {
    "pools": [{
        "name": "web",
        "min": 1,
        "max": 10,
        "interval": 30,
        "unit_capacity": 10.0,
        "instance_types": [{"name": "small", "weight": 1, "price": 0.1}],
        "policies": [{"kind": "target", "metric": "load", "utilisation": 0.7, "tolerance": 0.1},
                     {"kind": "cycles", "metric": "load", "threshold": 5.0, "up_cycles": 1, "down_cycles": 3},
                     {"kind": "step", "metric": "load", "steps": [{"above": 50.0, "add": 2}]}],
        "governor": {"up": {"hysteresis": 1, "cooldown": 0.0},
                     "down": {"stabilisation": 300.0, "max_step_count": 2}, "stale_after": 300.0},
        "sources": [{"kind": "fixed", "value": 3.0, "metric": "load"}],
        "provider": {"kind": "simulated", "boot_delay": 0.0, "initial": 1},
        "drain": {"deadline": 600.0, "on_deadline": "wait"},
        "boot_timeout": 600.0,
    }],
}
#: every field the fuzzer may change, as written in the file
PATHS = [
    "pools.0.name", "pools.0.min", "pools.0.max", "pools.0.interval", "pools.0.unit_capacity",
    "pools.0.instance_types.0.name", "pools.0.instance_types.0.weight", "pools.0.instance_types.0.price",
    "pools.0.policies.0.metric", "pools.0.policies.0.utilisation", "pools.0.policies.0.tolerance",
    "pools.0.policies.1.threshold", "pools.0.policies.1.up_cycles", "pools.0.policies.1.down_cycles",
    "pools.0.policies.2.steps.0.above", "pools.0.policies.2.steps.0.add",
    "pools.0.governor.up.hysteresis", "pools.0.governor.up.cooldown",
    "pools.0.governor.down.stabilisation", "pools.0.governor.down.max_step_count",
    "pools.0.governor.stale_after", "pools.0.sources.0.value", "pools.0.sources.0.metric",
    "pools.0.provider.boot_delay", "pools.0.provider.initial", "pools.0.drain.deadline",
    "pools.0.boot_timeout", "pools.0.policies", "pools.0.governor", "pools.0", "pools",
]
TOKENS = ["010", "08", "0x1F", "0o17", "1e400", "-1e400", ".inf", "-.inf", ".nan", "NaN", "yes",
          "no", "on", "off", "true", "~", "''", '""', '" "', '"\\0"', "1_000", "10:30", "1e12",
          "1e-6", "-0", "99999999999999999999999", "2026-01-05", "[]", "{}", "*a", "&a 1", "!!python/none",
          "!!binary AAAA", "[[[[[[[[]]]]]]]]", "{a: 1, a: 2}"]

values = st.recursive(
    st.one_of(
        st.floats(allow_nan=True, allow_infinity=True),
        st.integers(min_value=-(10**25), max_value=10**25),
        st.integers(min_value=-3, max_value=20),
        st.booleans(),
        st.none(),
        st.text(max_size=6),
        st.sampled_from(["", " ", "\0", "a\0b", "load", "yes", "010", "web", "0.5"]),
    ),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=6,
)


def _set(doc: Any, path: str, value: Any) -> None:
    parts = path.split(".")
    node = doc
    for part in parts[:-1]:
        node = node[int(part)] if isinstance(node, list) else node[part]
    last = parts[-1]
    if isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value


def _children() -> list[int]:
    """Ids of this process's child processes (from /proc)."""
    me, found = os.getpid(), []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError), open(f"/proc/{entry}/stat") as f:
                if int(f.read().rsplit(")", 1)[1].split()[1]) == me:
                    found.append(int(entry))
    return found


def run_cli(argv: list[str]) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as exc:  # argparse usage errors
            code = exc.code if isinstance(exc.code, int) else 2
    return code, out.getvalue() + err.getvalue()


def assert_contract(code: int, text: str) -> None:
    assert code in (0, 2), (code, text)
    assert "Traceback" not in text and "internal error" not in text, text


def names_the_field(text: str, path: str) -> bool:
    for line in text.splitlines():
        where = line.split(": ", 1)[0]
        if where in ("(file)", "(document)") or path.startswith(where) or where.startswith(path):
            return True
    return False


def check_config(directory: Path, body: str, suffix: str, path: str | None) -> None:
    journal = directory / "j.db"
    cfg = directory / f"fleet{suffix}"
    cfg.write_text(body.replace("JOURNAL", str(journal)), encoding="utf-8")
    before = _children()
    code, text = run_cli(["check", str(cfg)])
    assert_contract(code, text)
    if code == 2:
        assert path is None or names_the_field(text, path), (path, text)
        run_code, run_text = run_cli(["run", "--once", "--dry-run", str(cfg)])
        assert run_code == 2 and "Traceback" not in run_text, run_text
        assert not journal.exists(), "a refused configuration started nothing"
    else:  # what check accepts runs: one dry cycle ends cleanly
        run_code, run_text = run_cli(["run", "--once", "--dry-run", str(cfg)])
        assert run_code == 0 and "Traceback" not in run_text, run_text
    assert _children() == before


def _document(doc: dict[str, Any], as_json: bool) -> tuple[str, str]:
    doc = {**doc, "journal": {"sql": "sqlite:///JOURNAL"}}
    if as_json:
        return json.dumps(doc), ".json"
    return yaml.safe_dump(doc, allow_unicode=True), ".yaml"


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(path=st.sampled_from(PATHS), value=values, as_json=st.booleans())
def test_fuzz_configuration_values(path: str, value: Any, as_json: bool) -> None:
    doc = json.loads(json.dumps(BASE))
    _set(doc, path, value)
    try:
        body, suffix = _document(doc, as_json)
    except (ValueError, yaml.YAMLError):
        return  # not representable in this format
    with tempfile.TemporaryDirectory() as tmp:
        check_config(Path(tmp), body, suffix, path)


@settings(max_examples=100, deadline=None, suppress_health_check=list(HealthCheck))
@given(path=st.sampled_from([p for p in PATHS if p.count(".") >= 2]), token=st.sampled_from(TOKENS))
def test_fuzz_configuration_text(path: str, token: str) -> None:
    """A raw YAML token where a value goes: YAML's own readings (octal, sexagesimal, aliases,
    tags, booleans, flow collections) meet the model."""
    doc = json.loads(json.dumps(BASE))
    _set(doc, path, "@@TOKEN@@")
    body, _ = _document(doc, as_json=False)
    body = body.replace("'@@TOKEN@@'", token).replace("@@TOKEN@@", token)
    with tempfile.TemporaryDirectory() as tmp:
        check_config(Path(tmp), body, ".yaml", path)


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(raw=st.binary(max_size=200) | st.text(max_size=200).map(lambda t: t.encode("utf-8", "surrogatepass")))
def test_fuzz_configuration_bytes(raw: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        cfg = Path(tmp) / "fleet.yaml"
        cfg.write_bytes(raw)
        code, text = run_cli(["check", str(cfg)])
        assert_contract(code, text)
        if code == 2:
            assert all(": " in line for line in text.splitlines()), text
        assert list(Path(tmp).iterdir()) == [cfg]


NUMBERS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    st.sampled_from(["", " ", "abc", "1e20", "1e400", "-0", "1_0", "0x10", "nan", "inf", "\0", "5,5"]),
)


@st.composite
def traces(draw: st.DrawFn) -> bytes:
    """A trace file: mostly well formed (uniform steps, small), with fields broken at random."""
    step = draw(st.sampled_from([1.0, 30.0, 60.0, 300.0, 0.5]))
    rows = [f"{k * step:g},{draw(st.floats(min_value=0, max_value=1e3)):g}"
            for k in range(draw(st.integers(min_value=0, max_value=12)))]
    for _ in range(draw(st.integers(min_value=0, max_value=2))):
        if rows:
            k = draw(st.integers(min_value=0, max_value=len(rows) - 1))
            t, load = rows[k].split(",", 1)
            if draw(st.booleans()):
                t = draw(NUMBERS)
            else:
                load = draw(NUMBERS)
            rows[k] = f"{t},{load}"
    header = draw(st.sampled_from(["t_seconds,load", "t_seconds,load", "\ufefft_seconds,load",
                                   "time,value", ""]))
    text = "\n".join([header, *rows]) + "\n"
    return text.encode("utf-8", "surrogatepass") + draw(st.sampled_from([b"", b"", b"\xff", b"\x00"]))


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(content=traces(), interval=st.sampled_from(["60", "300", "86400", "inf", "nan", "1e-6", "0", "-5"]),
       extra=st.sampled_from([[], ["--boot-delay", "inf"], ["--drain-time", "1e300"], ["--scale", "1e30"],
                              ["--capacity", "nan"], ["--min", "3", "--max", "2"]]))
def test_fuzz_trace_reader(content: bytes, interval: str, extra: list[str]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        trace = Path(tmp) / "trace.csv"
        trace.write_bytes(content)
        report = Path(tmp) / "out.json"
        before = _children()
        code, text = run_cli(["simulate", "--trace", str(trace), "--interval", interval, *extra,
                              "--report", str(report)])
        assert_contract(code, text)
        if code == 2:
            named = [line.split(": ", 1)[0] for line in text.splitlines()]
            assert any(w.startswith("--") or w.startswith("usage") or w == "simulate" for w in named) or \
                "fleetscale simulate: error: argument" in text, text
            assert not report.exists(), "a refused run wrote nothing"
        else:
            assert "inf" not in report.read_text() and "NaN" not in report.read_text()
        assert _children() == before

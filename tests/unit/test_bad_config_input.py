"""Bad configuration input is refused with the field named (as written), never harmful.

Each class is one kind of input found by trying it (issue 14, section 2); every case goes
through the real entry point (``fleetscale check`` / ``run --once``) and asserts exit 2, one
line naming the field, and no traceback.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from pathlib import Path

import pytest

from fleetscale import document
from fleetscale.cli import main
from fleetscale.decide import DecisionSpec, Memory, compile_spec, decide
from fleetscale.model import Instance, InstanceState, Observation, Snapshot
from fleetscale.policy.target import TargetPolicy

Cap = pytest.CaptureFixture[str]
I = "interval: 30"  # noqa: E741

POOL = """\
pools:
  - name: web
    max: 10
    interval: 30
    sources: [{kind: fixed, value: 30}]
    provider: {kind: simulated, boot_delay: 0, initial: 5}
journal:
  sql: sqlite:///JOURNAL
"""


def write(tmp_path: Path, text: str, name: str = "fleet.yaml") -> Path:
    p = tmp_path / name
    p.write_text(text.replace("JOURNAL", str(tmp_path / "j.db")))
    return p


def refused(path: Path, capsys: Cap, command: str = "check") -> list[str]:
    args = ["run", "--once", str(path)] if command == "run" else [command, str(path)]
    assert main(args) == 2
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err + captured.out
    assert "internal error" not in captured.err
    return captured.err.splitlines()


def with_pool_lines(*lines: str) -> str:
    """POOL with ``lines`` added to the pool mapping (each a ``key: value`` line)."""
    return POOL.replace("    interval: 30\n", "    interval: 30\n" + "".join(f"    {x}\n" for x in lines))


class TestNonFiniteAndAbsurdNumbers:
    """Every number has a finite, sensible range; NaN and infinity are refused everywhere."""

    @pytest.mark.parametrize(
        ("old", "new", "needle"),
        [
            (I, "unit_capacity: .inf", "pools.0.unit_capacity: must be a finite number (got inf)"),
            (I, "unit_capacity: .nan", "pools.0.unit_capacity: must be a finite number (got nan)"),
            (I, "interval: .inf", "pools.0.interval: must be a finite number (got inf)"),
            (I, "interval: 1e12", "pools.0.interval: Input should be less than or equal to 86400"),
            (I, "interval: 1e-6", "pools.0.interval: Input should be greater than or equal to 0.1"),
            ("max: 10", "max: 100000000000000000000",
             "pools.0.max: Input should be less than or equal to 1000000"),
            (I, "governor: {down: {stabilisation: .nan}}",
             "pools.0.governor.down.stabilisation: must be a finite number (got nan)"),
            (I, "governor: {up: {cooldown: .nan}}",
             "pools.0.governor.up.cooldown: must be a finite number (got nan)"),
            (I, "governor: {up: {cooldown: 1e300}}",
             "pools.0.governor.up.cooldown: must be between 0 and 604800 seconds (got 1e+300)"),
            (I, "governor: {stale_after: .inf}",
             "pools.0.governor.stale_after: must be a finite number (got inf)"),
            (I, "policies: [{kind: cycles, metric: load, threshold: .nan}]",
             "pools.0.policies.0.threshold: must be a finite number (got nan)"),
            (I, "policies: [{kind: target, metric: load, target: .nan}]",
             "pools.0.policies.0.target: must be a finite number (got nan)"),
            (I, "policies: [{kind: target, metric: load, target: 1e300}]",
             "pools.0.policies.0.target: must be between"),
            (I, "policies: [{kind: predictive, weeks: 100000000}]",
             "pools.0.policies.0.weeks: must be between 0 and 52 weeks (got 1e+08)"),
            (I, "boot_timeout: .inf", "pools.0.boot_timeout: must be a finite number (got inf)"),
            ("boot_delay: 0", "boot_delay: .inf",
             "pools.0.provider.boot_delay: must be a finite number (got inf)"),
            ("value: 30", "value: .nan", "pools.0.sources.0.value: must be a finite number (got nan)"),
            ("value: 30", "value: 1e300", "pools.0.sources.0.value: Input should be less than or equal to"),
        ],
        ids=["unit-capacity-inf", "unit-capacity-nan", "interval-inf", "interval-1e12",
             "interval-1e-6", "max-1e20", "stabilisation-nan", "cooldown-nan", "cooldown-1e300",
             "stale-after-inf", "threshold-nan", "target-nan", "target-1e300", "weeks-huge",
             "boot-timeout-inf", "adapter-boot-delay-inf", "adapter-value-nan", "adapter-value-huge"],
    )
    def test_refused_naming_the_field(self, tmp_path: Path, capsys: Cap, old: str, new: str,
                                      needle: str) -> None:
        text = POOL.replace(old, new) if old != I or new.startswith("interval") else with_pool_lines(new)
        lines = refused(write(tmp_path, text), capsys)
        assert any(line.startswith(needle) for line in lines), lines

    def test_interval_bounds_are_a_tenth_of_a_second_to_one_day(self, tmp_path: Path, capsys: Cap) -> None:
        for ok in ("0.1", "86400"):
            assert main(["check", str(write(tmp_path, POOL.replace("interval: 30", f"interval: {ok}")))]) == 0
        for bad in ("0.05", "86401"):
            (line,) = refused(write(tmp_path, POOL.replace("interval: 30", f"interval: {bad}")), capsys)
            assert line.startswith("pools.0.interval: "), line


class TestInfiniteCapacityCannotShrinkALoadedPool:
    """Defence in depth for ``unit_capacity: .inf`` (today: the pool drains to 0)."""

    def test_run_refuses_before_anything_starts(self, tmp_path: Path, capsys: Cap) -> None:
        cfg = write(tmp_path, with_pool_lines("unit_capacity: .inf"))
        (line,) = refused(cfg, capsys, command="run")
        assert line.startswith("pools.0.unit_capacity: must be a finite number")
        assert not (tmp_path / "j.db").exists(), "nothing started: no journal written"

    def test_the_decision_core_refuses_it_too(self) -> None:
        with pytest.raises(ValueError, match="unit_capacity"):
            DecisionSpec(pool="web", min=0, max=10, policies=(TargetPolicy(utilisation=0.75),),
                         unit_capacity=math.inf)

    def test_a_finite_capacity_keeps_the_loaded_pool(self) -> None:
        now = datetime(2026, 1, 5, tzinfo=UTC)
        spec = DecisionSpec(pool="web", min=0, max=10, policies=(TargetPolicy(utilisation=0.75),),
                            unit_capacity=1e9)
        fleet = tuple(Instance(f"i{k}", "default", InstanceState.READY) for k in range(5))
        snap = Snapshot("web", now, fleet, (Observation("fixed", "load", 30.0, now),))
        verdict = decide(snap, compile_spec(spec), Memory())
        assert verdict.decision.desired == 5, "the down stabilisation window keeps the fleet"


class TestStringsAndCoercions:
    """Blank text, NUL characters, yes/no or true/false for a number, and 1.5 for a count."""

    @pytest.mark.parametrize(
        ("lines", "needle"),
        [
            (["policies: [{kind: target, metric: '', utilisation: 0.7}]"], "pools.0.policies.0.metric"),
            (["policies: [{kind: target, metric: '   ', utilisation: 0.7}]"], "pools.0.policies.0.metric"),
            (["policies: [{kind: target, metric: \"lo\\0ad\", utilisation: 0.7}]"],
             "pools.0.policies.0.metric: contains a NUL character"),
            (["instance_types: [{name: \"a\\0b\"}]"], "pools.0.instance_types.0.name: contains a NUL"),
            (["min: yes"], "pools.0.min: Input should be a valid integer"),
            (["min: true"], "pools.0.min: Input should be a valid integer"),
            (["unit_capacity: on"], "pools.0.unit_capacity: Input should be a valid number"),
            (["min: 1.5"], "pools.0.min: Input should be a valid integer"),
            (["min: '2'"], "pools.0.min: Input should be a valid integer"),
            (["governor: {up: {hysteresis: yes}}"], "pools.0.governor.up.hysteresis"),
        ],
        ids=["metric-empty", "metric-blank", "metric-nul", "type-name-nul", "min-yes", "min-true",
             "capacity-on", "min-fraction", "min-text", "hysteresis-yes"],
    )
    def test_refused(self, tmp_path: Path, capsys: Cap, lines: list[str], needle: str) -> None:
        out = refused(write(tmp_path, with_pool_lines(*lines)), capsys)
        assert any(needle in line for line in out), out

    def test_max_yes_is_not_one(self, tmp_path: Path, capsys: Cap) -> None:
        (line,) = refused(write(tmp_path, POOL.replace("max: 10", "max: yes")), capsys)
        assert line == "pools.0.max: Input should be a valid integer (got True)"

    def test_json_true_is_not_one(self, tmp_path: Path, capsys: Cap) -> None:
        doc = ('{"pools": [{"name": "web", "max": true, "provider": {"kind": "simulated"}}], '
               f'"journal": {{"sql": "sqlite:///{tmp_path / "j.db"}"}}}}')
        (line,) = refused(write(tmp_path, doc, "fleet.json"), capsys)
        assert line == "pools.0.max: Input should be a valid integer (got True)"

    def test_booleans_still_read_as_booleans(self, tmp_path: Path, capsys: Cap) -> None:
        assert main(["check", str(write(tmp_path, with_pool_lines("dry_run: yes")))]) == 0
        assert "dry run" in capsys.readouterr().out


class TestYamlReadings:
    """Duplicate keys and numbers a typo would make YAML misread."""

    def test_duplicate_key_named_with_its_line(self, tmp_path: Path, capsys: Cap) -> None:
        (line,) = refused(write(tmp_path, POOL.replace("    max: 10\n", "    max: 10\n    max: 2\n")), capsys)
        assert "at line 4: max: given twice in one mapping (first at line 3)" in line

    def test_duplicate_key_in_json(self, tmp_path: Path, capsys: Cap) -> None:
        doc = '{"pools": [{"name": "web", "max": 3, "max": 4, "provider": {"kind": "simulated"}}]}'
        (line,) = refused(write(tmp_path, doc, "fleet.json"), capsys)
        assert "max: given twice in one object" in line

    @pytest.mark.parametrize("text", ["010", "08", "-010", "00"],
                             ids=["octal", "leading-zero", "negative", "zeros"])
    def test_leading_zero_refused(self, tmp_path: Path, capsys: Cap, text: str) -> None:
        (line,) = refused(write(tmp_path, POOL.replace("max: 10", f"max: {text}")), capsys)
        assert f"max: a number with a leading zero is ambiguous (YAML 1.1 reads {text} as octal)" in line

    def test_explicit_forms_and_yaml_12_numbers_read(self, tmp_path: Path, capsys: Cap) -> None:
        text = POOL.replace("max: 10", "max: 0x10").replace("interval: 30", "interval: 3e1")
        assert main(["check", str(write(tmp_path, text))]) == 0
        assert "0-16 units every 30 s" in capsys.readouterr().out

    def test_quoted_leading_zero_is_text(self, tmp_path: Path) -> None:
        text = POOL.replace("value: 30}", "value: 30, name: '007'}")
        assert main(["check", str(write(tmp_path, text))]) == 0


class TestFiles:
    """Binary, non-UTF-8, deeply nested and alias-bomb files are refused quickly."""

    def test_binary(self, tmp_path: Path, capsys: Cap) -> None:
        p = tmp_path / "fleet.yaml"
        p.write_bytes(b"pools:\x00\x01\x02\xff\xfe")
        (line,) = refused(p, capsys)
        assert line.startswith("(file): binary data (a NUL byte at line 1)")

    def test_not_utf8(self, tmp_path: Path, capsys: Cap) -> None:
        p = tmp_path / "fleet.yaml"
        p.write_bytes(POOL.replace("name: web", "name: caf\xe9").encode("latin-1"))
        (line,) = refused(p, capsys)
        assert line.startswith("(file): not UTF-8 text (byte 0xe9 at line 2)")

    @pytest.mark.timeout(20)
    @pytest.mark.parametrize("name", ["deep.yaml", "deep.json"])
    def test_nested_a_thousand_levels(self, tmp_path: Path, capsys: Cap, name: str) -> None:
        p = tmp_path / name
        p.write_text('{"pools": ' + "[" * 1000 + "]" * 1000 + "}")
        (line,) = refused(p, capsys)
        assert "nested more than 32 levels deep" in line

    @pytest.mark.timeout(20)
    def test_block_nesting(self, tmp_path: Path, capsys: Cap) -> None:
        p = tmp_path / "deep.yaml"
        p.write_text("".join("  " * i + "a:\n" for i in range(1000)))
        (line,) = refused(p, capsys)
        assert "nested more than 32 levels deep" in line

    @pytest.mark.timeout(20)
    def test_alias_bomb(self, tmp_path: Path, capsys: Cap) -> None:
        lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
        for prev, name in zip("abcdefgh", "bcdefghi", strict=True):
            lines.append(f"{name}: &{name} [{','.join(['*' + prev] * 9)}]")
        text = "\n".join(lines) + "\npools: *i\n"
        assert len(text) < 700
        p = tmp_path / "bomb.yaml"
        p.write_text(text)
        (line,) = refused(p, capsys)
        assert "refused YAML" in line and ("aliases" in line or "expands to more than" in line)

    @pytest.mark.timeout(20)
    def test_recursive_alias(self, tmp_path: Path, capsys: Cap) -> None:
        p = tmp_path / "loop.yaml"
        p.write_text("pools: &p [*p]\n")
        (line,) = refused(p, capsys)
        assert "an alias refers to a value that contains it" in line

    def test_modest_anchors_still_work(self, tmp_path: Path, capsys: Cap) -> None:
        text = POOL.replace("provider: {kind: simulated, boot_delay: 0, initial: 5}",
                            "provider: &sim {kind: simulated, boot_delay: 0}")
        text = text.replace("journal:", "  - name: api\n    max: 5\n    provider: *sim\njournal:")
        assert main(["check", str(write(tmp_path, text))]) == 0
        assert "2 pools" in capsys.readouterr().out

    @pytest.mark.timeout(20)
    def test_huge_file(self, tmp_path: Path, capsys: Cap) -> None:
        p = tmp_path / "big.yaml"
        p.write_text("# " + "x" * (document.MAX_BYTES + 1) + "\n" + POOL)
        (line,) = refused(p, capsys)
        assert line.startswith(f"(file): larger than {document.MAX_BYTES >> 20} MiB")

    def test_ten_thousand_pools(self, tmp_path: Path) -> None:
        """10,000 pools written out exceed the 1 MiB limit of old: a configuration all the same."""
        pools = [{"name": f"pool-{i:05d}", "interval": 15, "max": 5,
                  "sources": [{"kind": "fixed", "value": 2}],
                  "provider": {"kind": "simulated", "boot_delay": 0}} for i in range(10_000)]
        p = tmp_path / "fleet.json"
        p.write_text(json.dumps({"pools": pools}))
        assert p.stat().st_size > 1 << 20
        assert len(document.read(p)["pools"]) == 10_000

    @pytest.mark.timeout(60)
    def test_many_nodes_without_aliases(self, tmp_path: Path) -> None:
        """More than ``MAX_NODES`` values written out (no alias adds any) is not a bomb."""
        p = tmp_path / "long.yaml"
        p.write_text("values:\n" + "- 1\n" * (document.MAX_NODES + 10))
        assert len(document.read(p)["values"]) == document.MAX_NODES + 10

    def test_directory(self, tmp_path: Path, capsys: Cap) -> None:
        (line,) = refused(tmp_path, capsys)
        assert line.startswith("(file): is a directory")


class TestFoundByHand:
    """Inputs that reached ``internal error`` (exit 1 with an exception name) when tried."""

    @pytest.mark.parametrize(
        ("url", "needle"),
        [
            ("garbage", "journal.sql: not a usable database URL"),
            ("nosuch://x", "journal.sql: not a usable database URL"),
            ("sqlite:////nonexistent/dir/j.db", "journal.sql: no such directory '/nonexistent/dir'"),
            ("sqlite:////" + "a" * 5000 + "/j.db", "journal.sql: no such directory"),
        ],
        ids=["garbage", "unknown-dialect", "missing-directory", "name-too-long"],
    )
    def test_journal_url_checked_at_check(self, tmp_path: Path, capsys: Cap, url: str, needle: str) -> None:
        text = POOL.replace("sqlite:///JOURNAL", url)
        (line,) = refused(write(tmp_path, text), capsys)
        assert line.startswith(needle), line

    @pytest.mark.parametrize("name", ["a" * 5000 + ".yaml", "a\0b.yaml"], ids=["too-long", "nul"])
    def test_unusable_file_names(self, capsys: Cap, name: str) -> None:
        (line,) = refused(Path(name), capsys)
        assert line.startswith("(file): cannot read")

    @pytest.mark.parametrize("option", ["--report", "--trace"])
    @pytest.mark.parametrize("name", ["/" + "a" * 5000 + "/x", "a\0b"], ids=["too-long", "nul"])
    def test_unusable_simulate_paths(self, tmp_path: Path, capsys: Cap, option: str, name: str) -> None:
        good = tmp_path / "t.csv"
        good.write_text("t_seconds,load\n0,1\n60,2\n120,3\n")
        suffix = ".json" if option == "--report" else ".csv"
        argv = ["simulate", "--trace", str(good), option, name + suffix]
        code = main(argv)
        err = capsys.readouterr().err
        assert code == 2 and "internal error" not in err, err
        assert err.startswith(f"{option}: "), err

    def test_metrics_port_taken_is_one_clear_line(self, tmp_path: Path, capsys: Cap) -> None:
        import socket

        with socket.socket() as taken:
            taken.bind(("0.0.0.0", 0))
            taken.listen()
            port = taken.getsockname()[1]
            cfg = write(tmp_path, POOL + f"  metrics_port: {port}\n")
            assert main(["run", "--once", "--dry-run", str(cfg)]) == 1
        (line,) = capsys.readouterr().err.splitlines()
        assert line.startswith(f"fleetscale: journal.metrics_port: cannot serve metrics on 0.0.0.0:{port}")

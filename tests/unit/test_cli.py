"""The CLI: one line per problem, exit codes, no tracebacks; operator controls reach the journal."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from fleetscale.cli import main, moment
from fleetscale.journal.sql import SqlJournal
from fleetscale.model import Direction

Cap = pytest.CaptureFixture[str]

VALID = """\
pools:
  - name: web
    max: 10
    interval: 30
    sources: [{kind: fixed, value: 3}]
    provider: {kind: simulated, boot_delay: 0}
journal:
  sql: sqlite:///JOURNAL
"""

INVALID = """\
pools:
  - name: web
    max: 0
    interval: -5
    provider: {kind: simulated, boot_delay: soon}
"""


@pytest.fixture
def valid(tmp_path: Path) -> Path:
    p = tmp_path / "fleet.yaml"
    p.write_text(VALID.replace("JOURNAL", str(tmp_path / "j.db")))
    return p


class TestCheck:
    """check: exit 0 and one summary line, or exit 2 and one line per error."""

    def test_valid(self, valid: Path, capsys: Cap) -> None:
        assert main(["check", str(valid)]) == 0
        out = capsys.readouterr().out.splitlines()
        assert out == ["ok: 1 pool: web (0-10 units every 30 s, provider simulated)"]

    def test_invalid(self, tmp_path: Path, capsys: Cap) -> None:
        p = tmp_path / "bad.yaml"
        p.write_text(INVALID)
        assert main(["check", str(p)]) == 2
        err = capsys.readouterr().err.splitlines()
        assert err == [
            "pools.0.interval: Input should be greater than or equal to 0.1 (got -5)",
            "pools.0.max: Input should be greater than 0 (got 0)",
            "pools.0.provider.boot_delay: Input should be a valid number (got soon)",
        ]

    def test_missing_file(self, tmp_path: Path, capsys: Cap) -> None:
        assert main(["check", str(tmp_path / "none.yaml")]) == 2
        (line,) = capsys.readouterr().err.splitlines()
        assert line.startswith("(file): cannot read")

    def test_run_refuses_invalid_file(self, tmp_path: Path, capsys: Cap) -> None:
        p = tmp_path / "bad.yaml"
        p.write_text(INVALID.replace("sqlite", "x"))
        assert main(["run", str(p)]) == 2
        assert "Traceback" not in capsys.readouterr().err
        assert not (tmp_path / "fleetscale.db").exists()

    def test_run_needs_a_file(self, capsys: Cap) -> None:
        assert main(["run"]) == 2
        assert capsys.readouterr().err.strip() == "(arguments): run needs FILE or --from-env (got neither)"

    def test_unbuildable_adapter_is_one_line(self, tmp_path: Path, capsys: Cap) -> None:
        p = tmp_path / "c.yaml"
        p.write_text(VALID.replace("JOURNAL", str(tmp_path / "j.db"))
                     .replace("{kind: fixed, value: 3}", f"{{kind: trace, path: {tmp_path / 'no.csv'}}}"))
        assert main(["run", "--once", str(p)]) == 2
        (line,) = capsys.readouterr().err.splitlines()
        assert line.startswith("pools.0.sources.0: cannot build source 'trace'")


class TestOperator:
    """pause / resume / hold write the operator table the controller reads each cycle."""

    def test_pause_hold_resume(self, valid: Path, tmp_path: Path, capsys: Cap) -> None:
        url = f"sqlite:///{tmp_path / 'j.db'}"
        assert main(["run", "--once", "--dry-run", str(valid)]) == 0  # the controller creates the journal
        assert main(["pause", "web", "--direction", "down", "--config", str(valid)]) == 0
        assert main(["hold", "web", "4", "--until", "+2d", "--journal", url]) == 0
        op = SqlJournal(url).operator("web", datetime.now(UTC))
        assert op.paused == {Direction.DOWN}
        assert op.override is not None and op.override.hold == 4
        assert main(["resume", "web", "--journal", url]) == 0
        assert "resumed web (2 pause/hold removed)" in capsys.readouterr().out
        assert SqlJournal(url).operator("web", datetime.now(UTC)).paused == frozenset()

    @pytest.mark.parametrize(
        ("args", "needle"),
        [
            (["hold", "web", "99", "--until", "+1h"], "N: must be within the pool's min..max 0..10 (got 99)"),
            (["hold", "web", "2", "--until", "tomorrow"], "--until: expected an ISO 8601 time"),
            (["hold", "web", "2", "--until", "2099-01-01T00:00:00"], "--until: the time needs a zone"),
            (["pause", "nope"], "pool: no pool named 'nope'"),
        ],
        ids=["above-max", "bad-time", "naive-time", "unknown-pool"],
    )
    def test_errors(self, valid: Path, capsys: Cap, args: list[str], needle: str) -> None:
        assert main([*args, "--config", str(valid)]) == 2
        err = capsys.readouterr().err
        assert needle in err and "Traceback" not in err

    def test_moment(self) -> None:
        now = datetime(2026, 1, 5, tzinfo=UTC)
        assert moment("+90m", now) == datetime(2026, 1, 5, 1, 30, tzinfo=UTC)
        assert moment("2026-01-06T00:00:00+01:00").utcoffset() is not None


class TestExplain:
    """explain prints the journaled cycles; an unknown pool is one line and exit 1."""

    def test_explain_after_run_once(self, valid: Path, capsys: Cap) -> None:
        assert main(["run", "--once", "--dry-run", str(valid)]) == 0
        capsys.readouterr()
        assert main(["explain", "web", "--last", "1", "--config", str(valid)]) == 0
        out = capsys.readouterr().out
        assert "web  [dry run]" in out
        assert "saw:       load=3 (fixed)" in out

    def test_unknown_pool(self, valid: Path, capsys: Cap) -> None:
        assert main(["run", "--once", str(valid)]) == 0
        capsys.readouterr()
        assert main(["explain", "db", "--config", str(valid).replace("fleet", "fleet")]) == 2
        assert main(["explain", "db", "--journal", f"sqlite:///{valid.parent / 'j.db'}"]) == 2
        assert "POOL: the journal has recorded no pool of that name (it has: web)" in capsys.readouterr().err

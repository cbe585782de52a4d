"""Operator commands (hold, explain, pause, resume): absurd values exit 2 with the argument
named; an unknown pool or a missing journal is refused, and no database is ever created as a
side effect."""

from __future__ import annotations

from pathlib import Path

import pytest

from fleetscale.cli import main

Cap = pytest.CaptureFixture[str]

CONFIG = """\
pools:
  - name: web
    max: 10
    interval: 30
    sources: [{kind: fixed, value: 3}]
    provider: {kind: simulated, boot_delay: 0}
journal:
  sql: sqlite:///JOURNAL
"""


@pytest.fixture
def cfg(tmp_path: Path) -> Path:
    p = tmp_path / "fleet.yaml"
    p.write_text(CONFIG.replace("JOURNAL", str(tmp_path / "j.db")))
    return p


@pytest.fixture
def journaled(cfg: Path, capsys: Cap) -> Path:
    """A configuration whose journal exists (the controller ran once)."""
    assert main(["run", "--once", "--dry-run", str(cfg)]) == 0
    capsys.readouterr()
    return cfg


def refused(capsys: Cap, *argv: str) -> list[str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err + captured.out
    assert "internal error" not in captured.err
    assert code == 2, captured
    return captured.err.splitlines()


class TestAbsurdValues:
    """Values that overflowed (OverflowError -> internal error) are refused by name."""

    @pytest.mark.parametrize(
        ("argv", "needle"),
        [
            (["hold", "web", "2", "--until", "+999999999d"], "--until: expected a positive duration"),
            (["hold", "web", "2", "--until", "+" + "9" * 400 + "s"], "--until: expected a positive duration"),
            (["hold", "web", "2", "--until", "9999-12-31T23:59:59Z"],
             "--until: must be in the future and at most"),
            (["hold", "web", "2", "--until", "2001-01-01T00:00:00Z"], "--until: must be in the future"),
            (["hold", "web", "99999999999999999999", "--until", "+1h"], "N: must be from 0 to 1000000"),
            (["hold", "web", "two", "--until", "+1h"], "N: expected a whole number (got two)"),
            (["explain", "web", "--last", "99999999999999999999"], "--last: must be from 1 to 10000"),
            (["explain", "web", "--last", "0"], "--last: must be from 1 to 10000"),
            (["explain", "web", "--last", "x"], "--last: expected a whole number (got x)"),
        ],
        ids=["hold-days", "hold-digits", "hold-year-9999", "hold-past", "hold-units-huge",
             "hold-units-text", "explain-huge", "explain-zero", "explain-text"],
    )
    def test_refused(self, journaled: Path, capsys: Cap, argv: list[str], needle: str) -> None:
        lines = refused(capsys, *argv, "--config", str(journaled))
        assert any(line.startswith(needle) for line in lines), lines

    def test_a_sane_hold_still_works(self, journaled: Path, capsys: Cap) -> None:
        assert main(["hold", "web", "3", "--until", "+2h", "--config", str(journaled)]) == 0
        assert "holding web at 3 units until" in capsys.readouterr().out


class TestUnknownPoolsAndJournals:
    """A typo'd pool or a journal that does not exist is refused; nothing is created."""

    @pytest.mark.parametrize("command", [["pause", "typo-pool"], ["resume", "typo-pool"],
                                         ["hold", "typo-pool", "1", "--until", "+1h"],
                                         ["explain", "typo-pool"]],
                             ids=["pause", "resume", "hold", "explain"])
    def test_no_config_no_journal_creates_nothing(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                  capsys: Cap, command: list[str]) -> None:
        monkeypatch.chdir(tmp_path)
        (line,) = refused(capsys, *command)
        assert line.startswith("--journal (default): no journal at sqlite:///fleetscale.db")
        assert list(tmp_path.iterdir()) == [], "no fleetscale.db created as a side effect"

    def test_configured_pool_without_a_journal(self, cfg: Path, capsys: Cap) -> None:
        (line,) = refused(capsys, "pause", "web", "--config", str(cfg))
        assert line.startswith("journal.sql: no journal at sqlite:///")
        assert not (cfg.parent / "j.db").exists()

    def test_unknown_pool_in_an_existing_journal(self, journaled: Path, capsys: Cap) -> None:
        url = f"sqlite:///{journaled.parent / 'j.db'}"
        (line,) = refused(capsys, "pause", "typo-pool", "--journal", url)
        assert line == ("POOL: the journal has recorded no pool of that name (it has: web); give --config "
                        "to name a configured pool (got typo-pool)")
        assert main(["pause", "web", "--journal", url]) == 0, "a recorded pool is known"

    def test_unknown_pool_in_the_configuration(self, journaled: Path, capsys: Cap) -> None:
        (line,) = refused(capsys, "pause", "typo-pool", "--config", str(journaled))
        assert line.startswith("pool: no pool named 'typo-pool'")

    def test_a_database_that_is_not_a_journal(self, tmp_path: Path, capsys: Cap) -> None:
        import sqlite3

        other = tmp_path / "other.db"
        sqlite3.connect(other).execute("create table t (x int)").connection.commit()
        (line,) = refused(capsys, "pause", "web", "--journal", f"sqlite:///{other}")
        assert "holds no fleetscale journal" in line

    def test_not_a_url(self, capsys: Cap) -> None:
        (line,) = refused(capsys, "pause", "web", "--journal", "not a url")
        assert line == "--journal: not a database URL (got not a url)"


class TestDemoArguments:
    """demo: a non-finite or absurd --interval/--speed/--boot-delay/--drain-time is refused
    (today: a pydantic ValidationError or an OverflowError as an internal error)."""

    @pytest.mark.parametrize("argv", [["--interval", "inf"], ["--speed", "1e308"], ["--speed", "nan"],
                                      ["--drain-time", "inf"], ["--boot-delay", "1e300"]],
                             ids=["interval-inf", "speed-huge", "speed-nan", "drain-inf", "boot-huge"])
    def test_refused(self, capsys: Cap, argv: list[str]) -> None:
        (line,) = refused(capsys, "demo", *argv, "--duration", "1h")
        assert line.startswith(f"{argv[0]}: must be a finite number from "), line

"""Provider ``local`` settings: ``check`` refuses a state directory that cannot hold files and a
program that cannot be found, naming the field as written (``pools.0.provider.state_dir``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from fleetscale import config
from fleetscale.cli import main
from fleetscale.errors import ConfigError


def problems(provider: dict[str, object]) -> list[str]:
    doc = {"pools": [{"name": "gw", "max": 3, "provider": {"kind": "local", **provider}}]}
    with pytest.raises(ConfigError) as err:
        config.parse(doc)
    return err.value.problems


class TestStateDir:
    """A state_dir that is a file, under a file, or under /proc, /sys or /dev is refused."""

    def test_a_file(self, tmp_path: Path) -> None:
        f = tmp_path / "state"
        f.write_text("x")
        [line] = problems({"state_dir": str(f)})
        assert line.startswith("pools.0.provider.state_dir: is a file, not a directory")
        assert str(f) in line

    def test_under_a_file(self, tmp_path: Path) -> None:
        f = tmp_path / "state"
        f.write_text("x")
        [line] = problems({"state_dir": str(f / "sub" / "dir")})
        assert line.startswith(f"pools.0.provider.state_dir: {f} is a file, not a directory")

    @pytest.mark.parametrize("path", ["/proc/fleetscale", "/proc", "/sys/kernel/x", "/dev/null"],
                             ids=["proc-child", "proc", "sys", "dev-null"])
    def test_pseudo_filesystems(self, path: str) -> None:
        [line] = problems({"state_dir": path})
        assert line.startswith("pools.0.provider.state_dir: must not be under /proc, /sys or /dev")

    def test_nul_byte(self) -> None:
        [line] = problems({"state_dir": "state\0dir"})
        assert line.startswith("pools.0.provider.state_dir:")

    def test_a_new_directory_is_fine(self, tmp_path: Path) -> None:
        doc = {"pools": [{"name": "gw", "max": 3,
                          "provider": {"kind": "local", "state_dir": str(tmp_path / "new" / "dir")}}]}
        assert config.parse(doc).provider_settings("gw").state_dir == tmp_path / "new" / "dir"


class TestCommand:
    """A program written in the configuration must be found; placeholders are left to run time."""

    def test_not_on_path(self) -> None:
        [line] = problems({"command": ["no-such-gateway-xyz", "{port}"]})
        assert line.startswith("pools.0.provider.command: program 'no-such-gateway-xyz' not found on PATH")

    def test_absolute_path_missing(self, tmp_path: Path) -> None:
        [line] = problems({"command": [str(tmp_path / "gw.sh")]})
        assert "does not exist or is not executable" in line and line.startswith("pools.0.provider.command:")

    def test_absolute_path_not_executable(self, tmp_path: Path) -> None:
        script = tmp_path / "gw.sh"
        script.write_text("#!/bin/sh\n")
        [line] = problems({"command": [str(script)]})
        assert "not executable" in line

    def test_per_type_command(self) -> None:
        [line] = problems({"commands": {"big": ["no-such-gateway-xyz"]}})
        assert line.startswith("pools.0.provider.commands: big: program 'no-such-gateway-xyz' not found")

    def test_empty_per_type_command(self) -> None:
        [line] = problems({"commands": {"big": []}})
        assert line.startswith("pools.0.provider.commands: big: the command is empty")

    @pytest.mark.parametrize("argv", [["sleep", "10"], ["{data}/gw", "x"], ["./gw.sh"]],
                             ids=["on-path", "placeholder", "relative"])
    def test_accepted(self, argv: list[str]) -> None:
        doc = {"pools": [{"name": "gw", "max": 3, "provider": {"kind": "local", "command": argv}}]}
        assert config.parse(doc).provider_settings("gw").command == argv

    def test_default_sipp_is_not_checked(self) -> None:
        """The default is checked at run time (boot failures), so configs check without sipp."""
        doc = {"pools": [{"name": "gw", "max": 3, "provider": {"kind": "local"}}]}
        assert config.parse(doc).provider_settings("gw").command[0] == "sipp"

    @pytest.mark.parametrize("field", ["boot_window", "boot_backoff", "boot_backoff_max"])
    def test_backoff_numbers_bounded(self, field: str) -> None:
        [line] = problems({field: 1e12})
        assert line.startswith(f"pools.0.provider.{field}:")


class TestCheckCommand:
    """``fleetscale check`` exits 2 and names the field; no traceback."""

    @pytest.mark.parametrize(("option", "field"), [
        ("state_dir: /proc/fleetscale", "pools.0.provider.state_dir"),
        ("command: [no-such-gateway-xyz]", "pools.0.provider.command"),
    ], ids=["state-dir-proc", "missing-program"])
    def test_exit_2_naming_the_field(self, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                     option: str, field: str) -> None:
        p = tmp_path / "c.yaml"
        p.write_text(f"pools:\n  - name: gw\n    max: 3\n    provider:\n      kind: local\n      {option}\n")
        assert main(["check", str(p)]) == 2
        err = capsys.readouterr().err
        assert field in err and "Traceback" not in err

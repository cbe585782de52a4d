"""Settings of the ``local`` provider, and the checks ``fleetscale check`` makes on them: a
``state_dir`` that can hold files (not a file, not under /proc, /sys or /dev) and a program
written in the configuration that can be found (a bare name on PATH, an absolute path that is an
executable file). A program whose name holds a placeholder, or a relative path (resolved in the
instance's working directory), is only known at run time, where a process that cannot start is
a boot failure (see ``local.py``). The default sipp command is not checked either, so a
configuration can be checked on a machine without sipp.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, PositiveFloat, PositiveInt, field_validator

SIPP_GATEWAY = [
    "sipp", "{registrar}", "-sf", "{data}/gw_register.xml", "-oocsf", "{data}/gw_uas.xml",
    "-key", "user", "{id}", "-key", "contact", "{address}", "-key", "expires", "{expires}",
    "-d", "{refresh_ms}", "-i", "{host}", "-p", "{port}", "-m", "1", "-nostdin", "-timeout", "{lifetime}s",
]


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    #: argv template of one instance (default: the sipp SIP gateway)
    command: list[str] = Field(default_factory=lambda: list(SIPP_GATEWAY), min_length=1)
    #: per instance type, an argv template replacing ``command``
    commands: dict[str, list[str]] = Field(default_factory=dict)
    host: str = "127.0.0.1"
    registrar: str = "127.0.0.1:5060"
    #: registration lifetime the gateway asks for, seconds (refreshed every expires/2)
    expires: PositiveInt = 10
    #: seconds a process may live at most
    lifetime: PositiveInt = 3600
    name_prefix: str = Field(default="gw-", pattern=r"^[A-Za-z0-9_.-]{0,32}$")
    state_dir: Path = Path(".services/local-provider")
    stop_grace: PositiveFloat = 5.0
    #: a process that dies before it has run this many seconds is a boot failure
    boot_window: PositiveFloat = Field(default=10.0, le=3600)
    #: seconds launches are refused after a boot failure; doubles per failure in a row
    boot_backoff: PositiveFloat = Field(default=10.0, le=3600)
    boot_backoff_max: PositiveFloat = Field(default=300.0, le=86400)

    @field_validator("state_dir")
    @classmethod
    def _usable_dir(cls, value: Path) -> Path:
        problem = state_dir_problem(value)
        if problem:
            raise ValueError(problem)
        return value

    @field_validator("command")
    @classmethod
    def _command_found(cls, value: list[str]) -> list[str]:
        problem = program_problem(value)
        if problem:
            raise ValueError(problem)
        return value

    @field_validator("commands")
    @classmethod
    def _commands_found(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        for type_name, argv in value.items():
            if not argv:
                raise ValueError(f"{type_name}: the command is empty")
            problem = program_problem(argv)
            if problem:
                raise ValueError(f"{type_name}: {problem}")
        return value


def state_dir_problem(value: Path) -> str | None:
    """Why ``value`` cannot hold the state files, or None."""
    if "\0" in str(value):
        return "the path contains a NUL byte"
    path = value.expanduser().resolve()
    if any(path == Path(root) or Path(root) in path.parents for root in ("/proc", "/sys", "/dev")):
        return "must not be under /proc, /sys or /dev"
    probe = path
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if not probe.is_dir():
        return "is a file, not a directory" if probe == path else f"{probe} is a file, not a directory"
    return None


def program_problem(argv: list[str]) -> str | None:
    """Why the program of ``argv`` cannot be run, when that can be told now; else None."""
    program = argv[0] if argv else ""
    if not program or "{" in program:
        return None if program else "the program name is empty"
    if os.sep not in program:
        return None if shutil.which(program) else f"program {program!r} not found on PATH"
    if not os.path.isabs(program):
        return None  # relative to the instance's working directory: only known at run time
    if not os.path.isfile(program) or not os.access(program, os.X_OK):
        return f"program {program!r} does not exist or is not executable"
    return None

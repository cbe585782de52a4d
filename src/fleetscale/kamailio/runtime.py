"""Running a Kamailio 5.6 registrar for gateways: the shipped config and its database schema.

Used by the end-to-end tests and by demos. Production deployments bring their own Kamailio;
fleetscale only needs the tables and RPC methods described in ``docs/sip-gateways.md``.

- ``render_config`` fills the ``@@NAME@@`` tokens of ``data/kamailio/kamailio.cfg``.
- ``load_schema`` creates Kamailio's ``version``, ``location`` (usrloc), ``dispatcher`` and
  ``dialog`` tables from the SQL files the ``kamailio-mysql-modules`` package ships.
- ``command`` is the argv that starts Kamailio in the foreground with absolute ``-P``/``-Y``
  paths (Kamailio chdirs to ``/``) and logs to stderr.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

SCHEMA_DIR = Path("/usr/share/kamailio/mysql")
SCHEMA_FILES = ("standard", "usrloc", "dispatcher", "dialog")
MODULES_DIR = Path("/usr/lib/x86_64-linux-gnu/kamailio/modules")


def data_file(name: str) -> Path:
    """Absolute path of a shipped Kamailio/sipp file (``kamailio.cfg``, ``gw_uas.xml``, ...)."""
    return Path(str(resources.files("fleetscale") / "data" / "kamailio" / name))


@dataclass(frozen=True, slots=True)
class KamailioLayout:
    """Where one Kamailio instance listens and keeps its runtime files."""

    db_url: str  # Kamailio's own form: mysql://user:password@host:port/database
    state_dir: Path
    host: str = "127.0.0.1"
    sip_port: int = 5060
    ctl_port: int = 2049
    setid: int = 1
    ul_timer: int = 5
    reload_delta: int = 0
    #: evapi (events for fleetscale: registrations and calls), TCP on host
    evapi_port: int = 8448

    @property
    def cfg_path(self) -> Path:
        return self.state_dir / "kamailio.cfg"

    @property
    def pid_path(self) -> Path:
        return self.state_dir / "kamailio.pid"

    @property
    def rpc_url(self) -> str:
        return f"http://{self.host}:{self.sip_port}/RPC"

    @property
    def registrar(self) -> str:
        return f"{self.host}:{self.sip_port}"


def render_config(layout: KamailioLayout, template: str | None = None) -> str:
    text = template if template is not None else data_file("kamailio.cfg").read_text(encoding="utf-8")
    tokens = {
        "HOST": layout.host,
        "SIP_PORT": str(layout.sip_port),
        "CTL_PORT": str(layout.ctl_port),
        "DBURL": layout.db_url,
        "SETID": str(layout.setid),
        "UL_TIMER": str(layout.ul_timer),
        "RELOAD_DELTA": str(layout.reload_delta),
        "EVAPI_PORT": str(layout.evapi_port),
        "MPATH": str(MODULES_DIR) + "/",
    }
    for name, value in tokens.items():
        text = text.replace(f"@@{name}@@", value)
    return text


def write_config(layout: KamailioLayout) -> Path:
    layout.state_dir.mkdir(parents=True, exist_ok=True)
    layout.cfg_path.write_text(render_config(layout), encoding="utf-8")
    return layout.cfg_path


def command(layout: KamailioLayout, binary: str = "kamailio") -> list[str]:
    state = layout.state_dir.resolve()
    return [binary, "-f", str(layout.cfg_path.resolve()), "-Y", str(state), "-P",
            str(layout.pid_path.resolve()), "-DD", "-E"]


def schema_statements(names: Iterable[str] = SCHEMA_FILES, directory: Path = SCHEMA_DIR) -> list[str]:
    """The SQL statements of Kamailio's ``<name>-create.sql`` files, in order."""
    statements: list[str] = []
    for name in names:
        text = (directory / f"{name}-create.sql").read_text(encoding="utf-8")
        statements.extend(s.strip() for s in text.split(";\n") if s.strip())
    return statements


def load_schema(cursor: Any, names: Iterable[str] = SCHEMA_FILES, directory: Path = SCHEMA_DIR) -> None:
    """Create Kamailio's tables through a DB-API cursor connected to the target database."""
    for statement in schema_statements(names, directory):
        cursor.execute(statement.rstrip(";"))

"""Provider ``local``: each instance is a process on this machine (demos and end-to-end tests).

The default command is a SIP gateway made of sipp: it registers ``<id>@127.0.0.1:<port>`` with
the registrar (refreshing every ``expires / 2`` seconds) and answers calls on its own port.
Any other command can be configured, per instance type if wanted, with the placeholders
``{id} {host} {port} {address} {registrar} {expires} {refresh_ms} {lifetime} {data}``.

Every process is bounded in time: it runs under ``timeout -k 5 <lifetime>`` (and sipp's own
``-timeout``). It is stopped by its own pid (SIGTERM, then SIGKILL to its own process group after
``stop_grace`` seconds), never by name. The instance address is ``host:port``.

Instances are recorded in ``<state_dir>/<pool>.json`` (id, pid, port, type, request id,
launch time, process start time), so a restarted fleetscale lists, adopts and stops the
processes it started; a recorded pid is trusted only while the process with that pid has the
recorded start time (a reused pid is not mistaken for the instance).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import structlog
from pydantic import BaseModel, ConfigDict, Field, PositiveFloat, PositiveInt

from fleetscale.errors import ProviderError
from fleetscale.kamailio.runtime import data_file
from fleetscale.model import Instance, InstanceState

log = structlog.get_logger(__name__)

POOL_TAG = "fleetscale:pool"
REQUEST_TAG = "fleetscale:request"

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


@dataclass(frozen=True, slots=True)
class Record:
    id: str
    type: str
    pid: int
    port: int
    request_id: str
    launched_at: str
    #: the process's start time (clock ticks after boot, /proc/<pid>/stat field 22): a recorded
    #: pid is trusted only while a process with that pid and that start time exists
    start_ticks: int | None = None


class LocalProvider:
    def __init__(self, settings: Settings, pool: str, clock: Any,
                 weights: dict[str, int] | None = None) -> None:
        self.settings = settings
        self.pool = pool
        self.clock = clock
        self.weights = weights or {}
        self.state_dir = settings.state_dir.resolve()
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self._children: dict[int, subprocess.Popen[bytes]] = {}

    # --- Provider port -----------------------------------------------------------------

    def list(self) -> list[Instance]:
        records = self._load()
        alive = [r for r in records if self._alive(r)]
        if len(alive) != len(records):
            self._save(alive)
        return [self._instance(r) for r in alive]

    def launch(self, type: str, count: int, request_id: str) -> list[Instance]:
        if count <= 0:
            return []
        records = [r for r in self._load() if self._alive(r)]
        done = [r for r in records if r.request_id == request_id and r.type == type]
        started: list[Record] = []
        try:
            for _ in range(max(0, count - len(done))):
                started.append(self._start(type, request_id, {r.port for r in records + started}))
        finally:
            self._save(records + started)
        return [self._instance(r) for r in done + started]

    def terminate(self, ids: Sequence[str], request_id: str) -> None:
        wanted = set(ids)
        records = self._load()
        for record in records:
            if record.id in wanted:
                self._stop(record)
        self._save([r for r in records if r.id not in wanted and self._alive(r)])

    def close(self) -> None:
        """Forget the process handles; the processes keep running (they are the fleet)."""
        self._children.clear()

    # --- processes -----------------------------------------------------------------------

    def _start(self, type: str, request_id: str, taken: set[int]) -> Record:
        s = self.settings
        instance_id = f"{s.name_prefix}{uuid.uuid4().hex[:8]}"
        port = _free_udp_port(s.host, taken)
        values = {"id": instance_id, "host": s.host, "port": str(port), "address": f"{s.host}:{port}",
                  "registrar": s.registrar, "expires": str(s.expires),
                  "refresh_ms": str(max(500, s.expires * 500)), "lifetime": str(s.lifetime),
                  "data": str(data_file("")).rstrip("/")}
        template = s.commands.get(type, s.command)
        try:
            argv = [part.format(**values) for part in template]
        except (KeyError, IndexError, ValueError) as exc:
            raise ProviderError(f"local: bad placeholder in command {template}: {exc}") from exc
        workdir = self.state_dir / instance_id
        workdir.mkdir(parents=True, exist_ok=True)
        argv = ["timeout", "-k", "5", str(s.lifetime), *argv]
        try:
            with (workdir / "output.log").open("wb") as out:
                proc = subprocess.Popen(argv, cwd=workdir, stdin=subprocess.DEVNULL, stdout=out,
                                        stderr=subprocess.STDOUT, start_new_session=True)
        except OSError as exc:
            raise ProviderError(f"local: cannot start {argv[4] if len(argv) > 4 else argv}: {exc}") from exc
        self._children[proc.pid] = proc
        (workdir / "argv.json").write_text(json.dumps(argv), encoding="utf-8")
        log.info("local instance started", instance=instance_id, pid=proc.pid, port=port, type=type)
        return Record(instance_id, type, proc.pid, port, request_id, self.clock.now().isoformat(),
                      _start_ticks(proc.pid))

    def _alive(self, record: Record) -> bool:
        child = self._children.get(record.pid)
        if child is not None:
            return child.poll() is None
        fields = _stat(record.pid)
        if fields is None or fields[0] in ("Z", "X"):
            return False
        if record.start_ticks is not None:
            return int(fields[19]) == record.start_ticks
        try:  # a record written without a start time: the command line must name the instance
            return record.id.encode() in Path(f"/proc/{record.pid}/cmdline").read_bytes()
        except OSError:
            return False

    def _stop(self, record: Record) -> None:
        if not self._alive(record):
            return
        try:
            os.kill(record.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + self.settings.stop_grace
        while time.monotonic() < deadline and self._alive(record):
            time.sleep(0.05)
        if self._alive(record):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(record.pid, signal.SIGKILL)  # its own group: start_new_session made it leader
        child = self._children.pop(record.pid, None)
        if child is not None:
            try:
                child.wait(timeout=5)
            except subprocess.TimeoutExpired as exc:
                raise ProviderError(f"local: process {record.pid} of {record.id} did not stop") from exc
        log.info("local instance stopped", instance=record.id, pid=record.pid)

    # --- state file ----------------------------------------------------------------------

    @property
    def _state_file(self) -> Path:
        return self.state_dir / f"{self.pool}.json"

    def _load(self) -> list[Record]:
        try:
            data = json.loads(self._state_file.read_text(encoding="utf-8"))
            return [Record(**item) for item in data.get("instances", [])]
        except FileNotFoundError:
            return []
        except (OSError, ValueError, TypeError, AttributeError) as exc:
            raise ProviderError(f"local: unreadable state file {self._state_file}: {exc}") from exc

    def _save(self, records: list[Record]) -> None:
        tmp = self._state_file.with_suffix(".tmp")
        payload = {"pool": self.pool, "instances": [asdict(r) for r in records]}
        tmp.write_text(json.dumps(payload, indent=1), encoding="utf-8")
        tmp.replace(self._state_file)

    def _instance(self, record: Record) -> Instance:
        return Instance(
            id=record.id, type=record.type, state=InstanceState.READY,
            weight=self.weights.get(record.type, 1),
            launched_at=datetime.fromisoformat(record.launched_at),
            address=f"{self.settings.host}:{record.port}",
            tags={POOL_TAG: self.pool, REQUEST_TAG: record.request_id},
        )


def _stat(pid: int) -> list[str] | None:
    """The fields of /proc/<pid>/stat after the command name (state first), or None."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text.rsplit(")", 1)[-1].split() if ")" in text else None


def _start_ticks(pid: int) -> int | None:
    fields = _stat(pid)
    return int(fields[19]) if fields and len(fields) > 19 else None


def _free_udp_port(host: str, taken: set[int], attempts: int = 50) -> int:
    for _ in range(attempts):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.bind((host, 0))
            port = int(s.getsockname()[1])
        if port not in taken:
            return port
    raise ProviderError(f"local: no free UDP port on {host} after {attempts} attempts")


def build(settings: Settings, ctx: Any) -> LocalProvider:
    weights = {t.name: t.weight for t in ctx.pool.types()}
    return LocalProvider(settings, ctx.pool.name, ctx.clock, weights)

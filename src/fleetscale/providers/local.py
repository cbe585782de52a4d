"""Provider ``local``: each instance is a process on this machine (demos and end-to-end tests).

The default command is a SIP gateway made of sipp: it registers ``<id>@127.0.0.1:<port>`` with
the registrar (refreshing every ``expires / 2`` seconds) and answers calls on its own port.
Any other command can be configured, per instance type if wanted, with the placeholders
``{id} {host} {port} {address} {registrar} {expires} {refresh_ms} {lifetime} {data}``.

Every process is bounded in time: it runs under ``timeout -k 5 <lifetime>`` (and sipp's own
``-timeout``). It is stopped by its own pid (SIGTERM, then SIGKILL to its own process group after
``stop_grace`` seconds), never by name. The instance address is ``host:port``.

Instances are recorded in ``<state_dir>/<pool>.json`` (id, pid, port, type, request id,
launch time, process start time), written *ahead* of each process start, so a restarted
fleetscale lists, adopts and stops the processes it started, even those a SIGKILL in the middle
of a launch left behind (see ``local_state.py``); a recorded pid is trusted only while the
process with that pid has the recorded start time (a reused pid is not mistaken for the instance).

Boot failures: an instance whose process dies before it has run ``boot_window`` seconds is a
boot failure (a command that does not exist, a port in use, a crash at start). After one,
``launch`` refuses with a ProviderError naming the cause (exit status, last line of output)
until a backoff has passed (``boot_backoff`` seconds, doubling per failure in a row, at most
``boot_backoff_max``): the cycle shows the error instead of relaunching silently every cycle.
An instance that lives past ``boot_window`` resets the count.

``check`` refuses a ``state_dir`` that is a file (or under one) or under /proc or /sys, and a
``command``/``commands`` program written in the configuration that cannot be found (a bare name
not on PATH, an absolute path that does not exist). The default sipp command is checked at run
time only (boot failures), so configurations stay checkable on machines without sipp.
"""

from __future__ import annotations

import builtins
import contextlib
import json
import os
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import structlog

from fleetscale.errors import ProviderError
from fleetscale.kamailio.runtime import data_file
from fleetscale.model import Instance, InstanceState
from fleetscale.providers.local_settings import SIPP_GATEWAY as SIPP_GATEWAY
from fleetscale.providers.local_settings import Settings as Settings
from fleetscale.providers.local_state import Record, StateFile, start_ticks, stat_fields

log = structlog.get_logger(__name__)

POOL_TAG = "fleetscale:pool"
REQUEST_TAG = "fleetscale:request"


@dataclass
class BootFailures:
    """Boot failures in a row, the last one's cause and time (reset by a process that lives)."""

    count: int = 0
    cause: str = ""
    at: datetime | None = None

    def wait(self, settings: Settings, now: datetime) -> float:
        """Seconds launches are still refused, 0 when they may go ahead."""
        if self.count == 0 or self.at is None:
            return 0.0
        backoff = min(settings.boot_backoff_max, settings.boot_backoff * float(2 ** min(self.count - 1, 30)))
        return max(0.0, backoff - (now - self.at).total_seconds())


class LocalProvider:
    def __init__(self, settings: Settings, pool: str, clock: Any,
                 weights: dict[str, int] | None = None) -> None:
        self.settings = settings
        self.pool = pool
        self.clock = clock
        self.weights = weights or {}
        self.state_dir = settings.state_dir.resolve()
        try:
            self.state_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ProviderError(f"local: cannot create state_dir {self.state_dir}: {exc}") from exc
        self.state = StateFile(self.state_dir / f"{pool}.json")
        self._children: dict[int, subprocess.Popen[bytes]] = {}
        #: instances started here that have not yet lived ``boot_window`` seconds -> start time
        self._booting: dict[str, datetime] = {}
        self.boot = BootFailures()
        self._swept = False

    # --- Provider port -----------------------------------------------------------------

    def list(self) -> builtins.list[Instance]:
        with self.state.locked():
            records = self._live(self._load())
        return [self._instance(r) for r in records]

    def launch(self, type: str, count: int, request_id: str) -> builtins.list[Instance]:
        if count <= 0:
            return []
        with self.state.locked():
            records = self._live(self._load())
            done = [r for r in records if r.request_id == request_id and r.type == type]
            missing = max(0, count - len(done))
            wait = self.boot.wait(self.settings, self.clock.now()) if missing else 0.0
            if wait > 0:
                raise ProviderError(
                    f"local: {self.boot.count} instance(s) in a row died while booting "
                    f"(last: {self.boot.cause}); next launch in {wait:.0f} s")
            started: builtins.list[Record] = []
            for _ in range(missing):
                started.append(self._start(type, request_id, records + started))
        return [self._instance(r) for r in done + started]

    def terminate(self, ids: Sequence[str], request_id: str) -> None:
        wanted = set(ids)
        with self.state.locked():
            records = self._load()
            for record in records:
                if record.id in wanted:
                    self._booting.pop(record.id, None)
                    self._stop(record)
            self._save([r for r in records if r.id not in wanted and self._alive(r)])

    def close(self) -> None:
        """Forget the process handles; the processes keep running (they are the fleet)."""
        self._children.clear()

    # --- records -----------------------------------------------------------------------

    def _load(self) -> builtins.list[Record]:
        """The records, after adopting or killing what a crash left (on first use and while
        an intent is open)."""
        records = self.state.load()
        if not self._swept or any(r.pid is None for r in records):
            swept, adopted, killed = self.state.sweep(records)
            self._swept = True
            if swept != records:
                self._save(swept)
            records = swept
            if adopted or killed:
                log.warning("local provider cleaned up after a crash", pool=self.pool,
                            adopted=adopted, killed=killed)
        return records

    def _save(self, records: builtins.list[Record]) -> None:
        self.state.save(self.pool, records)

    def _live(self, records: builtins.list[Record]) -> builtins.list[Record]:
        """The records whose process runs (the file is rewritten without the others); a
        process that died while booting counts as a boot failure."""
        alive = [r for r in records if self._alive(r)]
        now = self.clock.now()
        for record in records:
            started = self._booting.get(record.id)
            if started is None:
                continue
            if record not in alive:
                self._booting.pop(record.id)
                self._boot_failed(record, now)
            elif (now - started).total_seconds() >= self.settings.boot_window:
                self._booting.pop(record.id)
                self.boot = BootFailures()
        if len(alive) != len(records):
            self._save(alive)
        return alive

    def _boot_failed(self, record: Record, now: datetime) -> None:
        child = self._children.pop(record.pid, None) if record.pid is not None else None
        status = child.poll() if child is not None else None
        cause = f"{record.id} exited" + (f" with status {status}" if status is not None else "")
        last = _last_line(self.state_dir / record.id / "output.log")
        if last:
            cause += f": {last}"
        self.boot = BootFailures(self.boot.count + 1, cause, now)
        log.error("local instance died while booting", pool=self.pool, instance=record.id,
                  failures=self.boot.count, cause=cause)

    # --- processes -----------------------------------------------------------------------

    def _start(self, type: str, request_id: str, records: builtins.list[Record]) -> Record:
        """Start one process, recorded ahead: the intent, then the pid (``records`` gains it)."""
        s = self.settings
        instance_id = f"{s.name_prefix}{uuid.uuid4().hex[:8]}"
        port = _free_udp_port(s.host, {r.port for r in records})
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
        (workdir / "argv.json").write_text(json.dumps(argv), encoding="utf-8")
        intent = Record(instance_id, type, None, port, request_id, self.clock.now().isoformat())
        records.append(intent)
        self._save(records)  # write-ahead: a crash from here on is found by the sweep
        env = {**os.environ, **self.state.marks(instance_id)}
        try:
            with (workdir / "output.log").open("wb") as out:
                proc = subprocess.Popen(argv, cwd=workdir, stdin=subprocess.DEVNULL, stdout=out,
                                        stderr=subprocess.STDOUT, start_new_session=True, env=env)
        except OSError as exc:
            records.remove(intent)
            self._save(records)
            raise ProviderError(f"local: cannot start {argv[4] if len(argv) > 4 else argv}: {exc}") from exc
        self._children[proc.pid] = proc
        record = replace(intent, pid=proc.pid, start_ticks=start_ticks(proc.pid))
        records[-1] = record
        self._save(records)
        self._booting[instance_id] = self.clock.now()
        log.info("local instance started", instance=instance_id, pid=proc.pid, port=port, type=type)
        return record

    def _alive(self, record: Record) -> bool:
        if record.pid is None:
            return False
        child = self._children.get(record.pid)
        if child is not None:
            return child.poll() is None
        fields = stat_fields(record.pid)
        if fields is None or fields[0] in ("Z", "X"):
            return False
        if record.start_ticks is not None:
            return int(fields[19]) == record.start_ticks
        try:  # a record written without a start time: the command line must name the instance
            return record.id.encode() in Path(f"/proc/{record.pid}/cmdline").read_bytes()
        except OSError:
            return False

    def _stop(self, record: Record) -> None:
        if record.pid is None or not self._alive(record):
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

    def _instance(self, record: Record) -> Instance:
        return Instance(
            id=record.id, type=record.type, state=InstanceState.READY,
            weight=self.weights.get(record.type, 1),
            launched_at=datetime.fromisoformat(record.launched_at),
            address=f"{self.settings.host}:{record.port}",
            tags={POOL_TAG: self.pool, REQUEST_TAG: record.request_id},
        )


def _last_line(path: Path, limit: int = 200) -> str:
    """The last non-blank line of a process's output (at most ``limit`` characters)."""
    try:
        with path.open("rb") as f:
            f.seek(max(0, path.stat().st_size - 4096))
            tail = f.read().decode(errors="replace")
    except OSError:
        return ""
    lines = [ln.strip() for ln in tail.splitlines() if ln.strip()]
    return lines[-1][:limit] if lines else ""

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

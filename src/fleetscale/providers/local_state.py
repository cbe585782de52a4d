"""The ``local`` provider's durable record of its processes, and how a crash is cleaned up.

``<state_dir>/<pool>.json`` lists one ``Record`` per instance. It is written ahead of every
process start: first the *intent* (id, type, port, request id, ``pid: null``), fsynced and
atomically renamed into place, then the process is spawned, then the record is rewritten with
its pid and start time. Every process carries two environment variables naming the state file
and its instance id (``MARK_STATE``, ``MARK_ID``), so a process whose pid never reached the file
(the provider was SIGKILLed between the spawn and the second write) can still be found in
``/proc/<pid>/environ``.

``sweep()`` (the first time a provider touches the file, and whenever an intent is open):

- an intent whose process is running (found by its marks) is **adopted**: its pid and start
  time are filled in;
- an intent with no process is dropped (the spawn never happened, or the process is gone);
- a marked process of this state file that no record names is **killed** (its process group,
  SIGKILL): nothing a crash left keeps running untracked.

``locked()`` holds an exclusive ``flock`` on ``<pool>.lock`` around each read-modify-write, so
two fleetscale processes (``run`` and an operator command) never overwrite each other's records.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
from collections.abc import Iterator
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import structlog

from fleetscale.errors import ProviderError

log = structlog.get_logger(__name__)

#: environment variables every local process carries: the state file's path and its instance id
MARK_STATE = "FLEETSCALE_LOCAL_STATE"
MARK_ID = "FLEETSCALE_LOCAL_ID"


@dataclass(frozen=True, slots=True)
class Record:
    id: str
    type: str
    #: None while only the intent is written (the process may or may not have started)
    pid: int | None
    port: int
    request_id: str
    launched_at: str
    #: the process's start time (clock ticks after boot, /proc/<pid>/stat field 22): a recorded
    #: pid is trusted only while a process with that pid and that start time exists
    start_ticks: int | None = None


@dataclass(frozen=True, slots=True)
class Marked:
    """A running process that carries the marks of one state file."""

    pid: int
    instance_id: str
    #: the process leads its own group (the ``timeout`` wrapper the provider spawned)
    leader: bool


class StateFile:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock_path = path.with_suffix(".lock")

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        try:
            fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise ProviderError(f"local: cannot open lock file {self._lock_path}: {exc}") from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing releases the lock

    def load(self) -> list[Record]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            return [Record(**item) for item in data.get("instances", [])]
        except FileNotFoundError:
            return []
        except (OSError, ValueError, TypeError, AttributeError) as exc:
            raise ProviderError(f"local: unreadable state file {self.path}: {exc}") from exc

    def save(self, pool: str, records: list[Record]) -> None:
        """Atomically replace the file (write, fsync, rename, fsync the directory)."""
        tmp = self.path.with_suffix(".tmp")
        payload = json.dumps({"pool": pool, "instances": [asdict(r) for r in records]}, indent=1)
        try:
            with tmp.open("w", encoding="utf-8") as out:
                out.write(payload)
                out.flush()
                os.fsync(out.fileno())
            tmp.replace(self.path)
            dir_fd = os.open(self.path.parent, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
        except OSError as exc:
            raise ProviderError(f"local: cannot write state file {self.path}: {exc}") from exc

    def marks(self, instance_id: str) -> dict[str, str]:
        return {MARK_STATE: str(self.path), MARK_ID: instance_id}

    def sweep(self, records: list[Record]) -> tuple[list[Record], list[str], list[str]]:
        """Adopt running processes of open intents, drop intents with none, kill marked
        processes no record names. Returns (records, adopted ids, killed ids)."""
        found: dict[str, list[Marked]] = {}
        for m in marked_processes(str(self.path)):
            found.setdefault(m.instance_id, []).append(m)
        out: list[Record] = []
        adopted: list[str] = []
        for record in records:
            if record.pid is not None:
                out.append(record)
                continue
            procs = sorted(found.get(record.id, []), key=lambda m: (not m.leader, m.pid))
            if not procs:
                log.info("local intent without a process dropped", instance=record.id)
                continue
            pid = procs[0].pid
            out.append(replace(record, pid=pid, start_ticks=start_ticks(pid)))
            adopted.append(record.id)
            log.warning("local process a crash left adopted", instance=record.id, pid=pid)
        named = {r.id for r in out}
        killed: list[str] = []
        for instance_id, procs in sorted(found.items()):
            if instance_id in named:
                continue
            for m in procs:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    if m.leader:
                        os.killpg(m.pid, signal.SIGKILL)
                    else:
                        os.kill(m.pid, signal.SIGKILL)
            killed.append(instance_id)
            log.warning("local process no record names killed", instance=instance_id,
                        pids=[m.pid for m in procs])
        return out, adopted, killed


def stat_fields(pid: int) -> list[str] | None:
    """The fields of /proc/<pid>/stat after the command name (state first), or None."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text.rsplit(")", 1)[-1].split() if ")" in text else None


def start_ticks(pid: int) -> int | None:
    fields = stat_fields(pid)
    return int(fields[19]) if fields and len(fields) > 19 else None


def marked_processes(state_path: str) -> list[Marked]:
    """Running (not zombie) processes whose environment names ``state_path``."""
    want = f"{MARK_STATE}={state_path}".encode()
    id_key = f"{MARK_ID}=".encode()
    out: list[Marked] = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        pid = int(entry.name)
        try:
            env = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if want not in env:
            continue
        fields = stat_fields(pid)
        if fields is None or fields[0] in ("Z", "X"):
            continue
        ident = next((v[len(id_key):].decode(errors="replace") for v in env if v.startswith(id_key)), "")
        if ident:
            out.append(Marked(pid, ident, leader=fields[2] == str(pid)))
    return out

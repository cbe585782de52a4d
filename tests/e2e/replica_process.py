"""One controller replica for the replica tests (``tests/e2e/test_replicas.py``).

``python -m tests.e2e.replica_process CONFIG AUDIT`` builds the controller exactly as
``fleetscale run`` does (``app.build_controller``) and runs it until SIGTERM. Beside it:

- every provider and drainer call the replica makes is appended to ``AUDIT`` (one JSON line:
  replica, monotonic time, pool, the runner's lease token, operation, ids), so the test can
  count launches, drains and terminations per replica and per token from outside;
- every 50 ms it prints one JSON line on stdout: its monotonic time and the pools it may act
  on now (the runner's token, while the coordinator holds the lease under that same token and
  says ``may_act``). The first line names the replica.

The drainer kind ``sharedfile`` is the crash tests' ``crashfile`` drainer whose session counts
come from ``<path>.sessions`` (``{"*": n}`` or per instance id), written only by the test.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

from fleetscale import registry
from fleetscale.app import build_controller
from fleetscale.config import load
from fleetscale.journal.log import configure_logging
from fleetscale.model import Instance
from fleetscale.providers.local import LocalProvider
from tests.contract.crash_controller import FileDrainer, Settings


class SharedFileDrainer(FileDrainer):
    def sessions(self, instance: Instance) -> int | None:
        try:
            counts = json.loads(Path(f"{self.path}.sessions").read_text())
        except (OSError, ValueError):
            return 0
        return int(counts.get(instance.id, counts.get("*", 0)))


def build(settings: Settings, ctx: Any) -> SharedFileDrainer:
    return SharedFileDrainer(settings.path)


def _audited(audit: str, replica: str, tokens: dict[str, Any]) -> None:
    """Wrap the provider's and the drainer's calls: each one appends a line to ``audit``."""
    def note(pool: str, op: str, ids: list[str]) -> None:
        runner = tokens.get(pool)
        line = json.dumps({"who": replica, "t": time.monotonic(), "pool": pool, "op": op, "ids": ids,
                           "token": runner.token if runner is not None else None})
        fd = os.open(audit, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, (line + "\n").encode())
        finally:
            os.close(fd)

    launch, terminate = LocalProvider.launch, LocalProvider.terminate
    begin, cancel = SharedFileDrainer.begin, SharedFileDrainer.cancel

    def audited_launch(self: LocalProvider, type: str, count: int, request_id: str) -> list[Instance]:
        made = launch(self, type, count, request_id)
        note(self.pool, "launch", [i.id for i in made])
        return made

    def audited_terminate(self: LocalProvider, ids: Any, request_id: str) -> None:
        note(self.pool, "terminate", list(ids))
        terminate(self, ids, request_id)

    def pool_of(drainer: SharedFileDrainer) -> str:
        return Path(drainer.path).stem.removeprefix("drains-")

    def audited_begin(self: SharedFileDrainer, instance: Instance) -> None:
        note(pool_of(self), "drain", [instance.id])
        begin(self, instance)

    def audited_cancel(self: SharedFileDrainer, instance: Instance) -> None:
        note(pool_of(self), "cancel", [instance.id])
        cancel(self, instance)

    LocalProvider.launch = audited_launch  # type: ignore[method-assign]
    LocalProvider.terminate = audited_terminate  # type: ignore[method-assign]
    SharedFileDrainer.begin = audited_begin  # type: ignore[method-assign,assignment]
    SharedFileDrainer.cancel = audited_cancel  # type: ignore[method-assign,assignment]


def main(argv: list[str]) -> int:
    registry.DRAINERS["sharedfile"] = __name__
    config, audit = argv[0], argv[1]
    configure_logging("info")
    controller = build_controller(load(config), log=False)
    assert controller.coordination is not None
    me = controller.coordination.coordinator
    runners = {r.name: r for r in controller.runners}
    _audited(audit, me.replica, runners)
    sys.stdout.write(json.dumps({"replica": me.replica}) + "\n")
    sys.stdout.flush()
    done = threading.Event()

    def report() -> None:
        while not done.wait(0.05):
            now = time.monotonic()
            acting = {}
            for p, r in runners.items():  # the token the runner acts under, while it may
                lease = me.lease(p)
                if r.token is not None and lease is not None and lease.token == r.token \
                        and me.may_act(p, now):
                    acting[p] = r.token
            sys.stdout.write(json.dumps({"t": now, "acting": acting}) + "\n")
            sys.stdout.flush()

    reporter = threading.Thread(target=report, daemon=True)
    reporter.start()
    try:
        controller.run()
    finally:
        done.set()
        controller.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

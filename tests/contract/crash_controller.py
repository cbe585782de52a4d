"""A controller process for the crash tests (``tests/e2e/test_crash_recovery.py``).

``python -m tests.contract.crash_controller CONFIG CYCLES`` builds the controller exactly as
``fleetscale run`` does (``app.build_controller``, which reads ``FLEETSCALE_CRASH_AT``) and
runs ``CYCLES`` cycles back to back. The test drainer kind ``crashfile`` keeps its state in a
JSON file that survives the process: which drains were begun or cancelled, and the live
sessions per instance (set by the test), so "never terminate an undrained instance" can be
checked from outside after a SIGKILL.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from fleetscale import registry
from fleetscale.app import build_controller
from fleetscale.config import load
from fleetscale.model import Instance


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    path: str


def read_state(path: str | Path) -> dict[str, Any]:
    p = Path(path)
    if not p.exists():
        return {"begun": [], "cancelled": [], "events": [], "sessions": {}}
    return json.loads(p.read_text())  # type: ignore[no-any-return]


def open_drains(state: dict[str, Any]) -> set[str]:
    """Instances whose last drain event is a begin (begin is idempotent: re-begin is no-op)."""
    last: dict[str, str] = {}
    for what, iid in state["events"]:
        last[iid] = what
    return {iid for iid, what in last.items() if what == "begin"}


def write_state(path: str | Path, state: dict[str, Any]) -> None:
    tmp = Path(f"{path}.tmp")
    tmp.write_text(json.dumps(state))
    os.replace(tmp, path)


class FileDrainer:
    def __init__(self, path: str) -> None:
        self.path = path

    def begin(self, instance: Instance) -> None:
        state = read_state(self.path)
        state["begun"].append(instance.id)
        state["events"].append(["begin", instance.id])
        write_state(self.path, state)

    def cancel(self, instance: Instance) -> None:
        state = read_state(self.path)
        state["cancelled"].append(instance.id)
        state["events"].append(["cancel", instance.id])
        write_state(self.path, state)

    def sessions(self, instance: Instance) -> int | None:
        return int(read_state(self.path)["sessions"].get(instance.id, 0))


def build(settings: Settings, ctx: Any) -> FileDrainer:
    return FileDrainer(settings.path)


def main(argv: list[str]) -> int:
    registry.DRAINERS["crashfile"] = __name__
    config, cycles = argv[0], int(argv[1])
    controller = build_controller(load(config), log=False)
    try:
        for _ in range(cycles):
            for record in controller.cycle():
                sys.stdout.write(json.dumps({"outcome": record.outcome, "errors": record.errors}) + "\n")
                sys.stdout.flush()
    finally:
        controller.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

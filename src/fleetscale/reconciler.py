"""The reconciler (pure): what must be repaired after a cycle has acted.

Each cycle, given the pool as the controller sees it, it decides:

- **finished drains**: a draining instance whose sessions reached 0 is terminated. With a
  drain deadline and ``on_deadline: terminate`` it is terminated once the deadline passed,
  whatever its sessions; with ``on_deadline: wait`` (the default) it keeps waiting: calls are
  never cut. Unknown sessions (None) count as busy.
- **boot timeouts**: an instance still pending (no address, or not registered when the pool
  requires registration) ``boot_timeout`` seconds after its launch is terminated.
- **unknown instances** (found tagged, but neither launched nor adopted by this controller,
  e.g. after a restart with a new journal): adopted, or with ``unknown_instances: terminate``
  drained first (a ready instance may carry sessions) and terminated once drained; an unknown
  instance still pending is terminated at once.
- **vanished drains**: drain records of instances the provider no longer lists are forgotten.

It never does I/O: the controller acts on the returned ``Repair``.
"""

from __future__ import annotations

from collections.abc import Mapping, Set
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from fleetscale.model import Instance, InstanceState


@dataclass(frozen=True, slots=True)
class Rules:
    boot_timeout: float = 600.0
    #: seconds a drain may take (None: no deadline)
    drain_deadline: float | None = None
    on_deadline: Literal["wait", "terminate"] = "wait"
    unknown_instances: Literal["adopt", "terminate"] = "adopt"


@dataclass(frozen=True, slots=True)
class Repair:
    #: (instance id, reason) to terminate now
    terminate: tuple[tuple[str, str], ...] = ()
    #: unknown instances to adopt (remember as ours)
    adopt: tuple[str, ...] = ()
    #: (instance id, reason) to begin draining (unknown instances under ``terminate``)
    drain: tuple[tuple[str, str], ...] = ()
    #: drain records whose instance is gone
    forget_drains: tuple[str, ...] = ()
    #: things worth telling the operator that need no action
    notes: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        return not (self.terminate or self.adopt or self.drain or self.forget_drains)


def reconcile(
    now: datetime,
    instances: tuple[Instance, ...],
    drains: Mapping[str, datetime],
    sessions: Mapping[str, int | None],
    known: Set[str],
    rules: Rules,
    first_seen: Mapping[str, datetime] | None = None,
    marked_to_stop: Set[str] = frozenset(),
    *,
    reads_ok: bool = True,
) -> Repair:
    """``instances`` as the controller sees them (draining and unregistered overlaid);
    ``drains`` maps draining ids to the drain's start; ``sessions`` the live sessions of
    draining instances (None or missing: unknown); ``marked_to_stop`` the instances a source
    reports ``to_stop`` (an earlier controller began their drain, e.g. before its journal was
    lost): adopting one resumes its drain instead of counting it as capacity. While a read
    failed (``reads_ok`` false), an instance the provider has addressed but no source has
    seen registered is not timed out: unknown is not unregistered, and an outage must never
    cut a live fleet."""
    first_seen = first_seen or {}
    terminate: list[tuple[str, str]] = []
    drain: list[tuple[str, str]] = []
    adopt: list[str] = []
    notes: list[str] = []
    listed = {i.id for i in instances}

    for inst in instances:
        if inst.state in (InstanceState.TERMINATING, InstanceState.GONE):
            continue
        if inst.id in drains:
            verdict = _drain_verdict(inst, now, drains[inst.id], sessions.get(inst.id), rules)
            if verdict[0] == "terminate":
                terminate.append((inst.id, verdict[1]))
            elif verdict[1]:
                notes.append(verdict[1])
            continue
        if inst.state in (InstanceState.PENDING, InstanceState.FAILED):
            since = inst.launched_at or first_seen.get(inst.id)
            waited = (now - since).total_seconds() if since else 0.0
            if inst.state is InstanceState.FAILED:
                terminate.append((inst.id, "instance failed"))
                continue
            if waited > rules.boot_timeout and (reads_ok or inst.address is None):
                why = "no address" if inst.address is None else "not registered"
                terminate.append((inst.id, f"not ready after {waited:.0f} s ({why}); "
                                           f"boot_timeout {rules.boot_timeout:.0f} s"))
                continue
        if inst.id not in known:
            if rules.unknown_instances == "adopt":
                adopt.append(inst.id)
                if inst.id in marked_to_stop and inst.state is InstanceState.READY:
                    drain.append((inst.id, "adopted while marked to_stop: resuming its drain"))
            elif inst.state is InstanceState.PENDING:
                terminate.append((inst.id, "unknown instance (unknown_instances: terminate)"))
            else:
                drain.append((inst.id, "unknown instance (unknown_instances: terminate): drain first"))

    forget = tuple(sorted(i for i in drains if i not in listed))
    return Repair(tuple(terminate), tuple(adopt), tuple(drain), forget, tuple(notes))


def _drain_verdict(
    inst: Instance, now: datetime, began: datetime, sessions: int | None, rules: Rules
) -> tuple[str, str]:
    took = (now - began).total_seconds()
    if sessions == 0:
        return "terminate", f"drained: 0 sessions after {took:.0f} s"
    shown = "unknown" if sessions is None else str(sessions)
    if rules.drain_deadline is not None and took >= rules.drain_deadline:
        if rules.on_deadline == "terminate":
            return "terminate", (f"drain deadline {rules.drain_deadline:.0f} s passed with {shown} sessions "
                                 f"(on_deadline: terminate)")
        return "wait", (f"{inst.id}: drain past its deadline ({took:.0f} s), waiting for {shown} sessions "
                        f"(on_deadline: wait)")
    return "wait", ""

"""Acting on a cycle's actions (I/O): each action becomes one provider or drainer call, written
ahead as an intent when the pool has a write-ahead log. Never raises: a failed call is a
``Result`` with its error, and the rest of the actions still run."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from fleetscale.cycle import Action, Result
from fleetscale.journal.write_ahead import WriteAhead
from fleetscale.model import Instance
from fleetscale.observe import describe
from fleetscale.ports import Drainer, Provider


class Actor:
    def __init__(self, provider: Provider, drainer: Drainer, wal: WriteAhead | None = None) -> None:
        self.provider = provider
        self.drainer = drainer
        self.wal = wal

    def act(self, actions: Sequence[Action], view: Mapping[str, Instance]) -> list[Result]:
        return [self._one(a, view) for a in actions]

    def _one(self, a: Action, view: Mapping[str, Instance]) -> Result:
        try:
            if a.kind == "launch":
                if self.wal is not None:
                    made = self.wal.launch(a.targets[0], a.count, a.request_id)
                else:
                    made = list(self.provider.launch(a.targets[0], a.count, a.request_id))
                return Result(a, True, made=tuple(made))
            if a.kind == "terminate":
                if self.wal is not None:
                    self.wal.terminate(list(a.targets), a.request_id)
                else:
                    self.provider.terminate(list(a.targets), a.request_id)
                return Result(a, True)
            inst = view.get(a.targets[0])
            if inst is None:
                return Result(a, False, error="no such instance")
            if a.kind == "drain":
                if self.wal is not None:
                    self.wal.begin_drain(inst)
                else:
                    self.drainer.begin(inst)
            elif self.wal is not None:
                self.wal.cancel_drain(inst)
            else:
                self.drainer.cancel(inst)
            return Result(a, True)
        except Exception as exc:
            return Result(a, False, error=describe(exc))

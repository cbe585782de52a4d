"""What a policy is, as types: one ``propose`` signature for every policy.

- ``Proposer``: anything that proposes. ``propose(snapshot, ctx, state, label)`` returns the
  policy's ``Proposal`` (named ``label``) and its next state. ``state`` is the policy's own
  value from ``Memory.policies[label]`` (``None`` on the first cycle), returned unchanged by a
  policy that remembers nothing.
- ``Policy``: a policy specification (a frozen dataclass from the configuration). It is a
  ``Proposer`` itself (computing its constants on each call, handy in tests), names the
  metrics it reads (their failures and staleness stop scale-down), and ``compile``s, for a
  pool's ``unit_capacity``, into an equivalent ``Proposer`` whose constants (per-unit
  targets and their texts, a schedule's weekly timeline, a forecast's table sizes) are
  computed once. ``decide.compile_spec`` compiles every policy of a spec; the caller keeps the
  result, so nothing is cached inside decision code.
"""

from __future__ import annotations

from typing import Protocol

from fleetscale.model import Proposal, Snapshot
from fleetscale.policy.context import PolicyContext


class Proposer(Protocol):
    def propose(
        self, snapshot: Snapshot, ctx: PolicyContext, state: object, label: str
    ) -> tuple[Proposal, object]: ...


class Policy(Proposer, Protocol):
    @property
    def kind(self) -> str: ...

    @property
    def name(self) -> str | None: ...

    @property
    def metrics(self) -> tuple[str, ...]: ...

    def compile(self, unit_capacity: float) -> Proposer: ...

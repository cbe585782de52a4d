"""Policy ``cycles`` (pure): the seed DynoScaler's counters, for drop-in parity.

Reproduces ``DynoScaler._scale_up``/``_scale_down``/``run`` of the seed
(github.com/JuanCatica/DynoScaler, ``DynoScalerQSQ.py``), whose README we were given:

    backlog per instance = messages / active dynos
    if backlog per instance >= threshold:            # ">=": equality counts as above
        if up_cnt >= up_cycles: up_cnt = down_cnt = 0; add one dyno
        else: up_cnt += 1; down_cnt = max(0, down_cnt - 1)
    else:
        if down_cnt >= down_cycles: up_cnt = down_cnt = 0; remove one dyno
        else: down_cnt += 1; up_cnt = max(0, up_cnt - 1)

Choices, with reasons (docs/decisions.md repeats them):

- Counters never go negative: the seed's code clamps the decreased counter at 0. (Unclamped,
  a quiet night would leave up_cnt at -600 and the morning spike would wait 600 cycles.)
- After an action both counters go back to 0, as in the seed: the next step needs a fresh
  run of agreeing cycles, so the pool moves one dyno at a time.
- Timing: the seed checks the counter *before* counting, so with ``up_cycles: 3`` the dyno
  is added on the 4th consecutive cycle above the threshold. ``immediate: true`` acts on the
  cycle the counter reaches ``up_cycles`` instead (the README's wording).
- Zero active dynos: the seed divides by zero. Here a backlog > 0 with 0 dynos is above the
  threshold (infinite backlog per dyno); an empty queue with 0 dynos is 0 per dyno.
- No data: the policy abstains and the counters stay as they were (the seed skips the cycle).
- Extra cycles (a source reported a change between scheduled cycles) are not the seed's
  cycles: the counters neither count nor act on them, and the policy proposes to keep the
  current units, so notifications never make the pool move faster than the seed would.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from fleetscale.model import Proposal, Snapshot
from fleetscale.policy.context import PolicyContext, fmt


@dataclass(frozen=True, slots=True)
class CyclesState:
    up_cnt: int = 0
    down_cnt: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class CyclesPolicy:
    kind: Literal["cycles"] = "cycles"
    name: str | None = None
    #: the queue length metric (DynoScaler: SQS ApproximateNumberOfMessagesVisible)
    metric: str = "backlog"
    #: DYNOSCALER_BACKLOG_THRESHOLD: messages each dyno is expected to handle
    threshold: float = 100.0
    #: DYNOSCALER_UP_CYCLES / DYNOSCALER_DOWN_CYCLES: accumulated cycles before acting
    up_cycles: int = 1
    down_cycles: int = 1
    #: act in the cycle the counter reaches the limit (README) instead of the next one (seed code)
    immediate: bool = False

    def __post_init__(self) -> None:
        if self.threshold < 0:
            raise ValueError(f"threshold must be >= 0 (got {self.threshold})")
        if self.up_cycles < 0 or self.down_cycles < 0:
            raise ValueError(
                f"up_cycles and down_cycles must be >= 0 (got {self.up_cycles}, {self.down_cycles})"
            )

    @property
    def metrics(self) -> tuple[str, ...]:
        return (self.metric,)

    def compile(self, unit_capacity: float) -> CyclesPolicy:
        """Nothing to precompute: the policy proposes as it is."""
        return self

    def propose(
        self, snapshot: Snapshot, ctx: PolicyContext, state: object, label: str
    ) -> tuple[Proposal, object]:
        st = state if isinstance(state, CyclesState) else CyclesState()
        if not snapshot.scheduled:
            return Proposal(label, ctx.current, f"extra cycle: the counters count scheduled cycles "
                                                f"only; kept -> keep {ctx.current}"), st
        reading = ctx.reading(self.metric)
        if reading.total is None:
            return Proposal(label, None, f"no usable {self.metric} ({reading.problem}); counters kept"), st
        messages = reading.total
        dynos = ctx.current
        per = messages / dynos if dynos > 0 else float("inf") if messages > 0 else 0.0
        above = per >= self.threshold
        up, down = st.up_cnt, st.down_cnt
        head = f"{self.metric} {fmt(messages)} / {dynos} -> {fmt(per)} per instance"
        if above:
            if not self.immediate and up >= self.up_cycles:
                return self._act(
                    label, dynos + 1, f"{head} >= {fmt(self.threshold)}; up {up}/{self.up_cycles}"
                )
            up, down = up + 1, max(0, down - 1)
            if self.immediate and up >= self.up_cycles:
                return self._act(
                    label, dynos + 1, f"{head} >= {fmt(self.threshold)}; up {up}/{self.up_cycles}"
                )
            text = (
                f"{head} >= {fmt(self.threshold)}; up {up}/{self.up_cycles}, down {down}/{self.down_cycles}"
            )
        else:
            if not self.immediate and down >= self.down_cycles:
                return self._act(
                    label, dynos - 1, f"{head} < {fmt(self.threshold)}; down {down}/{self.down_cycles}"
                )
            down, up = down + 1, max(0, up - 1)
            if self.immediate and down >= self.down_cycles:
                return self._act(
                    label, dynos - 1, f"{head} < {fmt(self.threshold)}; down {down}/{self.down_cycles}"
                )
            text = f"{head} < {fmt(self.threshold)}; down {down}/{self.down_cycles}, up {up}/{self.up_cycles}"
        return Proposal(label, dynos, f"{text} -> keep {dynos}"), CyclesState(up, down)

    @staticmethod
    def _act(label: str, desired: int, text: str) -> tuple[Proposal, CyclesState]:
        desired = max(0, desired)
        return Proposal(label, desired, f"{text} -> {desired} units; counters reset"), CyclesState(0, 0)

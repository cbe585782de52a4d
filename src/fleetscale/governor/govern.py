"""The governor (pure): from the policies' combined desire to the decided capacity.

``govern(demand, rules, memory) -> Outcome``: ``demand`` is this cycle's input (time, units,
the combined desire, data problems), ``rules`` the pool's compiled governor constants
(``governor/compiled.py``, built once per spec), ``memory`` what earlier cycles left.

Order of the rules (each appends a readable step when it acts):

1. manual override (hold at N until a time; only the pool's min/max still apply)
2. bounds: min/max and the schedule's floor/ceiling -> the bounded desire
3. stale or failed data -> no scale-down; the result is what the stabilisation window records
   and hysteresis counts (a desire the data cannot be trusted for is not remembered)
4. stabilisation windows (a fresh memory waits one down window before shrinking),
5. hysteresis, 6. cooldown, 7. step limits, 8. pause
9. bounds again, absolutely (a floor raised at 08:00 applies at once, whatever 4-8 said)
10. warm-up: a note when booting units count as capacity (they are already in ``current``)

An extra cycle (``demand.scheduled`` False: a source reported a change between scheduled
cycles) neither advances nor resets the hysteresis streaks, and passes hysteresis only where
the scheduled cycles have met it already (or it asks for one cycle; ``hysteresis.wait_extra``).
Its desire is checked against the stabilisation window but not remembered in it, so an extra
cycle that does not act leaves the memory as it was. The other rules are in time and apply
as always.
"""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

from fleetscale.governor import bounds, cooldown, hysteresis, manual, stabilisation, stale, steplimit, warmup
from fleetscale.governor.compiled import CompiledGovernor
from fleetscale.governor.memory import GovernorMemory
from fleetscale.policy.combine import Combined


class Demand(NamedTuple):
    """One cycle's input to the governor (a NamedTuple: immutable, and the cheapest value to
    build once per cycle)."""

    now: datetime
    #: the pool's units: ready + pending
    current: int
    #: of which still booting
    pending: int
    #: the policies' combined desire, floor and ceiling
    combined: Combined
    #: why the data cannot be trusted to shrink the pool (empty: it can)
    problems: tuple[str, ...] = ()
    #: False for an extra cycle (``reaction.py``): rules counted in cycles count scheduled ones
    scheduled: bool = True


class Outcome(NamedTuple):
    desired: int
    #: the desire after bounds, before the dynamic rules
    wanted: int
    memory: GovernorMemory
    steps: tuple[str, ...]


def govern(demand: Demand, rules: CompiledGovernor, memory: GovernorMemory) -> Outcome:
    now, current, combined = demand.now, demand.current, demand.combined
    override = rules.override
    if override is not None and manual.override_active(override.until, now):
        return _overridden(override, demand, rules, memory)

    steps: list[str] = []
    floor, ceiling = combined.floor, combined.ceiling
    if floor is None and ceiling is None:
        lo, hi = rules.plain_bounds
    else:
        lo, hi = bounds.effective(rules.pool_min, rules.pool_max, floor, ceiling)
    raw = combined.desired if combined.desired is not None else current
    wanted = raw if lo <= raw <= hi else _bounded(raw, lo, hi, combined, rules, steps)
    desired = wanted
    if demand.problems and desired < current:
        desired, step = stale.no_shrink(desired, current, demand.problems)
        if step:
            steps.append(step)
    # what the window and the streaks remember is the desire the data can be trusted for
    if demand.scheduled:
        up_streak, down_streak = hysteresis.streaks(desired, current, memory.up_streak, memory.down_streak)
    else:  # an extra cycle: the streaks count scheduled cycles only
        up_streak, down_streak = memory.up_streak, memory.down_streak
    desires = stabilisation.record(memory.desires, now, desired, rules.window_keep)
    if desired != current:
        desired = _dynamic(desired, demand, rules, memory, desires, up_streak, down_streak, steps)
    final = desired if lo <= desired <= hi else _bounded(desired, lo, hi, combined, rules, steps)
    if demand.pending:
        note = warmup.note(final, current, demand.pending)
        if note:
            steps.append(note)
    if not demand.scheduled:  # the window remembers scheduled cycles only; acting restarts the streaks
        desires = memory.desires
        if final != current:
            up_streak = down_streak = 0
    mem = _after(memory, now, current, final, rules, up_streak, down_streak, desires)
    return Outcome(final, wanted, mem, tuple(steps))


def _overridden(
    override: manual.Override, demand: Demand, rules: CompiledGovernor, memory: GovernorMemory
) -> Outcome:
    """The operator holds the pool: only the pool's own min/max still apply."""
    desired, step = bounds.clamp(override.hold, rules.pool_min, rules.pool_max, "pool min", "pool max")
    until = f"{override.until:%Y-%m-%d %H:%M %Z}"
    steps = [f"override: the operator holds the pool at {override.hold} units until {until}"]
    if step:
        steps.append(step)
    desires = stabilisation.record(memory.desires, demand.now, desired, rules.window_keep)
    mem = _after(memory, demand.now, demand.current, desired, rules, 0, 0, desires)
    return Outcome(desired, desired, mem, tuple(steps))


def _dynamic(
    desired: int,
    demand: Demand,
    rules: CompiledGovernor,
    memory: GovernorMemory,
    desires: tuple[tuple[datetime, int], ...],
    up_streak: int,
    down_streak: int,
    steps: list[str],
) -> int:
    """Rules 4-8 (stabilisation, hysteresis, cooldown, step limits, pause) on a change."""
    now, current = demand.now, demand.current
    up, down = rules.up, rules.down
    desired, step = stabilisation.stabilise(
        desired, current, desires, now, up.window, down.window, memory.since or now
    )
    if step:
        steps.append(step)
    if desired != current:
        hold = (hysteresis.wait if demand.scheduled else hysteresis.wait_extra)(
            desired, current, up_streak, down_streak, up.rules.hysteresis, down.rules.hysteresis
        ) or cooldown.cooling(
            desired,
            current,
            now,
            memory.last_up_at,
            memory.last_down_at,
            up.rules.cooldown,
            down.rules.cooldown,
        )
        if hold:
            steps.append(hold)
            desired = current
    if desired != current:
        desired, step = steplimit.limit(desired, current, memory.changes, now, up, down)
        if step:
            steps.append(step)
    if desired != current:
        hold = manual.paused(desired, current, rules.paused)
        if hold:
            steps.append(hold)
            desired = current
    return desired


def _bounded(
    desired: int, lo: int, hi: int, combined: Combined, rules: CompiledGovernor, steps: list[str]
) -> int:
    """``desired`` within [lo, hi]; a step says where the bound it met comes from."""
    floor, ceiling = combined.floor, combined.ceiling
    lo_text = combined.floor_reason if floor is not None and floor >= rules.pool_min else "pool min"
    hi_text = combined.ceiling_reason if ceiling is not None and ceiling <= rules.pool_max else "pool max"
    bounded, step = bounds.clamp(desired, lo, hi, lo_text, hi_text)
    if step:
        steps.append(step)
    return bounded


def _after(
    memory: GovernorMemory,
    now: datetime,
    current: int,
    final: int,
    rules: CompiledGovernor,
    up_streak: int,
    down_streak: int,
    desires: tuple[tuple[datetime, int], ...],
) -> GovernorMemory:
    """The memory after this cycle (the same object when nothing changed)."""
    last_up, last_down = memory.last_up_at, memory.last_down_at
    if final > current:
        last_up, up_streak = now, 0
    elif final < current:
        last_down, down_streak = now, 0
    changes = memory.changes
    if rules.change_keep:
        changes = steplimit.record(changes, now, final - current, rules.change_keep)
    elif changes:
        changes = ()
    since = memory.since
    if since is None or since > now:
        since = now
    if (
        desires is memory.desires
        and changes is memory.changes
        and up_streak == memory.up_streak
        and down_streak == memory.down_streak
        and last_up is memory.last_up_at
        and last_down is memory.last_down_at
        and since is memory.since
    ):
        return memory
    return GovernorMemory(up_streak, down_streak, desires, last_up, last_down, changes, since)

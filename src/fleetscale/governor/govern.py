"""The governor (pure): from the policies' combined desire to the decided capacity.

Order of the rules (each appends a readable step when it acts):

1. manual override (hold at N until a time; only the pool's min/max still apply)
2. bounds: min/max and the schedule's floor/ceiling -> the bounded desire
3. stale or failed data -> no scale-down; the result is what the stabilisation window records
   and hysteresis counts (a desire the data cannot be trusted for is not remembered)
4. stabilisation windows (a fresh memory waits one down window before shrinking),
5. hysteresis, 6. cooldown, 7. step limits, 8. pause
9. bounds again, absolutely (a floor raised at 08:00 applies at once, whatever 4-8 said)
10. warm-up: a note when booting units count as capacity (they are already in ``current``)

An extra cycle (``scheduled`` False: a source reported a change between scheduled cycles)
neither advances nor resets the hysteresis streaks, and passes hysteresis only where the
scheduled cycles have met it already (or it asks for one cycle; ``hysteresis.wait_extra``).
Its desire is checked against the stabilisation window but not remembered in it, so an extra
cycle that does not act leaves the memory as it was. The other rules are in time and apply
as always.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import NamedTuple

from fleetscale.governor import bounds, cooldown, hysteresis, manual, stabilisation, stale, steplimit, warmup
from fleetscale.governor.memory import GovernorMemory
from fleetscale.governor.settings import GovernorSettings
from fleetscale.policy.combine import Combined


class Outcome(NamedTuple):
    desired: int
    #: the desire after bounds, before the dynamic rules
    wanted: int
    memory: GovernorMemory
    steps: tuple[str, ...]


class _Keeps(NamedTuple):
    """Per-settings constants (settings are immutable), computed once per settings object."""

    settings: GovernorSettings
    #: history the settings need: the longest stabilisation window, the longest step period
    window: timedelta
    change: timedelta


#: keyed by the settings' id; each entry holds its settings (so the id is not reused while
#: cached) and is only ever added whole: a value cache, safe across threads
_KEEPS: dict[int, _Keeps] = {}


def _keeps(settings: GovernorSettings) -> _Keeps:
    """How much history the settings need: (stabilisation window, step period), cached per
    settings object."""
    hit = _KEEPS.get(id(settings))
    if hit is not None and hit.settings is settings:
        return hit
    window = max(settings.up.stabilisation, settings.down.stabilisation)
    period = 0.0
    if steplimit.limited(settings.up):
        period = settings.up.step_period
    if steplimit.limited(settings.down):
        period = max(period, settings.down.step_period)
    if len(_KEEPS) > 256:
        _KEEPS.clear()
    keeps = _Keeps(settings, timedelta(seconds=window), timedelta(seconds=period))
    _KEEPS[id(settings)] = keeps
    return keeps


def govern(
    now: datetime,
    current: int,
    pending: int,
    combined: Combined,
    pool_min: int,
    pool_max: int,
    settings: GovernorSettings,
    memory: GovernorMemory,
    problems: tuple[str, ...],
    paused: frozenset[str],
    override_hold: int | None,
    override_until: datetime | None,
    scheduled: bool = True,
) -> Outcome:
    steps: list[str] = []
    _, window_keep, change_keep = _keeps(settings)

    if (
        override_until is not None
        and override_hold is not None
        and manual.override_active(override_until, now)
    ):
        desired, step = bounds.clamp(override_hold, pool_min, pool_max, "pool min", "pool max")
        until = f"{override_until:%Y-%m-%d %H:%M %Z}"
        steps.append(f"override: the operator holds the pool at {override_hold} units until {until}")
        if step:
            steps.append(step)
        mem = _after(memory, now, current, desired, desired, 0, 0, window_keep, change_keep)
        return Outcome(desired, desired, mem, tuple(steps))

    proposed, _, floor, ceiling, _, _ = combined
    # bounds.effective, inlined
    lo = pool_min if floor is None else max(pool_min, floor)
    hi = pool_max if ceiling is None else min(pool_max, ceiling)
    if lo > pool_max:
        lo = pool_max
    if hi < lo:
        hi = lo
    raw = proposed if proposed is not None else current
    wanted = raw
    if not lo <= raw <= hi:
        wanted, step = bounds.clamp(raw, lo, hi, *_bound_texts(combined, pool_min, pool_max))
        steps.append(step)  # type: ignore[arg-type]
    desired = wanted
    if problems and desired < current:
        desired, step = stale.no_shrink(desired, current, problems)
        if step:
            steps.append(step)
    # what the window and the streaks remember is the desire the data can be trusted for
    # (hysteresis.streaks, inlined)
    if not scheduled:  # an extra cycle: the streaks count scheduled cycles only
        up_streak, down_streak = memory.up_streak, memory.down_streak
    elif desired > current:
        up_streak, down_streak = memory.up_streak + 1, 0
    elif desired < current:
        up_streak, down_streak = 0, memory.down_streak + 1
    else:
        up_streak = down_streak = 0
    desires = stabilisation.record(memory.desires, now, desired, window_keep)
    if desired != current:
        up, down = settings.up, settings.down
        desired, step = stabilisation.stabilise(
            desired,
            current,
            desires,
            now,
            up.stabilisation,
            down.stabilisation,
            memory.since or now,
        )
        if step:
            steps.append(step)
        if desired != current:
            hold = (hysteresis.wait if scheduled else hysteresis.wait_extra)(
                desired, current, up_streak, down_streak, up.hysteresis, down.hysteresis
            ) or cooldown.cooling(
                desired,
                current,
                now,
                memory.last_up_at,
                memory.last_down_at,
                up.cooldown,
                down.cooldown,
            )
            if hold:
                steps.append(hold)
                desired = current
        if desired != current:
            desired, step = steplimit.limit(desired, current, memory.changes, now, up, down)
            if step:
                steps.append(step)
        if desired != current:
            hold = manual.paused(desired, current, paused)
            if hold:
                steps.append(hold)
                desired = current
    final = desired
    if not lo <= desired <= hi:
        final, step = bounds.clamp(desired, lo, hi, *_bound_texts(combined, pool_min, pool_max))
        steps.append(step)  # type: ignore[arg-type]
    if pending:
        note = warmup.note(final, current, pending)
        if note:
            steps.append(note)
    if not scheduled:  # the window remembers scheduled cycles only; acting restarts the streaks
        desires = memory.desires
        if final != current:
            up_streak = down_streak = 0
    mem = _after(
        memory, now, current, final, wanted, up_streak, down_streak, window_keep, change_keep, desires
    )
    return _tuple_new(Outcome, (final, wanted, mem, tuple(steps) if steps else ()))


#: ``Outcome(*fields)`` without the generated ``__new__`` frame (the same value)
_tuple_new = tuple.__new__


def _bound_texts(combined: Combined, pool_min: int, pool_max: int) -> tuple[str, str]:
    """Where the effective minimum and maximum come from, for the step text."""
    floor, ceiling = combined.floor, combined.ceiling
    lo_text = combined.floor_reason if floor is not None and floor >= pool_min else "pool min"
    hi_text = combined.ceiling_reason if ceiling is not None and ceiling <= pool_max else "pool max"
    return lo_text, hi_text


def _after(
    memory: GovernorMemory,
    now: datetime,
    current: int,
    final: int,
    wanted: int,
    up_streak: int,
    down_streak: int,
    window_keep: timedelta,
    change_keep: timedelta,
    desires: tuple[tuple[datetime, int], ...] | None = None,
) -> GovernorMemory:
    if desires is None:
        desires = stabilisation.record(memory.desires, now, wanted, window_keep)
    last_up, last_down = memory.last_up_at, memory.last_down_at
    if final > current:
        last_up, up_streak = now, 0
    elif final < current:
        last_down, down_streak = now, 0
    changes = memory.changes
    if change_keep:
        changes = steplimit.record(changes, now, final - current, change_keep)
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
